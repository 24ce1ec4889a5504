//! A bulk job's progress, refreshing itself while it runs, and the items it refused.

use crate::console::page::{self, count, json_cell, when, words, Section};
use crate::console::{ask, Answer, Visitor};
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::html;
use serde_json::json;

const QUERY: &str =
    "query($id: ID!) { bulkJob(id: $id) { id list action reason total done noOp refused \
    processed status startedAt endedAt cancelReason \
    items(first: 100, outcome: REFUSED) { nodes { id code message } } } }";

pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Answer {
    let data = ask(&state, &visitor, QUERY, json!({ "id": id })).await?;
    let job = &data["bulkJob"];
    if job.is_null() {
        return Err(page::refusal(
            StatusCode::NOT_FOUND,
            &format!("There is no bulk job `{id}` of yours."),
        ));
    }
    let total = job["total"].as_i64().unwrap_or(0);
    let processed = job["processed"].as_i64().unwrap_or(0);
    let running = job["status"] == "RUNNING";
    let body = html! {
        @if running { p data-refresh="2" class="muted" { "Running: this page refreshes itself." } }
        p { (words(&json_cell(&job["action"]))) " over " (json_cell(&job["list"])) ": “" (json_cell(&job["reason"])) "”" }
        progress max=(total.max(1)) value=(processed) aria-label="Items processed" {}
        p {
            (count(processed)) " of " (count(total)) " processed: "
            strong { (job["done"]) } " done, " strong { (job["noOp"]) } " already so, " strong { (job["refused"]) } " refused. "
            "Started " (when(&json_cell(&job["startedAt"])))
            @if job["endedAt"].is_string() { ", ended " (when(&json_cell(&job["endedAt"]))) }
            " (" (words(&json_cell(&job["status"]))) ")."
        }
        @let refused = job["items"]["nodes"].as_array().cloned().unwrap_or_default();
        @if !refused.is_empty() {
            h2 { "Refused items" }
            table class="results" {
                thead { tr { th { "Item" } th { "Code" } th { "Message" } } }
                tbody { @for item in &refused { tr { td { code { (json_cell(&item["id"])) } } td { code { (json_cell(&item["code"])) } } td { (json_cell(&item["message"])) } } } }
            }
        }
    };
    Ok(page::page(&visitor, "Bulk job", Section::None, body))
}

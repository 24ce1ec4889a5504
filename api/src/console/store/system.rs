//! System health: each projection's position, lag and any event it is stuck at, and the seal
//! chain (how far it has got, its latest signed checkpoint, the last verification).

use crate::console::page::{self, count, field, when, Section};
use crate::console::{ask, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Value};

const QUERY: &str = "query($audit: Boolean!) { projections { name position eventsApplied pending lagSeconds updatedAt \
    stuck { position eventType cause since } } \
    sealStatus @include(if: $audit) { sealed sealedThrough \
      latestCheckpoint { chainIndex position signedAt } \
      lastVerification { finishedAt eventsChecked ok breakPosition breakReason } } }";

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(Rule::Staff, "the system's health")?;
    let audit = Rule::Can(Permission::AuditRead).allows(&visitor.principal);
    let data = ask(&state, &visitor, QUERY, json!({ "audit": audit })).await?;
    let projections = data["projections"].as_array().cloned().unwrap_or_default();
    let seal = &data["sealStatus"];
    let number = |row: &Value, name: &str| html! { (count(row[name].as_i64().unwrap_or(0))) };
    let body = html! {
        h2 { "Projections" }
        (page::table("projections", &projections, &[
            ("Read model", &|p| html! { code { (field(p, "name")) } }),
            ("Position", &|p| number(p, "position")),
            ("Events applied", &|p| number(p, "eventsApplied")),
            ("Pending", &|p| number(p, "pending")),
            ("Lag", &|p| html! { (format!("{:.1}", p["lagSeconds"].as_f64().unwrap_or(0.0))) " s" }),
            ("Stuck", &|p| html! {
                @if p["stuck"].is_object() {
                    span class="severity-critical" { "at " (p["stuck"]["position"]) " (" code { (field(&p["stuck"], "eventType")) } ") since "
                        (when(&field(&p["stuck"], "since"))) ": " (field(&p["stuck"], "cause")) }
                } @else { "no" }
            }),
        ]))
        @if seal.is_object() {
            h2 { "Seal chain" }
            dl class="facts" {
                dt { "Events sealed" } dd { (count(seal["sealed"].as_i64().unwrap_or(0))) " (through position " (page::json_cell(&seal["sealedThrough"])) ")" }
                dt { "Latest signed checkpoint" } dd {
                    @if seal["latestCheckpoint"].is_object() {
                        "position " (seal["latestCheckpoint"]["position"]) ", signed " (when(&field(&seal["latestCheckpoint"], "signedAt")))
                    } @else { "none yet" }
                }
                dt { "Last verification" } dd {
                    @let run = &seal["lastVerification"];
                    @if run.is_object() {
                        @if run["ok"] == true {
                            span class="status-healthy" { "the log verifies" }
                        } @else {
                            span class="severity-critical" { "broken at position " (page::json_cell(&run["breakPosition"])) ": " (field(run, "breakReason")) }
                        }
                        " (" (count(run["eventsChecked"].as_i64().unwrap_or(0))) " events, " (when(&field(run, "finishedAt"))) ")"
                    } @else { "not run yet (" code { "igny8-admin verify" } ")" }
                }
            }
        }
    };
    Ok(page::page(&visitor, "System health", Section::System, body))
}

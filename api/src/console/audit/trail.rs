//! The audit trail: every recorded change, newest first, filtered by actor, action, aggregate
//! and account, with its export.

use crate::console::page::{self, json_cell, when, Section};
use crate::console::{ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map};

const QUERY: &str = "query($after: String, $filter: AuditFilter) { \
    auditLog(first: 50, after: $after, filter: $filter) { pageInfo { hasNextPage endCursor } \
    nodes { position occurredAt actorId actorKind action aggregateType aggregateId accountId reason } } }";

const FILTERS: [(&str, &str); 5] = [
    ("actorId", "Actor"),
    ("action", "Action"),
    ("aggregateType", "Aggregate type"),
    ("aggregateId", "Aggregate id"),
    ("accountId", "Account id"),
];

pub async fn page(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    visitor.require(Rule::Can(Permission::AuditRead), "the audit trail")?;
    let mut filter = Map::new();
    for (field, _) in FILTERS {
        if let Some(value) = params.one(field) {
            filter.insert(field.into(), json!(value));
        }
    }
    let data = ask(
        &state,
        &visitor,
        QUERY,
        json!({ "after": params.one("after"), "filter": filter }),
    )
    .await?;
    let entries = data["auditLog"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kept: Vec<String> = FILTERS
        .iter()
        .filter_map(|(field, _)| params.one(field).map(|v| format!("{field}={}", encode(&v))))
        .collect();
    let base = if kept.is_empty() {
        "/audit".to_string()
    } else {
        format!("/audit?{}", kept.join("&"))
    };
    let body = html! {
        form method="get" action="/audit" class="filters" role="search" {
            @for (field, label) in FILTERS {
                label class="field" { span { (label) } input type="text" name=(field) value=[params.one(field)]; }
            }
            button type="submit" { "Filter" }
            a href="/audit" { "Clear" }
        }
        p { "Export: "
            a href={ "/export/audit-log?format=csv" @for pair in &kept { "&" (pair) } } download { "CSV" } " · "
            a href={ "/export/audit-log?format=xlsx" @for pair in &kept { "&" (pair) } } download { "XLSX" } }
        table {
            thead { tr { th class="num" { "Position" } th { "When" } th { "Who" } th { "Action" } th { "What" } th { "Why" } } }
            tbody {
                @for entry in &entries {
                    tr {
                        td class="num" { (entry["position"]) }
                        td { (when(&json_cell(&entry["occurredAt"]))) }
                        td { (json_cell(&entry["actorKind"])) " " code { (json_cell(&entry["actorId"])) } }
                        td { code { (json_cell(&entry["action"])) } }
                        td {
                            (json_cell(&entry["aggregateType"])) " "
                            @if entry["aggregateType"] == "account" {
                                a href={ "/accounts/" (json_cell(&entry["aggregateId"])) } { (json_cell(&entry["aggregateId"])) }
                            } @else { code { (json_cell(&entry["aggregateId"])) } }
                        }
                        td { (entry["reason"].as_str().unwrap_or("")) }
                    }
                }
            }
        }
        (page::pager(&base, &data["auditLog"]["pageInfo"]))
    };
    Ok(page::page(&visitor, "Audit trail", Section::Audit, body))
}

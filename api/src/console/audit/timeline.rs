//! The history timeline of one record (an account, an invoice, a payment, a subscription):
//! each version with who, when, why and its field-level changes, and the "as of" control that
//! shows the record as the log had it at a moment. A record's page selects [`FIELDS`] on its
//! node (or asks [`query`]), passes [`variables`] to [`ask_record`] and renders [`timeline`].

use crate::console::page::{self, count, json_cell, when};
use crate::console::session::Visitor;
use crate::console::{ask, encode, try_ask, Params};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use domain::identity::permission::Permission;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

/// The variables [`FIELDS`] uses, for the page's query to declare.
pub const VARIABLES: &str = "$after: String, $audit: Boolean!";

/// The history of a node that has one, asked only of auditors.
pub const FIELDS: &str = "history(first: 20, after: $after) @include(if: $audit) { \
      pageInfo { hasNextPage endCursor } \
      nodes { version actorId actorKind occurredAt recordedAt reason events { eventType } \
              changes { path kind old new } } }";

const AS_OF: &str = "query($type: String!, $id: ID!, $at: DateTime!) { \
    aggregateAsOf(aggregateType: $type, aggregateId: $id, asOf: { recordedAt: $at }) { \
      version latestVersion stoppedAt { eventType occurredAt recordedAt } state } }";

/// The query of one record's page: `root(id: $id)` with `fields` and its history.
pub fn query(root: &str, fields: &str) -> String {
    format!("query($id: ID!, {VARIABLES}) {{ {root}(id: $id) {{ {fields} {FIELDS} }} }}")
}

/// The variables of a record's page: its `id`, and those of [`VARIABLES`] from the page's
/// address (`after`), the history asked only when the visitor may read it (as the field's
/// guard says).
pub fn variables(
    id: &str,
    params: &Params,
    principal: &crate::auth::Principal,
) -> Map<String, Value> {
    let mut variables = Map::new();
    variables.insert("id".into(), json!(id));
    variables.insert("after".into(), json!(params.one("after")));
    variables.insert(
        "audit".into(),
        json!(Rule::Can(Permission::AuditRead).allows(principal)),
    );
    variables
}

/// The data of a record's page (`query` asked with `variables`), or, when there is no
/// `root` with that id, a page saying there is no such `noun`.
pub async fn ask_record(
    state: &AppState,
    visitor: &Visitor,
    query: &str,
    variables: Map<String, Value>,
    root: &str,
    noun: &str,
) -> Result<Value, Response> {
    let id = json_cell(&variables["id"]);
    let data = ask(state, visitor, query, Value::Object(variables)).await?;
    if data[root].is_null() {
        return Err(page::refusal(
            StatusCode::NOT_FOUND,
            &format!("There is no {noun} `{id}`."),
        ));
    }
    Ok(data)
}

/// The timeline of `record` (a node of `aggregate_type` queried with [`FIELDS`]) on the page
/// at `back`, and the record as it was at the page's `asOf` when one is asked for (a moment
/// before the record existed, or to come, is said beside the control); nothing when its
/// history was not asked for.
pub async fn timeline(
    state: &AppState,
    visitor: &Visitor,
    record: &Value,
    aggregate_type: &str,
    back: &str,
    params: &Params,
) -> Markup {
    if !record["history"].is_object() {
        return html! {};
    }
    let as_of = params.one("asOf");
    let state_then = match &as_of {
        Some(at) => {
            let variables =
                json!({ "type": aggregate_type, "id": record["id"], "at": as_rfc3339(at) });
            Some(
                try_ask(state, visitor, AS_OF, variables)
                    .await
                    .map(|data| data["aggregateAsOf"].clone()),
            )
        }
        None => None,
    };
    let versions = record["history"]["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let page_info = &record["history"]["pageInfo"];
    html! {
        h2 id="history" { "History" }
        form method="get" action=(back) class="filters" {
            label class="field" { span { "Show it as it was at (UTC)" }
                input type="datetime-local" name="asOf" step="1" value=[as_of.as_deref()]; }
            button type="submit" { "Show" }
            @if as_of.is_some() { a href=(back) { "Now" } }
            @if let Some(Err(refusal)) = &state_then {
                p class="field-error" role="alert" data-field="asOf" { (refusal.message) }
            }
        }
        @if let Some(Ok(then)) = &state_then {
            section id="as-of" {
                p { "As recorded at " (as_of.as_deref().unwrap_or("")) " UTC: version " (then["version"]) " of " (then["latestVersion"])
                    ", after " code { (json_cell(&then["stoppedAt"]["eventType"])) } "." }
                dl class="facts" {
                    @for (field, value) in then["state"].as_object().into_iter().flatten() {
                        dt { (field) } dd { (json_cell(value)) }
                    }
                }
            }
        }
        ol class="timeline" {
            @for version in versions {
                li {
                    strong { "Version " (version["version"]) } " · " (when(&json_cell(&version["occurredAt"])))
                    " · " (json_cell(&version["actorKind"])) " " code { (json_cell(&version["actorId"])) }
                    @if let Some(reason) = version["reason"].as_str() { " · “" (reason) "”" }
                    " · " @for (event_type, times) in event_types(&version["events"]) {
                        code { (event_type) } @if times > 1 { " ×" (count(times as i64)) } " "
                    }
                    ul class="diff" {
                        @for change in version["changes"].as_array().into_iter().flatten() {
                            li {
                                code { (json_cell(&change["path"])) } " "
                                @if !change["old"].is_null() { span class="old" { (json_cell(&change["old"])) } " → " }
                                span class="new" { (json_cell(&change["new"])) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(cursor) = page_info["endCursor"].as_str().filter(|_| page_info["hasNextPage"] == true) {
            p { a href={ (back) "?after=" (encode(cursor)) "#history" } { "Later versions »" } }
        }
    }
}

/// A version's event types in the order they first occur, each with how many times: a
/// version of many events (an import, say) reads as a line, not as a page of names.
fn event_types(events: &Value) -> Vec<(String, usize)> {
    let mut types: Vec<(String, usize)> = Vec::new();
    for event in events.as_array().into_iter().flatten() {
        let name = json_cell(&event["eventType"]);
        match types.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, times)) => *times += 1,
            None => types.push((name, 1)),
        }
    }
    types
}

/// A `datetime-local` value (`2026-12-07T19:53` or with seconds) as RFC 3339 in UTC; other
/// text is passed on for GraphQL to refuse with its own message.
fn as_rfc3339(value: &str) -> String {
    let with_seconds = if value.len() == 16 {
        format!("{value}:00")
    } else {
        value.to_string()
    };
    chrono::NaiveDateTime::parse_from_str(&with_seconds, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc().to_rfc3339())
        .unwrap_or_else(|_| value.to_string())
}

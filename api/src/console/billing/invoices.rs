//! Invoices: filtered by status and overdue, with their bulk actions (mark paid, send a
//! reminder, apply the late fee, cancel, void) and export.

use crate::console::page::{self, count, field, money, when, words, Section};
use crate::console::{ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map, Value};

const QUERY: &str = "query($after: String, $filter: InvoiceFilter) { \
    invoices(first: 25, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id accountId number status currency totalMinor issuedAt dueAt paidAt overdue dunningStage remindersSent lateFees } } }";

const STATUSES: [&str; 6] = ["DRAFT", "PENDING", "PAID", "CANCELLED", "VOID", "REFUNDED"];
const ACTIONS: [(&str, &str); 6] = [
    ("SEND_REMINDER", "Send a reminder"),
    ("MARK_PAID", "Mark paid"),
    ("MARK_PENDING", "Mark pending"),
    ("APPLY_LATE_FEE", "Apply the late fee"),
    ("CANCEL", "Cancel"),
    ("VOID", "Void"),
];

pub async fn list(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    visitor.require(Rule::Scoped(Permission::BillingRead), "invoices")?;
    let mut filter = Map::new();
    if let Some(status) = params.one("status") {
        filter.insert("status".into(), json!([status]));
    }
    if params.one("overdue").is_some() {
        filter.insert("overdue".into(), json!(true));
    }
    let data = ask(
        &state,
        &visitor,
        QUERY,
        json!({ "after": params.one("after"), "filter": filter }),
    )
    .await?;
    let invoices = &data["invoices"];
    let nodes = invoices["nodes"].as_array().cloned().unwrap_or_default();
    let base = params.base("/invoices");
    let can_bulk = Rule::Can(Permission::BillingWrite).allows(&visitor.principal);
    let select = |i: &Value| html! { input type="checkbox" name="ids" value=(field(i, "id")) aria-label={ "Select invoice " (field(i, "number")) }; };
    let mut columns: Vec<page::Column<'_>> = Vec::new();
    if can_bulk {
        columns.push(("", &select));
    }
    let rest: [page::Column<'_>; 7] = [
        ("Number", &|i| html! { (field(i, "number")) }),
        (
            "Account",
            &|i| html! { a href={ "/accounts/" (field(i, "accountId")) } { (field(i, "accountId")) } },
        ),
        (
            "Status",
            &|i| html! { (words(&field(i, "status"))) @if i["overdue"] == true { " " span class="severity-critical" { "overdue" } } },
        ),
        (
            "Total",
            &|i| html! { (money(i["totalMinor"].as_i64().unwrap_or(0), &field(i, "currency"))) },
        ),
        ("Issued", &|i| html! { (when(&field(i, "issuedAt"))) }),
        ("Due", &|i| html! { (when(&field(i, "dueAt"))) }),
        (
            "Reminders / late fees",
            &|i| html! { (i["remindersSent"]) " / " (i["lateFees"]) },
        ),
    ];
    columns.extend(rest);
    let table = page::table("invoices", &nodes, &columns);
    let body = html! {
        form method="get" action="/invoices" class="filters" {
            label class="field" { span { "Status" }
                select name="status" {
                    option value="" { "any" }
                    @for value in STATUSES { option value=(value) selected[params.one("status").as_deref() == Some(value)] { (words(value)) } }
                }
            }
            label class="field" { span { "Overdue only" } input type="checkbox" name="overdue" value="true" checked[params.one("overdue").is_some()]; }
            button type="submit" { "Show" }
        }
        p {
            strong { (count(invoices["totalCount"].as_i64().unwrap_or(0))) } " invoices. "
            a href={ "/export/invoices?format=csv&filter=" (encode(&Value::Object(filter.clone()).to_string())) } download { "Export as CSV" }
        }
        @if can_bulk {
            (page::bulk(&visitor, "bulkInvoiceAction", &base, "invoice", &ACTIONS, table))
        } @else {
            (table)
        }
        (page::pager(&base, &invoices["pageInfo"]))
    };
    Ok(page::page(&visitor, "Invoices", Section::Invoices, body))
}

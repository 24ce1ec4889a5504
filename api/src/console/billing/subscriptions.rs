//! Subscriptions: filtered by status, the next renewal first, with their bulk actions
//! (activate, cancel now or at the period's end, renew) and export.

use crate::console::page::{self, count, field, money, when, words, Section};
use crate::console::{ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map, Value};

const QUERY: &str = "query($after: String, $filter: SubscriptionFilter) { \
    subscriptions(first: 25, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id accountId planName planVersion priceMinor currency status periodStart periodEnd cancelsAtPeriodEnd } } }";

const STATUSES: [&str; 5] = ["TRIALING", "ACTIVE", "PAST_DUE", "CANCELLED", "EXPIRED"];
const ACTIONS: [(&str, &str); 4] = [
    ("RENEW", "Renew"),
    ("ACTIVATE", "Activate"),
    ("CANCEL_AT_PERIOD_END", "Cancel at the period's end"),
    ("CANCEL", "Cancel now"),
];

pub async fn list(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    visitor.require(Rule::Scoped(Permission::BillingRead), "subscriptions")?;
    let mut filter = Map::new();
    if let Some(status) = params.one("status") {
        filter.insert("status".into(), json!([status]));
    }
    let variables = json!({ "after": params.one("after"), "filter": filter });
    let data = ask(&state, &visitor, QUERY, variables).await?;
    let subscriptions = &data["subscriptions"];
    let nodes = subscriptions["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let base = match params.one("status") {
        Some(status) => format!("/subscriptions?status={}", encode(&status)),
        None => "/subscriptions".to_string(),
    };
    let can_bulk = Rule::Can(Permission::BillingWrite).allows(&visitor.principal);
    let select = |s: &Value| html! { input type="checkbox" name="ids" value=(field(s, "id")) aria-label={ "Select subscription " (field(s, "id")) }; };
    let mut columns: Vec<page::Column<'_>> = Vec::new();
    if can_bulk {
        columns.push(("", &select));
    }
    let rest: [page::Column<'_>; 5] = [
        (
            "Account",
            &|s| html! { a href={ "/accounts/" (field(s, "accountId")) } { (field(s, "accountId")) } },
        ),
        (
            "Plan",
            &|s| html! { (field(s, "planName")) " v" (s["planVersion"]) " · " (money(s["priceMinor"].as_i64().unwrap_or(0), &field(s, "currency"))) },
        ),
        (
            "Status",
            &|s| html! { (words(&field(s, "status"))) @if s["cancelsAtPeriodEnd"] == true { " (cancels at the period's end)" } },
        ),
        (
            "Period",
            &|s| html! { (when(&field(s, "periodStart"))) " – " (when(&field(s, "periodEnd"))) },
        ),
        ("Id", &|s| html! { code { (field(s, "id")) } }),
    ];
    columns.extend(rest);
    let table = page::table("subscriptions", &nodes, &columns);
    let body = html! {
        form method="get" action="/subscriptions" class="filters" {
            label class="field" { span { "Status" }
                select name="status" {
                    option value="" { "any" }
                    @for value in STATUSES { option value=(value) selected[params.one("status").as_deref() == Some(value)] { (words(value)) } }
                }
            }
            button type="submit" { "Show" }
        }
        p {
            strong { (count(subscriptions["totalCount"].as_i64().unwrap_or(0))) } " subscriptions. "
            a href={ "/export/subscriptions?format=csv&filter=" (encode(&Value::Object(filter.clone()).to_string())) } download { "Export as CSV" }
        }
        @if can_bulk {
            (page::bulk(&visitor, "bulkSubscriptionAction", &base, "subscription", &ACTIONS, table))
        } @else {
            (table)
        }
        (page::pager(&base, &subscriptions["pageInfo"]))
    };
    Ok(page::page(
        &visitor,
        "Subscriptions",
        Section::Subscriptions,
        body,
    ))
}

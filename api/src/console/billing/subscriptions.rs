//! Subscriptions: filtered by status, the next renewal first, with their bulk actions
//! (activate, cancel now or at the period's end, renew) and export; and one subscription,
//! with its changes (renew, upgrade, downgrade, cancel) and its history.

use crate::console::audit::timeline;
use crate::console::page::{self, count, field, money, when, words, Forms, Section};
use crate::console::{act, ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::{Path, State};
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

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
            &|s| html! { a href={ "/subscriptions/" (field(s, "id")) } { (field(s, "planName")) " v" (s["planVersion"]) } " · " (money(s["priceMinor"].as_i64().unwrap_or(0), &field(s, "currency"))) },
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

static ONE: LazyLock<String> = LazyLock::new(|| {
    timeline::query(
        "subscription",
        "id accountId planId planCode planVersion planName \
         priceMinor currency includedCredits status periodStart periodEnd cancelsAtPeriodEnd cancelReason \
         downgradePlanCode downgradePlanVersion startedAt endedAt",
    )
});

/// One subscription: its plan and period, the changes its status allows, its history.
pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    params: Params,
) -> Answer {
    visitor.require(Rule::Scoped(Permission::BillingRead), "subscriptions")?;
    let variables = timeline::variables(&id, &params, &visitor.principal);
    let data = timeline::ask_record(
        &state,
        &visitor,
        &ONE,
        variables,
        "subscription",
        "subscription",
    )
    .await?;
    let subscription = &data["subscription"];
    let id = field(subscription, "id");
    let back = format!("/subscriptions/{id}");
    let catalog = act::catalog(&state).await;
    let given = [("subscriptionId", id.as_str())];
    let forms = Forms::new(&visitor, catalog, &back, &given);
    let status = field(subscription, "status");
    let live = ["TRIALING", "ACTIVE", "PAST_DUE"].contains(&status.as_str());
    let history = timeline::timeline(
        &state,
        &visitor,
        subscription,
        "subscription",
        &back,
        &params,
    )
    .await;
    let body = html! {
        dl class="facts" {
            dt { "Account" } dd { a href={ "/accounts/" (field(subscription, "accountId")) } { (field(subscription, "accountId")) } }
            dt { "Plan" } dd { (field(subscription, "planName")) " " code { (field(subscription, "planCode")) " v" (subscription["planVersion"]) } }
            dt { "Price" } dd { (money(subscription["priceMinor"].as_i64().unwrap_or(0), &field(subscription, "currency"))) " a period, "
                                (count(subscription["includedCredits"].as_i64().unwrap_or(0))) " credits included" }
            dt { "Status" } dd { (words(&status)) @if subscription["cancelsAtPeriodEnd"] == true { ", cancels at the period's end" } }
            dt { "Period" } dd { (when(&field(subscription, "periodStart"))) " to " (when(&field(subscription, "periodEnd"))) }
            @if let Some(code) = subscription["downgradePlanCode"].as_str() {
                dt { "Downgrade" } dd { "to " code { (code) " v" (subscription["downgradePlanVersion"]) } " at the period's end" }
            }
            @if let Some(reason) = subscription["cancelReason"].as_str() { dt { "Cancelled because" } dd { (reason) } }
            dt { "Started" } dd { (when(&field(subscription, "startedAt"))) }
            dt { "Ended" } dd { (when(&field(subscription, "endedAt"))) }
        }
        @if live {
            div class="actions" {
                @if status != "ACTIVE" { (forms.offer("activateSubscription", "Activate", "Subscription activated.")) }
                (forms.offer("renewSubscription", "Renew", "Subscription renewed."))
                (forms.offer("upgradeSubscription", "Upgrade", "Subscription upgraded."))
                (forms.offer("downgradeSubscription", "Downgrade at the period's end", "Downgrade scheduled."))
                (forms.confirming("cancelSubscription", "Cancel", "Subscription cancelled.", "Cancel this subscription?"))
            }
        }
        (history)
    };
    let title = format!("Subscription to {}", field(subscription, "planName"));
    Ok(page::page(&visitor, &title, Section::Subscriptions, body))
}

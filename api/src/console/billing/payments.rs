//! The payments queue: pending payments first, approve, reject with a reason, refund, and the
//! same as a bulk action over the selected rows with per-item results; and one payment, with
//! its decision and its history.

use crate::console::audit::timeline;
use crate::console::page::{
    self, count, field, json_cell, money, text_field, when, words, Action, Forms,
};
use crate::console::{act, ask, encode, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::{Path, State};
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

const QUERY: &str = "query($after: String, $filter: PaymentFilter) { \
    payments(first: 25, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id accountId amountMinor currency credits method reference note status recordedBy recordedAt \
            approvedBy rejectedReason refundReason } } }";

const STATUSES: [&str; 4] = ["PENDING", "APPROVED", "REJECTED", "REFUNDED"];
const ACTIONS: [(&str, &str); 3] = [
    ("APPROVE", "Approve"),
    ("REJECT", "Reject"),
    ("REFUND", "Refund"),
];

pub async fn queue(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    let principal = &visitor.principal;
    visitor.require(Rule::Scoped(Permission::BillingRead), "payments")?;
    // The queue: pending payments unless another status is asked for ("all" for every one).
    let status = params.one("status").unwrap_or_else(|| "PENDING".into());
    let mut filter = Map::new();
    if status != "ALL" {
        filter.insert("status".into(), json!([status]));
    }
    if let Some(account) = params.one("accountId") {
        filter.insert("accountId".into(), json!(account));
    }
    let variables = json!({ "after": params.one("after"), "filter": filter });
    let data = ask(&state, &visitor, QUERY, variables).await?;
    let payments = &data["payments"];
    let nodes = payments["nodes"].as_array().cloned().unwrap_or_default();
    let base = format!("/payments?status={}", encode(&status));
    let can_approve = Rule::Can(Permission::PaymentsApprove).allows(principal);
    let catalog = act::catalog(&state).await;
    let table = html! {
        table id="payments" {
            thead {
                tr {
                    @if can_approve { th { input type="checkbox" data-select-all aria-label="Select every payment on this page"; } }
                    th { "Recorded" } th { "Account" } th class="num" { "Amount" } th class="num" { "Credits" }
                    th { "Method" } th { "Reference" } th { "Status" } th { "Recorded by" }
                }
            }
            tbody {
                @for payment in &nodes {
                    @let id = json_cell(&payment["id"]);
                    tr data-payment=(id) {
                        @if can_approve { td { input type="checkbox" name="ids" value=(id) aria-label={ "Select payment " (id) }; } }
                        td { a href={ "/payments/" (id) } { (when(&json_cell(&payment["recordedAt"]))) } }
                        td { a href={ "/accounts/" (json_cell(&payment["accountId"])) } { (json_cell(&payment["accountId"])) } }
                        td class="num" { (money(payment["amountMinor"].as_i64().unwrap_or(0), payment["currency"].as_str().unwrap_or(""))) }
                        td class="num" { (count(payment["credits"].as_i64().unwrap_or(0))) }
                        td { (words(&json_cell(&payment["method"]))) }
                        td { (payment["reference"].as_str().unwrap_or("")) }
                        td {
                            (words(&json_cell(&payment["status"])))
                            @if let Some(reason) = payment["rejectedReason"].as_str().or(payment["refundReason"].as_str()) { br; span class="muted" { (reason) } }
                        }
                        td { (json_cell(&payment["recordedBy"])) }
                    }
                }
            }
        }
    };
    let body = html! {
        form method="get" action="/payments" class="filters" {
            label class="field" { span { "Status" }
                select name="status" {
                    @for value in STATUSES { option value=(value) selected[status == value] { (words(value)) } }
                    option value="ALL" selected[status == "ALL"] { "all" }
                }
            }
            button type="submit" { "Show" }
        }
        (Forms::new(&visitor, catalog, &base, &[]).offer("recordPayment", "Record a payment", "Payment recorded; it waits for approval."))
        p {
            strong { (count(payments["totalCount"].as_i64().unwrap_or(0))) } " payments. "
            a href={ "/export/payments?format=csv&filter=" (encode(&Value::Object(filter.clone()).to_string())) } download { "Export as CSV" }
        }
        @if can_approve {
            (page::bulk(&visitor, "bulkPaymentAction", &base, "payment", &ACTIONS, table))
            h2 { "One payment" }
            p class="muted" { "Approving grants the payment's credits to its account; rejecting and refunding need a reason." }
            table id="payment-actions" {
                thead { tr { th { "Payment" } th { "Action" } } }
                tbody {
                    @for payment in &nodes {
                        @let id = json_cell(&payment["id"]);
                        tr {
                            td { code { (id) } br; (money(payment["amountMinor"].as_i64().unwrap_or(0), payment["currency"].as_str().unwrap_or(""))) }
                            td {
                                @if payment["status"] == "PENDING" {
                                    (Action { visitor: &visitor, mutation: "approvePayment", key: format!("approvePayment:{id}"), back: &base,
                                              button: "Approve", confirm: None, done: "Payment approved: its credits are granted." }
                                        .render(html! { input type="hidden" name="paymentId" value=(id); }))
                                    (Action { visitor: &visitor, mutation: "rejectPayment", key: format!("rejectPayment:{id}"), back: &base,
                                              button: "Reject", confirm: Some("Reject this payment?"), done: "Payment rejected." }
                                        .render(html! { input type="hidden" name="paymentId" value=(id); (text_field("reason", "Reason", true)) }))
                                } @else if payment["status"] == "APPROVED" {
                                    (Action { visitor: &visitor, mutation: "refundPayment", key: format!("refundPayment:{id}"), back: &base,
                                              button: "Refund", confirm: Some("Refund this payment? Its credits are taken back."), done: "Payment refunded." }
                                        .render(html! { input type="hidden" name="paymentId" value=(id); (text_field("reason", "Reason", true)) }))
                                }
                            }
                        }
                    }
                }
            }
        } @else {
            (table)
        }
        (page::pager(&base, &payments["pageInfo"]))
    };
    Ok(page::page(
        &visitor,
        "Payments",
        page::Section::Payments,
        body,
    ))
}

static ONE: LazyLock<String> = LazyLock::new(|| {
    timeline::query(
        "payment",
        "id accountId amountMinor currency credits method \
         reference note status recordedBy recordedAt approvedBy approvedAt rejectedReason refundReason \
         invoiceId packageId packageVersion",
    )
});

/// One payment: what it pays and grants, its decision, its history.
pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    params: Params,
) -> Answer {
    visitor.require(Rule::Scoped(Permission::BillingRead), "payments")?;
    let variables = timeline::variables(&id, &params, &visitor.principal);
    let data =
        timeline::ask_record(&state, &visitor, &ONE, variables, "payment", "payment").await?;
    let payment = &data["payment"];
    let id = field(payment, "id");
    let back = format!("/payments/{id}");
    let catalog = act::catalog(&state).await;
    let given = [("paymentId", id.as_str())];
    let forms = Forms::new(&visitor, catalog, &back, &given);
    let status = field(payment, "status");
    let history = timeline::timeline(&state, &visitor, payment, "payment", &back, &params).await;
    let body = html! {
        dl class="facts" {
            dt { "Account" } dd { a href={ "/accounts/" (field(payment, "accountId")) } { (field(payment, "accountId")) } }
            dt { "Amount" } dd { strong { (money(payment["amountMinor"].as_i64().unwrap_or(0), &field(payment, "currency"))) } }
            dt { "Credits" } dd { (count(payment["credits"].as_i64().unwrap_or(0))) }
            dt { "Method" } dd { (words(&field(payment, "method"))) @if let Some(reference) = payment["reference"].as_str() { ", " (reference) } }
            @if let Some(note) = payment["note"].as_str() { dt { "Note" } dd { (note) } }
            @if let Some(invoice) = payment["invoiceId"].as_str() { dt { "Pays" } dd { a href={ "/invoices/" (invoice) } { "invoice" } } }
            @if payment["packageId"].is_string() { dt { "Buys" } dd { "credit package " code { (field(payment, "packageId")) " v" (payment["packageVersion"]) } } }
            dt { "Status" } dd { (words(&status)) }
            dt { "Recorded" } dd { (when(&field(payment, "recordedAt"))) " by " code { (field(payment, "recordedBy")) } }
            @if payment["approvedBy"].is_string() { dt { "Approved" } dd { (when(&field(payment, "approvedAt"))) " by " code { (field(payment, "approvedBy")) } } }
            @if let Some(reason) = payment["rejectedReason"].as_str() { dt { "Rejected because" } dd { (reason) } }
            @if let Some(reason) = payment["refundReason"].as_str() { dt { "Refunded because" } dd { (reason) } }
        }
        div class="actions" {
            @if status == "PENDING" {
                (forms.offer("approvePayment", "Approve", "Payment approved: its credits are granted."))
                (forms.confirming("rejectPayment", "Reject", "Payment rejected.", "Reject this payment?"))
            } @else if status == "APPROVED" {
                (forms.confirming("refundPayment", "Refund", "Payment refunded.", "Refund this payment? Its credits are taken back."))
            }
        }
        (history)
    };
    Ok(page::page(
        &visitor,
        "Payment",
        page::Section::Payments,
        body,
    ))
}

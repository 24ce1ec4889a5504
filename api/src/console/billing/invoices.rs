//! Invoices: filtered by status and overdue, with their bulk actions (mark paid, send a
//! reminder, apply the late fee, cancel, void) and export; and one invoice, with its lines,
//! the actions its status allows and its history.

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
        (
            "Number",
            &|i| html! { a href={ "/invoices/" (field(i, "id")) } { (i["number"].as_str().unwrap_or("draft")) } },
        ),
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

static ONE: LazyLock<String> = LazyLock::new(|| {
    timeline::query(
        "invoice",
        "id accountId number status currency totalMinor \
         subjectKind subjectId issuedAt dueAt paidAt paymentId remindersSent lastReminderOn lateFees \
         createdAt overdue dunningStage lines { lineNo kind description quantity unitPriceMinor amountMinor }",
    )
});

/// One invoice: its lines and terms, what may be done with it in its status, its history.
pub async fn one(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    params: Params,
) -> Answer {
    visitor.require(Rule::Scoped(Permission::BillingRead), "invoices")?;
    let variables = timeline::variables(&id, &params, &visitor.principal);
    let data =
        timeline::ask_record(&state, &visitor, &ONE, variables, "invoice", "invoice").await?;
    let invoice = &data["invoice"];
    let back = format!("/invoices/{}", field(invoice, "id"));
    let catalog = act::catalog(&state).await;
    let id = field(invoice, "id");
    let given = [("invoiceId", id.as_str())];
    let forms = Forms::new(&visitor, catalog, &back, &given);
    let status = field(invoice, "status");
    let lines = invoice["lines"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let currency = field(invoice, "currency");
    let amount = |minor: &Value| money(minor.as_i64().unwrap_or(0), &currency);
    let history = timeline::timeline(&state, &visitor, invoice, "invoice", &back, &params).await;
    let body = html! {
        dl class="facts" {
            dt { "Account" } dd { a href={ "/accounts/" (field(invoice, "accountId")) } { (field(invoice, "accountId")) } }
            dt { "Status" } dd { (words(&status)) @if invoice["overdue"] == true { " " span class="severity-critical" { "overdue" } } }
            dt { "Total" } dd { strong { (amount(&invoice["totalMinor"])) } }
            dt { "Issued" } dd { (when(&field(invoice, "issuedAt"))) }
            dt { "Due" } dd { (when(&field(invoice, "dueAt"))) }
            dt { "Paid" } dd { (when(&field(invoice, "paidAt")))
                @if let Some(payment) = invoice["paymentId"].as_str() { " by " a href={ "/payments/" (payment) } { "payment" } } }
            dt { "Reminders" } dd { (invoice["remindersSent"]) @if let Some(last) = invoice["lastReminderOn"].as_str() { ", the last on " (last) } }
            dt { "Late fees" } dd { (invoice["lateFees"]) }
            @if let Some(stage) = invoice["dunningStage"].as_str() { dt { "Dunning" } dd { (words(stage)) } }
        }
        h2 { "Lines" }
        (page::table("invoice-lines", lines, &[
            ("#", &|l| html! { (l["lineNo"]) }),
            ("Kind", &|l| html! { (words(&field(l, "kind"))) }),
            ("Description", &|l| html! { (field(l, "description")) }),
            ("Quantity", &|l| html! { (l["quantity"]) }),
            ("Unit price", &|l| html! { (amount(&l["unitPriceMinor"])) }),
            ("Amount", &|l| html! { (amount(&l["amountMinor"])) }),
        ]))
        div class="actions" {
            @if status == "DRAFT" {
                (forms.offer("addInvoiceLine", "Add a line", "Line added."))
                (forms.offer("issueInvoice", "Issue", "Invoice issued."))
            }
            @if status == "PENDING" {
                (forms.offer("markInvoicePaid", "Mark paid", "Invoice marked paid."))
                (forms.offer("sendInvoiceReminder", "Send a reminder", "Reminder sent."))
                (forms.offer("applyLateFee", "Apply the late fee", "Late fee applied."))
            }
            @if status == "PAID" {
                (forms.offer("markInvoicePending", "Mark pending again", "Invoice marked pending."))
            }
            @if status == "DRAFT" || status == "PENDING" {
                (forms.confirming("cancelInvoice", "Cancel", "Invoice cancelled.", "Cancel this invoice?"))
            }
            @if status == "PENDING" || status == "PAID" {
                (forms.confirming("voidInvoice", "Void", "Invoice voided.", "Void this invoice? It stays on record as void."))
            }
        }
        (history)
    };
    let title = format!(
        "Invoice {}",
        invoice["number"].as_str().unwrap_or("(draft)")
    );
    Ok(page::page(&visitor, &title, Section::Invoices, body))
}

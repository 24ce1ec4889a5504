//! Bulk actions: one item, one command, one result; a retry with the same key does nothing
//! twice; one item's refusal stops no other.

use crate::access_matrix::staff_in_group;
use crate::accounts::{account, event_count, open_account};
use crate::helpers::{error_code, TestApp};
use crate::payments::record_payment;
use serde_json::{json, Value};

const RESULT: &str =
    "bulkKey done noOp refused caughtUp items { id outcome code message position replayed }";

async fn bulk_as(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> Value {
    app.graphql_as(
        Some(token),
        &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {RESULT} }} }}"),
        json!({ "input": input }),
    )
    .await
    .1
}

pub async fn bulk(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    let body = bulk_as(app, &app.token, mutation, input_type, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    body["data"][mutation].clone()
}

pub fn outcomes(result: &Value) -> Vec<(String, Option<String>)> {
    result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["outcome"].as_str().unwrap().to_string(),
                item["code"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn bulk_approval_answers_per_payment_and_a_retry_does_nothing_twice() {
    let app = TestApp::spawn().await;
    let account_id = open_account(&app, "bulk-buyer").await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(json!(
            record_payment(&app, &account_id, 1_000 + n, 100).await
        ));
    }
    let rejected = record_payment(&app, &account_id, 500, 50).await;
    let body = app
        .graphql(
            "mutation($input: PaymentReasonInput!) { rejectPayment(input: $input) { position } }",
            json!({ "input": { "paymentId": rejected, "reason": "bounced" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let mut asked = ids.clone();
    asked.push(json!(rejected));
    asked.push(json!("00000000-0000-0000-0000-0000000000ff"));
    asked.push(json!("not-an-id"));
    let input = json!({ "action": "APPROVE", "ids": asked, "reason": "wires arrived", "bulkKey": "approve-2026-11-24" });

    let result = bulk(&app, "bulkPaymentAction", "BulkPaymentInput", input.clone()).await;
    let mut expected: Vec<(String, Option<String>)> = vec![("DONE".into(), None); 12];
    expected.push(("REFUSED".into(), Some("CONFLICT".into())));
    expected.push(("REFUSED".into(), Some("NOT_FOUND".into())));
    expected.push(("REFUSED".into(), Some("VALIDATION".into())));
    assert_eq!(outcomes(&result), expected, "{result}");
    assert_eq!(
        (result["done"].clone(), result["refused"].clone()),
        (json!(12), json!(3))
    );
    assert_eq!(result["caughtUp"], true);
    assert!(result["items"][12]["message"]
        .as_str()
        .unwrap()
        .contains("rejected"));
    assert_eq!(
        account(&app, &account_id).await["balance"],
        1_200,
        "twelve grants of 100"
    );

    // The same request again: every approval is a replay, nothing is appended.
    let before = event_count(&app).await;
    let again = bulk(&app, "bulkPaymentAction", "BulkPaymentInput", input).await;
    assert_eq!(outcomes(&again), expected);
    assert!(again["items"][0]["replayed"].as_bool().unwrap(), "{again}");
    assert_eq!(
        event_count(&app).await,
        before,
        "a retried bulk appends nothing"
    );
    assert_eq!(account(&app, &account_id).await["balance"], 1_200);

    // A new key: the approved payments are already approved (no-ops).
    let fresh =
        json!({ "action": "APPROVE", "ids": ids, "reason": "again", "bulkKey": "approve-again" });
    let result = bulk(&app, "bulkPaymentAction", "BulkPaymentInput", fresh).await;
    assert_eq!(result["noOp"], 12, "{result}");
    assert_eq!(event_count(&app).await, before);

    // Only those who may approve payments may approve them in bulk.
    let support = staff_in_group(&app, "support@example.com", "Support Agent").await;
    let before = event_count(&app).await;
    let body = bulk_as(
        &app,
        &support,
        "bulkPaymentAction",
        "BulkPaymentInput",
        json!({ "action": "REFUND", "ids": ids, "reason": "x", "bulkKey": "k" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn bulk_account_actions_and_adjustments_refuse_item_by_item() {
    let app = TestApp::spawn().await;
    let a = open_account(&app, "bulk-a").await;
    let b = open_account(&app, "bulk-b").await;
    let system: String =
        sqlx::query_scalar("SELECT id::text FROM read.accounts WHERE slug = 'aws-admin'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let result = bulk(
        &app,
        "bulkAdjustCredits",
        "BulkAdjustCreditsInput",
        json!({ "ids": [a, b], "amount": 250, "reason": "goodwill", "bulkKey": "goodwill-1" }),
    )
    .await;
    assert_eq!(result["done"], 2, "{result}");
    assert_eq!(account(&app, &b).await["balance"], 250);
    let result = bulk(
        &app,
        "bulkAdjustCredits",
        "BulkAdjustCreditsInput",
        json!({ "ids": [a, b], "amount": -300, "reason": "clawback", "bulkKey": "clawback-1" }),
    )
    .await;
    assert_eq!(
        outcomes(&result),
        vec![
            (
                "REFUSED".to_string(),
                Some("INSUFFICIENT_CREDITS".to_string())
            ),
            (
                "REFUSED".to_string(),
                Some("INSUFFICIENT_CREDITS".to_string())
            ),
        ],
        "{result}"
    );

    let result = bulk(
        &app,
        "bulkAccountAction",
        "BulkAccountInput",
        json!({ "action": "SUSPEND", "ids": [a, system, b], "reason": "unpaid", "bulkKey": "suspend-1" }),
    )
    .await;
    assert_eq!(
        outcomes(&result),
        vec![
            ("DONE".to_string(), None),
            ("REFUSED".to_string(), Some("FORBIDDEN".to_string())),
            ("DONE".to_string(), None),
        ],
        "the system account is never suspended: {result}"
    );
    assert_eq!(account(&app, &a).await["status"], "SUSPENDED");
    let result = bulk(
        &app,
        "bulkAccountAction",
        "BulkAccountInput",
        json!({ "action": "ACTIVATE", "ids": [a, b], "reason": "paid", "bulkKey": "activate-1" }),
    )
    .await;
    assert_eq!(result["done"], 2, "{result}");
    assert_eq!(account(&app, &b).await["status"], "ACTIVE");
}

#[tokio::test]
async fn bad_bulk_requests_are_refused_before_any_item_runs() {
    let app = TestApp::spawn().await;
    let a = open_account(&app, "bulk-bad").await;
    // More than 500 ids run as a job, which takes only valid ids.
    let mut many: Vec<String> = (0..501)
        .map(|n| format!("00000000-0000-0000-0000-{n:012}"))
        .collect();
    many.push("not-an-id".into());
    let before = event_count(&app).await;
    for input in [
        json!({ "action": "SUSPEND", "ids": [], "reason": "x", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "ids": many, "reason": "x", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "ids": [a, a], "reason": "x", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "ids": [a], "reason": "x", "bulkKey": " " }),
        json!({ "action": "SUSPEND", "ids": [a], "reason": "x", "bulkKey": "two words" }),
        json!({ "action": "SUSPEND", "ids": [a], "reason": "x", "bulkKey": "k".repeat(121) }),
        json!({ "action": "SUSPEND", "ids": [a], "reason": " ", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "reason": "x", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "ids": [a], "filter": {}, "reason": "x", "bulkKey": "k" }),
        json!({ "action": "SUSPEND", "filter": { "search": "no-such-account" }, "reason": "x", "bulkKey": "k" }),
    ] {
        let body = bulk_as(
            &app,
            &app.token,
            "bulkAccountAction",
            "BulkAccountInput",
            input.clone(),
        )
        .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{input}: {body}");
    }
    assert_eq!(event_count(&app).await, before, "nothing ran");
}

#[tokio::test]
async fn bulk_catalogue_and_invoice_actions_report_no_ops() {
    let app = TestApp::spawn().await;
    let plans = app.graphql("{ plans { id code } }", json!({})).await;
    let ids: Vec<Value> = plans["data"]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    let result = bulk(
        &app,
        "bulkPlanAction",
        "BulkCatalogInput",
        json!({ "action": "DEACTIVATE", "ids": ids, "reason": "new pricing", "bulkKey": "plans-off" }),
    )
    .await;
    // Free stays active; the other three are deactivated.
    assert_eq!(
        outcomes(&result)[0],
        ("REFUSED".to_string(), Some("CONFLICT".to_string())),
        "{result}"
    );
    assert_eq!(result["done"], 3);
    let result = bulk(
        &app,
        "bulkPlanAction",
        "BulkCatalogInput",
        json!({ "action": "DEACTIVATE", "ids": ids[1..], "reason": "again", "bulkKey": "plans-off-2" }),
    )
    .await;
    assert_eq!(result["noOp"], 3, "{result}");

    let account_id = open_account(&app, "bulk-invoices").await;
    let mut invoices = Vec::new();
    for n in 0..3 {
        let body = app
            .graphql(
                "mutation($input: DraftInvoiceInput!) { draftInvoice(input: $input) { invoice { id } } }",
                json!({ "input": { "accountId": account_id, "currency": "USD", "reason": "x",
                                   "lines": [{ "kind": "MANUAL", "description": "Work", "unitPriceMinor": 100 + n }] } }),
            )
            .await;
        invoices.push(body["data"]["draftInvoice"]["invoice"]["id"].clone());
    }
    let result = bulk(
        &app,
        "bulkInvoiceAction",
        "BulkInvoiceInput",
        json!({ "action": "CANCEL", "ids": invoices[..2], "reason": "duplicates", "bulkKey": "cancel-1" }),
    )
    .await;
    assert_eq!(result["done"], 2, "{result}");
    let result = bulk(
        &app,
        "bulkInvoiceAction",
        "BulkInvoiceInput",
        json!({ "action": "CANCEL", "ids": invoices, "reason": "all", "bulkKey": "cancel-2" }),
    )
    .await;
    assert_eq!(
        (result["noOp"].clone(), result["done"].clone()),
        (json!(2), json!(1)),
        "{result}"
    );
    let result = bulk(
        &app,
        "bulkInvoiceAction",
        "BulkInvoiceInput",
        json!({ "action": "SEND_REMINDER", "ids": invoices, "reason": "dunning", "bulkKey": "remind-1" }),
    )
    .await;
    assert_eq!(
        result["refused"], 3,
        "reminders are for pending invoices: {result}"
    );
}

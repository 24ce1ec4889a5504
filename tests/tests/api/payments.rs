//! Manual payments and their approval workflow, through GraphQL over real HTTP.

use crate::accounts::{
    account, adjust, consume_as, event_count, open_account, read_balance_and_ledger_sum, spawn_app,
    spawn_for_load, suspend,
};
use crate::helpers::{create_service, error_code, TestApp};
use futures::future::join_all;
use serde_json::{json, Value};
use std::sync::Arc;

const PAYMENT_FIELDS: &str = "id accountId amountMinor currency credits method reference note \
     status recordedBy approvedBy approvedAt rejectedReason refundReason";

/// Sends `mutation { <name>(input: $input) { .. payment {..} account {..} } }` as the superuser.
pub async fn payment_mutation(app: &TestApp, name: &str, input_type: &str, input: Value) -> Value {
    payment_mutation_as(app, &app.token, name, input_type, input).await
}

pub async fn payment_mutation_as(
    app: &TestApp,
    token: &str,
    name: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let query = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ position caughtUp replayed \
         payment {{ {PAYMENT_FIELDS} }} account {{ id status balance }} }} }}"
    );
    app.graphql_as(Some(token), &query, json!({ "input": input }))
        .await
        .1
}

/// Records a pending wire payment and returns its id.
pub async fn record_payment(
    app: &TestApp,
    account_id: &str,
    amount_minor: i64,
    credits: i64,
) -> String {
    let body = payment_mutation(
        app,
        "recordPayment",
        "RecordPaymentInput",
        json!({
            "accountId": account_id,
            "amountMinor": amount_minor,
            "currency": "USD",
            "credits": credits,
            "method": "WIRE",
            "reference": "WIRE-2024-0001",
        }),
    )
    .await;
    assert!(body["errors"].is_null(), "recordPayment failed: {body}");
    let payment = &body["data"]["recordPayment"]["payment"];
    assert_eq!(payment["status"], "PENDING", "{body}");
    payment["id"].as_str().unwrap().to_string()
}

pub async fn approve_payment(app: &TestApp, payment_id: &str) -> Value {
    payment_mutation(
        app,
        "approvePayment",
        "PaymentInput",
        json!({ "paymentId": payment_id }),
    )
    .await
}

pub async fn refund_payment(app: &TestApp, payment_id: &str, reason: &str) -> Value {
    payment_mutation(
        app,
        "refundPayment",
        "PaymentReasonInput",
        json!({ "paymentId": payment_id, "reason": reason }),
    )
    .await
}

async fn reject_payment(app: &TestApp, payment_id: &str, reason: &str) -> Value {
    payment_mutation(
        app,
        "rejectPayment",
        "PaymentReasonInput",
        json!({ "paymentId": payment_id, "reason": reason }),
    )
    .await
}

async fn count_events(app: &TestApp, event_type: &str, aggregate_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1 AND aggregate_id = $2")
        .bind(event_type)
        .bind(aggregate_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Approves `payment_id` with `n` separate HTTP requests at once and returns every answer.
async fn approve_concurrently(app: &Arc<TestApp>, payment_id: &str, n: usize) -> Vec<Value> {
    let approvals = (0..n).map(|_| {
        let app = app.clone();
        let payment_id = payment_id.to_string();
        tokio::spawn(async move { approve_payment(&app, &payment_id).await })
    });
    join_all(approvals)
        .await
        .into_iter()
        .map(|joined| joined.expect("request task"))
        .collect()
}

#[tokio::test]
async fn twenty_concurrent_approvals_of_one_payment_grant_its_credits_exactly_once() {
    let app = spawn_for_load().await;
    let account_id = open_account(&app, "big-spender").await;
    adjust(&app, &account_id, 40, "existing balance").await;
    let payment_id = record_payment(&app, &account_id, 9900, 1000).await;

    let app = Arc::new(app);
    let answers = approve_concurrently(&app, &payment_id, 20).await;
    for body in &answers {
        assert!(body["errors"].is_null(), "every approval succeeds: {body}");
    }
    let appended = answers
        .iter()
        .filter(|b| !b["data"]["approvePayment"]["position"].is_null())
        .count();
    assert_eq!(appended, 1, "exactly one approval appended anything");

    assert_eq!(count_events(&app, "PaymentApproved", &payment_id).await, 1);
    assert_eq!(count_events(&app, "CreditsPurchased", &account_id).await, 1);
    let purchases: Vec<(i64, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT amount, payment_id FROM read.credit_ledger \
         WHERE account_id = $1::uuid AND kind = 'purchase'",
    )
    .bind(&account_id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        purchases,
        vec![(1000, Some(payment_id.parse().unwrap()))],
        "one purchase row"
    );
    let (balance, ledger_sum) = read_balance_and_ledger_sum(&app, &account_id).await;
    assert_eq!(balance, 1040, "credited once");
    assert_eq!(ledger_sum, balance);
    assert_eq!(account(&app, &account_id).await["balance"], 1040);

    // And once more, later: still nothing new.
    let before = event_count(&app).await;
    let again = approve_payment(&app, &payment_id).await;
    assert!(again["errors"].is_null(), "{again}");
    assert!(again["data"]["approvePayment"]["position"].is_null());
    assert_eq!(again["data"]["approvePayment"]["account"]["balance"], 1040);
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn every_concurrent_approval_answers_with_the_payment_approved_and_credited() {
    let app = spawn_for_load().await;
    let account_id = open_account(&app, "eager-reader").await;
    let payment_id = record_payment(&app, &account_id, 5000, 500).await;

    let app = Arc::new(app);
    for body in approve_concurrently(&app, &payment_id, 20).await {
        let payload = &body["data"]["approvePayment"];
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(payload["caughtUp"], true, "{body}");
        assert_eq!(
            payload["payment"]["status"], "APPROVED",
            "an answer that reports success shows the payment approved: {body}"
        );
        assert_eq!(
            payload["account"]["balance"], 500,
            "and the credits granted: {body}"
        );
    }
}

#[tokio::test]
async fn a_refund_after_credits_were_spent_takes_back_what_is_left_and_records_the_shortfall() {
    let app = spawn_app().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account_id = open_account(&app, "spent-it").await;
    let payment_id = record_payment(&app, &account_id, 10000, 1000).await;
    let approved = approve_payment(&app, &payment_id).await;
    assert_eq!(
        approved["data"]["approvePayment"]["account"]["balance"],
        1000,
        "{approved}\n{}",
        crate::helpers::log_and_checkpoints(&app.db.pool).await
    );
    let spent = consume_as(&app, &platform, &account_id, 400).await;
    assert!(spent["errors"].is_null(), "{spent}");
    let corrected = adjust(&app, &account_id, -300, "duplicate grant").await;
    assert_eq!(
        corrected["data"]["adjustCredits"]["account"]["balance"], 300,
        "{corrected}"
    );

    let refunded = refund_payment(&app, &payment_id, "chargeback").await;
    let payload = &refunded["data"]["refundPayment"];
    assert!(refunded["errors"].is_null(), "{refunded}");
    assert_eq!(payload["caughtUp"], true);
    assert_eq!(payload["payment"]["status"], "REFUNDED");
    assert_eq!(payload["payment"]["refundReason"], "chargeback");
    assert_eq!(payload["account"]["balance"], 0, "{refunded}");

    let ledger = app
        .graphql(
            "query($id: ID!) { creditLedger(filter: { accountId: $id, kind: [REFUND] }) { \
             nodes { kind amount balanceAfter shortfall paymentId reason } } }",
            json!({ "id": account_id }),
        )
        .await;
    assert_eq!(
        ledger["data"]["creditLedger"]["nodes"],
        json!([{
            "kind": "REFUND", "amount": -300, "balanceAfter": 0, "shortfall": 700,
            "paymentId": payment_id, "reason": "chargeback",
        }]),
        "{ledger}"
    );
    let (balance, ledger_sum) = read_balance_and_ledger_sum(&app, &account_id).await;
    assert_eq!((balance, ledger_sum), (0, 0));

    let before = event_count(&app).await;
    let again = refund_payment(&app, &payment_id, "chargeback").await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let again = approve_payment(&app, &payment_id).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn approving_a_payment_activates_a_suspended_account() {
    let app = spawn_app().await;
    let account_id = open_account(&app, "late-payer").await;
    let suspended = suspend(&app, &account_id, "invoice overdue").await;
    assert_eq!(
        suspended["data"]["suspendAccount"]["account"]["status"], "SUSPENDED",
        "{suspended}"
    );
    let payment_id = record_payment(&app, &account_id, 2000, 200).await;
    assert_eq!(account(&app, &account_id).await["status"], "SUSPENDED");

    let approved = approve_payment(&app, &payment_id).await;
    let payload = &approved["data"]["approvePayment"];
    assert!(approved["errors"].is_null(), "{approved}");
    assert_eq!(payload["caughtUp"], true);
    assert_eq!(payload["payment"]["status"], "APPROVED");
    assert!(!payload["payment"]["approvedBy"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(payload["account"]["status"], "ACTIVE", "{approved}");
    assert_eq!(payload["account"]["balance"], 200);
    let shown = account(&app, &account_id).await;
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(count_events(&app, "AccountActivated", &account_id).await, 1);
}

#[tokio::test]
async fn the_payments_filter_returns_the_approval_queue() {
    let app = spawn_app().await;
    let first = open_account(&app, "first-payer").await;
    let second = open_account(&app, "second-payer").await;
    let approved = record_payment(&app, &first, 1000, 100).await;
    let pending_a = record_payment(&app, &first, 2000, 200).await;
    let rejected = record_payment(&app, &second, 3000, 300).await;
    let pending_b = record_payment(&app, &second, 4000, 400).await;
    assert!(approve_payment(&app, &approved).await["errors"].is_null());
    assert!(reject_payment(&app, &rejected, "wrong amount").await["errors"].is_null());

    let ids = |body: &Value| -> Vec<String> {
        assert!(body["errors"].is_null(), "{body}");
        let nodes = body["data"]["payments"]["nodes"].as_array().unwrap();
        assert_eq!(body["data"]["payments"]["totalCount"], nodes.len() as i64);
        nodes
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let query = "query($filter: PaymentFilter) { payments(first: 50, filter: $filter, \
                 direction: ASC) { totalCount nodes { id status } } }";
    let queue = app
        .graphql(query, json!({ "filter": { "status": ["PENDING"] } }))
        .await;
    assert_eq!(ids(&queue), vec![pending_a.clone(), pending_b.clone()]);
    let queue = app
        .graphql(
            query,
            json!({ "filter": { "status": ["PENDING"], "accountId": second } }),
        )
        .await;
    assert_eq!(ids(&queue), vec![pending_b.clone()]);
    let done = app
        .graphql(
            query,
            json!({ "filter": { "status": ["APPROVED", "REJECTED"] } }),
        )
        .await;
    assert_eq!(ids(&done), vec![approved.clone(), rejected.clone()]);
    let all = app.graphql(query, json!({})).await;
    assert_eq!(
        ids(&all),
        vec![approved.clone(), pending_a, rejected.clone(), pending_b]
    );

    let one = app
        .graphql(
            &format!("query($id: ID!) {{ payment(id: $id) {{ {PAYMENT_FIELDS} }} }}"),
            json!({ "id": rejected }),
        )
        .await;
    let payment = &one["data"]["payment"];
    assert_eq!(payment["status"], "REJECTED", "{one}");
    assert_eq!(payment["rejectedReason"], "wrong amount");
    assert_eq!(payment["amountMinor"], 3000);
    assert_eq!(payment["currency"], "USD");
    assert_eq!(payment["credits"], 300);
    assert_eq!(payment["method"], "WIRE");
    assert_eq!(payment["accountId"], second.as_str());
}

#[tokio::test]
async fn bad_payment_input_gets_a_clear_error_code_and_changes_nothing() {
    let app = spawn_app().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account_id = open_account(&app, "careful-payer").await;
    let pending = record_payment(&app, &account_id, 1000, 100).await;
    let approved = record_payment(&app, &account_id, 1000, 100).await;
    assert!(approve_payment(&app, &approved).await["errors"].is_null());
    let rejected = record_payment(&app, &account_id, 1000, 100).await;
    assert!(reject_payment(&app, &rejected, "duplicate").await["errors"].is_null());
    let before = event_count(&app).await;

    let unknown = uuid::Uuid::new_v4().to_string();
    let long_reason = "r".repeat(501);
    let record = |account: &str, amount_minor: i64, currency: &str, credits: i64| {
        json!({
            "accountId": account, "amountMinor": amount_minor, "currency": currency,
            "credits": credits, "method": "CHECK",
        })
    };
    let cases: Vec<(&str, &str, &str, Value, &str)> = vec![
        (
            "a negative amount",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, -5, "USD", 100),
            "VALIDATION",
        ),
        (
            "a zero amount",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, 0, "USD", 100),
            "VALIDATION",
        ),
        (
            "zero credits",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, 100, "USD", 0),
            "VALIDATION",
        ),
        (
            "negative credits",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, 100, "USD", -10),
            "VALIDATION",
        ),
        (
            "huge credits",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, 100, "USD", 2_000_000_000),
            "VALIDATION",
        ),
        (
            "a malformed currency",
            "recordPayment",
            "RecordPaymentInput",
            record(&account_id, 100, "dollars", 100),
            "VALIDATION",
        ),
        (
            "an unknown account",
            "recordPayment",
            "RecordPaymentInput",
            record(&unknown, 100, "USD", 100),
            "NOT_FOUND",
        ),
        (
            "a malformed account id",
            "recordPayment",
            "RecordPaymentInput",
            record("abc", 100, "USD", 100),
            "VALIDATION",
        ),
        (
            "approving an unknown payment",
            "approvePayment",
            "PaymentInput",
            json!({ "paymentId": unknown }),
            "NOT_FOUND",
        ),
        (
            "approving a malformed id",
            "approvePayment",
            "PaymentInput",
            json!({ "paymentId": "abc" }),
            "VALIDATION",
        ),
        (
            "rejecting with a blank reason",
            "rejectPayment",
            "PaymentReasonInput",
            json!({ "paymentId": pending, "reason": "   " }),
            "VALIDATION",
        ),
        (
            "rejecting with an over-long reason",
            "rejectPayment",
            "PaymentReasonInput",
            json!({ "paymentId": pending, "reason": long_reason }),
            "VALIDATION",
        ),
        (
            "refunding with a blank reason",
            "refundPayment",
            "PaymentReasonInput",
            json!({ "paymentId": approved, "reason": "   " }),
            "VALIDATION",
        ),
        (
            "refunding an unknown payment",
            "refundPayment",
            "PaymentReasonInput",
            json!({ "paymentId": unknown, "reason": "why" }),
            "NOT_FOUND",
        ),
        (
            "refunding a pending payment",
            "refundPayment",
            "PaymentReasonInput",
            json!({ "paymentId": pending, "reason": "why" }),
            "CONFLICT",
        ),
        (
            "rejecting an approved payment",
            "rejectPayment",
            "PaymentReasonInput",
            json!({ "paymentId": approved, "reason": "changed my mind" }),
            "CONFLICT",
        ),
        (
            "approving a rejected payment",
            "approvePayment",
            "PaymentInput",
            json!({ "paymentId": rejected }),
            "CONFLICT",
        ),
        (
            "refunding a rejected payment",
            "refundPayment",
            "PaymentReasonInput",
            json!({ "paymentId": rejected, "reason": "why" }),
            "CONFLICT",
        ),
    ];
    for (what, mutation, input_type, input, code) in cases {
        let body = payment_mutation(&app, mutation, input_type, input).await;
        assert_eq!(error_code(&body), Some(code), "{what}: {body}");
        assert!(
            !body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what}: {body}"
        );
        assert_eq!(event_count(&app).await, before, "{what} changed nothing");
    }

    // The platform's service principal reports usage; it does not handle money.
    let body = payment_mutation_as(
        &app,
        &platform,
        "approvePayment",
        "PaymentInput",
        json!({ "paymentId": pending }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(event_count(&app).await, before);
    assert_eq!(account(&app, &account_id).await["balance"], 100);
}

#[tokio::test]
async fn a_grant_the_account_refuses_is_recorded_for_a_person_and_the_manager_moves_on() {
    let app = TestApp::spawn().await;
    let account = crate::accounts::open_account(&app, "closing").await;
    let payment = record_payment(&app, &account, 5_000, 500).await;
    let body = crate::accounts::account_mutation(
        &app,
        "deleteAccount",
        "AccountReasonInput",
        json!({ "accountId": account, "reason": "customer left" }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let approved = approve_payment(&app, &payment).await;
    assert!(approved["errors"].is_null(), "{approved}");
    let issues: Vec<(String, String, String)> =
        sqlx::query_as("SELECT handler, code, message FROM read.process_issues")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let (handler, code, message) = &issues[0];
    assert_eq!(
        (handler.as_str(), code.as_str()),
        ("payment_approval", "CONFLICT")
    );
    assert!(
        message.contains(&payment) && message.contains("grant"),
        "{message}"
    );
    // The manager moved on: a later payment for a live account is granted.
    let other = crate::accounts::open_account(&app, "staying").await;
    let later = record_payment(&app, &other, 1_000, 100).await;
    let body = approve_payment(&app, &later).await;
    assert_eq!(
        body["data"]["approvePayment"]["account"]["balance"], 100,
        "{body}"
    );
}

/// Creates an active credit package; its id.
async fn create_package(app: &TestApp, credits: i64, price_minor: i64) -> String {
    let body = app
        .graphql(
            "mutation($input: CreateCreditPackageInput!) { createCreditPackage(input: $input) { package { id } } }",
            json!({ "input": { "name": format!("{credits} credits"), "credits": credits,
                               "priceMinor": price_minor, "currency": "USD", "reason": "offer" } }),
        )
        .await;
    body["data"]["createCreditPackage"]["package"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string()
}

async fn invoice_of(app: &TestApp, id: &Value) -> Value {
    let body = app
        .graphql(
            "query($id: ID!) { invoice(id: $id) { id number status totalMinor paymentId subjectKind \
             lines { kind amountMinor } } }",
            json!({ "id": id }),
        )
        .await;
    body["data"]["invoice"].clone()
}

#[tokio::test]
async fn twenty_concurrent_approvals_of_a_package_payment_grant_once_and_pay_its_invoice_once() {
    let app = spawn_for_load().await;
    let account_id = open_account(&app, "package-buyer").await;
    let package = create_package(&app, 5_000, 4_500).await;
    let body = payment_mutation(
        &app,
        "recordPayment",
        "RecordPaymentInput",
        json!({ "accountId": account_id, "packageId": package, "method": "WIRE" }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let payment = &body["data"]["recordPayment"]["payment"];
    assert_eq!(
        (payment["amountMinor"].clone(), payment["credits"].clone()),
        (json!(4_500), json!(5_000)),
        "the package sets the price and the credits"
    );
    let payment_id = payment["id"].as_str().unwrap().to_string();
    let (_, body) = app
        .graphql_as(
            Some(&app.token),
            "query($id: ID!) { payment(id: $id) { invoiceId packageId packageVersion } }",
            json!({ "id": payment_id }),
        )
        .await;
    let invoice_id = body["data"]["payment"]["invoiceId"].clone();
    assert_eq!(body["data"]["payment"]["packageVersion"], 1, "{body}");
    // Recording it drafted and issued the package's invoice before any approval.
    let invoice = invoice_of(&app, &invoice_id).await;
    assert_eq!(invoice["status"], "PENDING", "{invoice}");
    assert_eq!(invoice["subjectKind"], "credit_package");
    assert_eq!(invoice["totalMinor"], 4_500);
    assert_eq!(
        invoice["lines"],
        json!([{ "kind": "CREDIT_PACKAGE", "amountMinor": 4_500 }])
    );
    assert!(invoice["number"].as_str().unwrap().starts_with("INV-"));

    let app = Arc::new(app);
    let answers = approve_concurrently(&app, &payment_id, 20).await;
    for body in &answers {
        assert!(body["errors"].is_null(), "every approval succeeds: {body}");
    }
    assert_eq!(count_events(&app, "PaymentApproved", &payment_id).await, 1);
    assert_eq!(count_events(&app, "CreditsPurchased", &account_id).await, 1);
    let invoice_key = invoice_id.as_str().unwrap();
    assert_eq!(count_events(&app, "InvoicePaid", invoice_key).await, 1);
    assert_eq!(account(&app, &account_id).await["balance"], 5_000);
    let invoice = invoice_of(&app, &invoice_id).await;
    assert_eq!(invoice["status"], "PAID", "{invoice}");
    assert_eq!(invoice["paymentId"], json!(payment_id));

    // A refund takes the credits back and marks the invoice refunded.
    let body = refund_payment(&app, &payment_id, "changed their mind").await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(account(&app, &account_id).await["balance"], 0);
    assert_eq!(invoice_of(&app, &invoice_id).await["status"], "REFUNDED");
}

#[tokio::test]
async fn a_payment_of_an_invoice_pays_it_and_bad_package_or_invoice_payments_are_refused() {
    let app = spawn_app().await;
    let account_id = open_account(&app, "invoice-payer").await;
    let other = open_account(&app, "someone-else").await;
    let drafted = app
        .graphql(
            "mutation($input: DraftInvoiceInput!) { draftInvoice(input: $input) { invoice { id } } }",
            json!({ "input": { "accountId": account_id, "currency": "USD", "reason": "setup",
                               "lines": [{ "kind": "MANUAL", "description": "Setup", "unitPriceMinor": 12_000 }] } }),
        )
        .await;
    let invoice_id = drafted["data"]["draftInvoice"]["invoice"]["id"].clone();
    let record = |input: Value| {
        let app = &app;
        async move { payment_mutation(app, "recordPayment", "RecordPaymentInput", input).await }
    };
    // Not yet issued: a draft is not paid.
    let body =
        record(json!({ "accountId": account_id, "invoiceId": invoice_id, "method": "CHECK" }))
            .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    let issued = app
        .graphql(
            "mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) { invoice { status } } }",
            json!({ "input": { "invoiceId": invoice_id, "reason": "setup" } }),
        )
        .await;
    assert_eq!(
        issued["data"]["issueInvoice"]["invoice"]["status"], "PENDING",
        "{issued}"
    );

    let package = create_package(&app, 1_000, 1_200).await;
    let before = event_count(&app).await;
    for (input, code) in [
        (
            json!({ "accountId": account_id, "invoiceId": invoice_id, "amountMinor": 100, "method": "CHECK" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account_id, "invoiceId": invoice_id, "currency": "EUR", "method": "CHECK" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": other, "invoiceId": invoice_id, "method": "CHECK" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account_id, "packageId": package, "credits": 9_999, "method": "WIRE" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account_id, "packageId": package, "invoiceId": invoice_id, "method": "WIRE" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account_id, "method": "WIRE" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account_id, "packageId": "00000000-0000-0000-0000-0000000000aa", "method": "WIRE" }),
            "NOT_FOUND",
        ),
    ] {
        let body = record(input.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
    }
    app.graphql(
        "mutation($input: CreditPackageInput!) { deactivateCreditPackage(input: $input) { position } }",
        json!({ "input": { "packageId": package, "reason": "sold out" } }),
    )
    .await;
    let before_inactive = event_count(&app).await;
    let body =
        record(json!({ "accountId": account_id, "packageId": package, "method": "WIRE" })).await;
    assert_eq!(
        error_code(&body),
        Some("CONFLICT"),
        "an inactive package: {body}"
    );
    assert_eq!(event_count(&app).await, before_inactive);
    assert_eq!(
        before + 1,
        before_inactive,
        "only the deactivation was appended"
    );

    // Paying the invoice: its total, no credits; approval marks it paid.
    let body =
        record(json!({ "accountId": account_id, "invoiceId": invoice_id, "method": "CHECK" }))
            .await;
    assert!(body["errors"].is_null(), "{body}");
    let payment = &body["data"]["recordPayment"]["payment"];
    assert_eq!(
        (payment["amountMinor"].clone(), payment["credits"].clone()),
        (json!(12_000), json!(0))
    );
    let body = approve_payment(&app, payment["id"].as_str().unwrap()).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(invoice_of(&app, &invoice_id).await["status"], "PAID");
    assert_eq!(account(&app, &account_id).await["balance"], 0);
}

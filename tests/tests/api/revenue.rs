//! Revenue facts: approved and refunded payments summed by day, plan, method and currency.

use crate::accounts::open_account;
use crate::helpers::{error_code, TestApp};
use crate::payments::{approve_payment, payment_mutation, record_payment, refund_payment};
use domain::billing::plan::{Plan, PlanTier};
use serde_json::{json, Value};

async fn revenue(app: &TestApp, args: &str) -> Value {
    let body = app
        .graphql(
            &format!(
                "{{ revenue({args}) {{ facts {{ day planCode method currency paidMinor payments \
                 refundedMinor refunds netMinor }} totals {{ currency paidMinor payments \
                 refundedMinor refunds netMinor }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["revenue"].clone()
}

#[tokio::test]
async fn payments_count_on_their_approval_day_under_the_accounts_plan_and_refunds_come_off() {
    let app = TestApp::spawn().await;
    let subscriber = open_account(&app, "paying-subscriber").await;
    let body = app
        .graphql(
            "mutation($input: StartSubscriptionInput!) { startSubscription(input: $input) { caughtUp } }",
            json!({ "input": { "accountId": subscriber,
                "planId": Plan::id_for(&PlanTier::Growth.code()).to_string(), "reason": "signed" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let free = open_account(&app, "free-buyer").await;

    let first = record_payment(&app, &subscriber, 7_900, 1).await;
    approve_payment(&app, &first).await;
    let second = record_payment(&app, &subscriber, 1_000, 100).await;
    approve_payment(&app, &second).await;
    let cheque = payment_mutation(
        &app,
        "recordPayment",
        "RecordPaymentInput",
        json!({ "accountId": free, "amountMinor": 2_500, "currency": "USD", "credits": 250,
                "method": "CHECK", "reference": "CHQ-1" }),
    )
    .await;
    let cheque = cheque["data"]["recordPayment"]["payment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    approve_payment(&app, &cheque).await;
    let refunded = refund_payment(&app, &second, "duplicate transfer").await;
    assert!(refunded["errors"].is_null(), "{refunded}");
    // Recorded but never approved: not revenue.
    record_payment(&app, &free, 99_999, 1).await;

    let today = chrono::Utc::now().date_naive().to_string();
    let report = revenue(&app, &format!("from: \"{today}\", to: \"{today}\"")).await;
    assert_eq!(
        report["facts"],
        json!([
            { "day": today, "planCode": "free", "method": "CHECK", "currency": "USD",
              "paidMinor": 2_500, "payments": 1, "refundedMinor": 0, "refunds": 0, "netMinor": 2_500 },
            { "day": today, "planCode": "growth", "method": "WIRE", "currency": "USD",
              "paidMinor": 8_900, "payments": 2, "refundedMinor": 1_000, "refunds": 1, "netMinor": 7_900 },
        ])
    );
    assert_eq!(
        report["totals"],
        json!([{ "currency": "USD", "paidMinor": 11_400, "payments": 3,
                 "refundedMinor": 1_000, "refunds": 1, "netMinor": 10_400 }])
    );
    let growth = revenue(
        &app,
        &format!(
            "from: \"{today}\", to: \"{today}\", filter: {{ plan: [\"growth\"], method: [WIRE] }}"
        ),
    )
    .await;
    assert_eq!(growth["totals"][0]["netMinor"], 7_900);
    let none = revenue(&app, "from: \"2020-01-01\", to: \"2020-12-31\"").await;
    assert_eq!(none, json!({ "facts": [], "totals": [] }));

    for args in [
        "from: \"2026-02-01\", to: \"2026-01-01\"",
        "from: \"2020-01-01\", to: \"2026-01-01\"",
        &format!("from: \"{today}\", to: \"{today}\", filter: {{ currency: \"usd\" }}"),
    ] {
        let body = app
            .graphql(
                &format!("{{ revenue({args}) {{ totals {{ currency }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{args}: {body}");
    }
}

//! The credit ledger posts in log order, as a bank does: read in posting order each line starts
//! where the previous one ended, whatever the business times (value dates) say.

use crate::accounts::{adjust, consume_as, open_account};
use crate::helpers::{create_service, TestApp};
use serde_json::{json, Value};

async fn lines(app: &TestApp, account: &str, order: &str) -> Vec<Value> {
    let body = app
        .graphql(
            &format!(
                "query($id: ID!) {{ creditLedger(filter: {{ accountId: $id }}, direction: ASC, orderBy: {order}) {{ \
                 nodes {{ position amount balanceAfter occurredAt recordedAt }} }} }}"
            ),
            json!({ "id": account }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["creditLedger"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_ledger_runs_its_balance_in_posting_order_and_shows_value_dates_beside_it() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "late-reports").await;
    adjust(&app, &account, 100, "opening balance").await;
    adjust(&app, &account, 50, "goodwill").await;
    // A usage report that arrives late: its value date lies before both adjustments.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let body = crate::accounts::account_mutation_as(
        &app,
        &platform,
        "consumeCredits",
        "ConsumeCreditsInput",
        json!({ "accountId": account, "operation": "x", "units": 1, "credits": 30, "occurredAt": yesterday }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    consume_as(&app, &platform, &account, 20).await;

    // Posting order (the default): each line continues from the one before.
    let posted = lines(&app, &account, "POSTED").await;
    assert_eq!(posted.len(), 4);
    let mut balance = 0;
    for line in &posted {
        balance += line["amount"].as_i64().unwrap();
        assert_eq!(
            line["balanceAfter"].as_i64().unwrap(),
            balance,
            "{posted:#?}"
        );
        assert!(line["recordedAt"].is_string() && line["occurredAt"].is_string());
    }
    assert_eq!(balance, 100);
    let default_order = app
        .graphql(
            "query($id: ID!) { creditLedger(filter: { accountId: $id }) { nodes { position } } }",
            json!({ "id": account }),
        )
        .await;
    let newest_first: Vec<&Value> = posted.iter().rev().map(|l| &l["position"]).collect();
    let default_positions: Vec<&Value> = default_order["data"]["creditLedger"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["position"])
        .collect();
    assert_eq!(
        default_positions, newest_first,
        "posting order, newest first, by default"
    );

    // By value date the late report comes first, still carrying the balance it was posted with.
    let by_value_date = lines(&app, &account, "VALUE_DATE").await;
    assert_eq!(by_value_date[0]["amount"], -30);
    assert_eq!(by_value_date[0]["balanceAfter"], 120);
}

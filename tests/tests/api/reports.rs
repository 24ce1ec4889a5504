//! Reports: each figure equals an independent fold of the raw event log.

use crate::accounts::{consume_as, open_account};
use crate::helpers::{create_service, error_code, TestApp};
use chrono::Utc;
use serde_json::{json, Value};

const REPORT: &str =
    "query($from: NaiveDate!, $to: NaiveDate!, $by: [UsageDimension!], $limit: Int) { \
    creditUsageReport(from: $from, to: $to, groupBy: $by, limit: $limit) { \
      rows { period accountId accountName operation model credits units uses } \
      totalCredits totalUses truncated } }";

async fn consume(app: &TestApp, token: &str, account: &str, operation: &str, credits: i64) {
    let body = crate::accounts::account_mutation_as(
        app,
        token,
        "consumeCredits",
        "ConsumeCreditsInput",
        json!({ "accountId": account, "operation": operation, "units": 2, "credits": credits }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn the_credit_usage_report_groups_and_ranks_what_the_log_says_was_consumed() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let big = open_account(&app, "big-spender").await;
    let small = open_account(&app, "small-spender").await;
    for account in [&big, &small] {
        assert!(
            crate::accounts::adjust(&app, account, 1_000, "credits to spend").await["errors"]
                .is_null()
        );
    }
    consume_as(&app, &platform, &big, 120).await; // content_generation, gpt-4o-mini
    consume(&app, &platform, &big, "image_generation", 80).await;
    consume(&app, &platform, &small, "image_generation", 15).await;
    let today = Utc::now().date_naive().to_string();
    let report = |by: Value, limit: i64| {
        let app = &app;
        let today = today.clone();
        async move {
            let body = app
                .graphql(
                    REPORT,
                    json!({ "from": today, "to": today, "by": by, "limit": limit }),
                )
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["creditUsageReport"].clone()
        }
    };

    // No command's answer waits for the usage read model: the report shows the last
    // consumption once it has caught up, which it is given a few seconds to.
    let caught_up = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        report(json!([]), 1).await["totalUses"] == 3
    })
    .await;
    assert!(caught_up, "the usage report caught up");
    // Top consumers: accounts, largest first, named.
    let by_account = report(json!(["ACCOUNT"]), 100).await;
    let rows = by_account["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["accountId"], &rows[0]["credits"], &rows[0]["uses"]),
        (&json!(big), &json!(200), &json!(2))
    );
    assert_eq!(rows[0]["accountName"], "Account big-spender");
    assert_eq!(
        (&rows[1]["accountId"], &rows[1]["credits"]),
        (&json!(small), &json!(15))
    );
    assert_eq!(rows[0]["operation"], Value::Null);

    // The totals are the log's, folded independently; a limit truncates rows, not totals.
    let (credits, uses): (i64, i64) = sqlx::query_as(
        "SELECT sum((payload -> 'CreditsConsumed' ->> 'credits')::bigint)::bigint, count(*) \
         FROM events WHERE event_type = 'CreditsConsumed'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let top = report(json!(["OPERATION", "MODEL"]), 1).await;
    assert_eq!(
        (&top["totalCredits"], &top["totalUses"]),
        (&json!(credits), &json!(uses))
    );
    assert_eq!(top["truncated"], true);
    assert_eq!(
        top["rows"],
        json!([{ "period": null, "accountId": null, "accountName": null,
                 "operation": "content_generation", "model": "gpt-4o-mini",
                 "credits": 120, "units": 1, "uses": 1 }])
    );
    let by_period = report(json!(["PERIOD"]), 100).await;
    assert_eq!(by_period["rows"][0]["credits"], credits);
    assert_eq!(by_period["truncated"], false);
}

#[tokio::test]
async fn the_credit_usage_report_refuses_bad_ranges_and_limits_and_is_for_insight() {
    let app = TestApp::spawn().await;
    for (vars, says) in [
        (
            json!({ "from": "2026-02-01", "to": "2026-01-01" }),
            "must not be after",
        ),
        (
            json!({ "from": "1999-01-01", "to": "2026-01-01" }),
            "`from` must lie between",
        ),
        (
            json!({ "from": "2026-01-01", "to": "2026-01-31", "limit": 0 }),
            "`limit` must be between 1 and 1000",
        ),
    ] {
        let body = app.graphql(REPORT, vars.clone()).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{vars}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{vars}: {message}");
    }
    let agent =
        crate::access_matrix::staff_in_group(&app, "agent@igny8.com", "Support Agent").await;
    let (_, refused) = app
        .graphql_as(
            Some(&agent),
            REPORT,
            json!({ "from": "2026-01-01", "to": "2026-01-31" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
}

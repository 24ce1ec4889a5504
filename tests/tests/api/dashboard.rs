//! The dashboard: every figure it serves equals an independent fold of the raw event log.

use crate::accounts::{adjust, consume_as, open_account};
use crate::helpers::{create_service, error_code, TestApp};
use crate::payments::{approve_payment, record_payment};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const DASHBOARD: &str = "query($today: NaiveDate!) { dashboard { today \
    figures(period: TODAY) { metric currency value } \
    accounts { total byStatus { key count } byPlan { key count } lowCredits } \
    pendingPayments { count totals { currency minorUnits } oldestRecordedAt } \
    workInProgress { tasksPending automationsRunning } \
    activeUsers { daily weekly monthly stickinessPercent } \
    projectionLag { maxLagSeconds stuck } \
    series(metric: AI_CALLS, interval: DAY, from: $today, to: $today) { start value } \
    costSeries: series(metric: AI_COST, interval: MONTH, to: $today) { start value } } }";

/// The day's figures folded straight from the log's JSON, by metric and currency: what an
/// auditor holding only the `events` table would compute.
const FOLD: &str = "
WITH e AS (
  SELECT event_type, payload -> event_type AS p FROM events
  WHERE (metadata ->> 'occurred_at')::timestamptz::date = $1::date
), a AS (
  SELECT p -> 'activity' AS x FROM e WHERE event_type = 'ActivityRecorded'
)
SELECT metric, currency, value::bigint FROM (
SELECT 'ACCOUNTS_OPENED', '', count(*)::numeric FROM e WHERE event_type = 'AccountOpened'
UNION ALL SELECT 'CREDITS_GRANTED', '', sum(v) FROM (
  SELECT (p ->> 'amount')::bigint v FROM e WHERE event_type = 'CreditsAdjusted' AND (p ->> 'amount')::bigint > 0
  UNION ALL SELECT (p ->> 'credits')::bigint FROM e WHERE event_type = 'IncludedCreditsGranted') g
UNION ALL SELECT 'CREDITS_DEDUCTED', '', -sum((p ->> 'amount')::bigint) FROM e
  WHERE event_type = 'CreditsAdjusted' AND (p ->> 'amount')::bigint < 0
UNION ALL SELECT 'CREDITS_PURCHASED', '', sum((p ->> 'credits')::bigint) FROM e WHERE event_type = 'CreditsPurchased'
UNION ALL SELECT 'CREDITS_CONSUMED', '', sum((p ->> 'credits')::bigint) FROM e WHERE event_type = 'CreditsConsumed'
UNION ALL SELECT 'REVENUE_PAID', p -> 'amount' ->> 'currency', sum((p -> 'amount' ->> 'minor_units')::bigint)
  FROM e WHERE event_type = 'PaymentApproved' GROUP BY 2
UNION ALL SELECT 'AI_CALLS', '', count(*) FROM a WHERE x ->> 'kind' = 'ai_call'
UNION ALL SELECT 'AI_CALLS_FAILED', '', count(*) FROM a WHERE x ->> 'kind' = 'ai_call' AND NOT (x ->> 'succeeded')::boolean
UNION ALL SELECT 'AI_INPUT_TOKENS', '', sum((x ->> 'input_tokens')::bigint) FROM a WHERE x ->> 'kind' = 'ai_call'
UNION ALL SELECT 'AI_OUTPUT_TOKENS', '', sum((x ->> 'output_tokens')::bigint) FROM a WHERE x ->> 'kind' = 'ai_call'
UNION ALL SELECT 'AI_COST', x -> 'cost' ->> 'currency', sum((x -> 'cost' ->> 'minor_units')::bigint)
  FROM a WHERE x ->> 'kind' = 'ai_call' GROUP BY 2
UNION ALL SELECT 'CONTENT_RECORDS', '', count(*) FROM a WHERE x ->> 'kind' = 'content'
UNION ALL SELECT 'WORDS_PUBLISHED', '', sum((x ->> 'words')::bigint) FROM a
  WHERE x ->> 'kind' = 'content' AND x ->> 'status' = 'published'
UNION ALL SELECT 'AUTOMATIONS_FAILED', '', count(*) FROM a WHERE x ->> 'kind' = 'automation_run' AND x ->> 'status' = 'failed'
UNION ALL SELECT 'SYNCS_FAILED', '', count(*) FROM a WHERE x ->> 'kind' = 'sync' AND NOT (x ->> 'succeeded')::boolean
UNION ALL SELECT 'LOGINS', '', count(*) FROM a WHERE x ->> 'kind' = 'user_activity' AND x ->> 'action' = 'login'
) f(metric, currency, value)
";

#[tokio::test]
async fn every_dashboard_figure_equals_a_fold_of_the_raw_log() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let first = open_account(&app, "dash-one").await;
    let second = open_account(&app, "dash-two").await;
    adjust(&app, &first, 500, "welcome credits").await;
    adjust(&app, &first, -20, "correction").await;
    let paid = record_payment(&app, &second, 4_900, 1_000).await;
    assert!(approve_payment(&app, &paid).await["errors"].is_null());
    let _pending = record_payment(&app, &first, 1_500, 300).await;
    consume_as(&app, &platform, &first, 30).await;
    let now = Utc::now().to_rfc3339();
    let call = |id: &str, cost: i64, succeeded: bool| {
        json!({ "id": id, "accountId": first, "occurredAt": now,
            "aiCall": { "provider": "ANTHROPIC", "model": "claude-3-5-sonnet", "operation": "content_generation",
                "inputTokens": 1000, "outputTokens": 500, "costMinor": cost, "currency": "USD",
                "durationMs": 900, "succeeded": succeeded } })
    };
    let records = json!([
        call("a-1", 12, true),
        call("a-2", 7, false),
        { "id": "c-1", "accountId": second, "occurredAt": now,
          "content": { "contentId": "p-1", "contentType": "page", "status": "PUBLISHED", "words": 800 } },
        { "id": "c-2", "accountId": second, "occurredAt": now,
          "content": { "contentId": "p-2", "contentType": "page", "status": "DRAFT", "words": 300 } },
        { "id": "r-1", "accountId": second, "occurredAt": now,
          "automationRun": { "runId": "run-1", "automation": "weekly", "status": "FAILED", "durationMs": 40 } },
        { "id": "r-2", "accountId": second, "occurredAt": now,
          "automationRun": { "runId": "run-2", "automation": "weekly", "status": "STARTED" } },
        { "id": "t-1", "accountId": second, "occurredAt": now,
          "task": { "taskId": "task-1", "taskType": "write", "status": "PENDING" } },
        { "id": "s-1", "accountId": first, "occurredAt": now,
          "sync": { "target": "wordpress", "succeeded": false } },
        { "id": "l-1", "accountId": first, "occurredAt": now,
          "userActivity": { "userId": "u-1", "action": "LOGIN" } },
    ]);
    let (_, reported) = app
        .graphql_as(
            Some(&platform),
            "mutation($r: [ActivityRecordInput!]!) { reportActivity(records: $r) { recorded } }",
            json!({ "r": records }),
        )
        .await;
    assert_eq!(
        reported["data"]["reportActivity"]["recorded"], 9,
        "{reported}"
    );

    let today = Utc::now().date_naive().to_string();
    let folded: Vec<(String, String, Option<i64>)> = sqlx::query_as(FOLD)
        .bind(&today)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let folded: BTreeMap<(String, String), i64> = folded
        .into_iter()
        .filter_map(|(metric, currency, value)| {
            value.filter(|v| *v != 0).map(|v| ((metric, currency), v))
        })
        .collect();
    // No command's answer waits for the daily figures: the dashboard shows them once the
    // projection has caught up, which it is given a few seconds to.
    let mut body = Value::Null;
    let mut served = BTreeMap::new();
    for _ in 0..200 {
        body = app.graphql(DASHBOARD, json!({ "today": today })).await;
        assert!(body["errors"].is_null(), "{body}");
        served = served_figures(&body["data"]["dashboard"]);
        if served == folded {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let dashboard = &body["data"]["dashboard"];
    assert_eq!(dashboard["today"], today.as_str());
    // Every non-zero figure is what the fold computes, and nothing the fold finds is missing.
    // (Metrics the fold leaves out, e.g. refunds and successful syncs, are zero here.)
    assert_eq!(served, folded);
    assert_eq!(served.get(&("AI_CALLS".into(), "".into())), Some(&2));
    assert_eq!(served.get(&("AI_COST".into(), "USD".into())), Some(&19));
    assert_eq!(
        served.get(&("WORDS_PUBLISHED".into(), "".into())),
        Some(&800)
    );
    assert_eq!(
        served.get(&("REVENUE_PAID".into(), "USD".into())),
        Some(&4_900)
    );
    assert_eq!(
        served.get(&("CREDITS_CONSUMED".into(), "".into())),
        Some(&30)
    );

    // The state figures, counted by hand: the system account `aws-admin` and the two opened
    // here; the first of them holds 450 credits, the second 1,000, `aws-admin` none.
    let accounts = &dashboard["accounts"];
    assert_eq!(accounts["total"], 3, "{accounts}");
    assert_eq!(
        accounts["byStatus"],
        json!([{ "key": "active", "count": 3 }])
    );
    assert_eq!(accounts["lowCredits"], 1);
    let pending = &dashboard["pendingPayments"];
    assert_eq!(pending["count"], 1);
    assert_eq!(
        pending["totals"],
        json!([{ "currency": "USD", "minorUnits": 1_500 }])
    );
    assert_eq!(
        dashboard["workInProgress"],
        json!({ "tasksPending": 1, "automationsRunning": 1 })
    );
    assert_eq!(dashboard["projectionLag"]["stuck"], 0);
    // One person signed in today (the fold's `LOGINS`): DAU = WAU = MAU = 1.
    assert_eq!(
        dashboard["activeUsers"],
        json!({ "daily": 1, "weekly": 1, "monthly": 1, "stickinessPercent": 100.0 })
    );
    assert_eq!(dashboard["series"], json!([{ "start": today, "value": 2 }]));
    let cost = dashboard["costSeries"].as_array().unwrap();
    assert!(!cost.is_empty() && cost.len() <= 2, "{cost:?}");
    assert_eq!(cost.last().unwrap()["value"], 19);
}

#[tokio::test]
async fn the_dashboard_is_for_those_allowed_insight_and_its_series_refuse_bad_ranges() {
    let app = TestApp::spawn().await;
    let agent =
        crate::access_matrix::staff_in_group(&app, "agent@igny8.com", "Support Agent").await;
    let analyst = crate::access_matrix::staff_in_group(&app, "analyst@igny8.com", "Analyst").await;
    let query = "{ dashboard { today } }";
    let (_, refused) = app.graphql_as(Some(&agent), query, json!({})).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let (_, allowed) = app.graphql_as(Some(&analyst), query, json!({})).await;
    assert!(allowed["errors"].is_null(), "{allowed}");
    for (args, says) in [
        (
            "metric: AI_CALLS, from: \"2026-02-01\", to: \"2026-01-01\"",
            "must not be after",
        ),
        (
            "metric: AI_CALLS, from: \"1990-01-01\", to: \"2026-01-01\"",
            "`from` must lie between",
        ),
        (
            "metric: AI_CALLS, interval: DAY, from: \"2020-01-01\", to: \"2026-01-01\"",
            "at most 400 points",
        ),
        ("metric: AI_CALLS, currency: \"USD\"", "takes no `currency`"),
        ("metric: AI_COST, currency: \"dollars\"", "currency"),
    ] {
        let body: Value = app
            .graphql(
                &format!("{{ dashboard {{ series({args}) {{ value }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{args}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{args}: {message}");
    }
}

/// The dashboard's non-zero figures, by metric and currency.
fn served_figures(dashboard: &Value) -> BTreeMap<(String, String), i64> {
    dashboard["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["value"] != 0)
        .map(|f| {
            (
                (
                    f["metric"].as_str().unwrap().to_string(),
                    f["currency"].as_str().unwrap_or("").to_string(),
                ),
                f["value"].as_i64().unwrap(),
            )
        })
        .collect()
}

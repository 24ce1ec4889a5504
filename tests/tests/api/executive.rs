//! Executive metrics: a small hand-computed example, and MRR recomputed from the raw log.

use crate::health::opened_days_ago;
use crate::helpers::{create_service, error_code, eventually, TestApp};
use chrono::{DateTime, TimeZone, Utc};
use domain::billing::plan::PlanTier;
use domain::billing::subscription::{SubscribedPlan, Subscription, SubscriptionCommand};
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{PlanName, Reason, Slug};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const METRICS: &str = "query($from: NaiveDate!, $to: NaiveDate!) { executiveMetrics(from: $from, to: $to) { \
    currency months { month mrrMinor arrMinor payingAccounts arpaMinor newMrrMinor \
      reactivationMrrMinor expansionMrrMinor contractionMrrMinor churnedMrrMinor netNewMrrMinor \
      newAccounts churnedAccounts logoChurnRate revenueChurnRate monthlyActiveUsers \
      averageDailyActiveUsers stickiness aiCalls aiTokens aiCostMinor } \
    plans { planCode revenueMinor payingAccounts aiCalls aiTokens aiCostMinor grossMarginMinor grossMargin } \
    cohorts { month accounts retained retention } definitions { metric definition } } }";

fn on(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 10, 0, 0).unwrap()
}

fn plan(code: &str, price: i64) -> SubscribedPlan {
    SubscribedPlan {
        plan_id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, code.as_bytes()),
        code: Slug::parse(code).unwrap(),
        version: 1,
        tier: PlanTier::Growth,
        name: PlanName::parse(code).unwrap(),
        monthly_price: Money::new(price, Currency::parse("USD").unwrap()),
        included_credits: Credits::new(0),
    }
}

async fn subscription(
    app: &TestApp,
    account: &str,
    at: DateTime<Utc>,
    command: SubscriptionCommand,
) {
    let context = projections::CommandContext::new(domain::Actor::system("test")).occurred_at(at);
    let id = Subscription::id_for(account.parse().unwrap()).to_string();
    app.db
        .bus()
        .execute::<Subscription>(&id, command, &context)
        .await
        .unwrap();
}

fn start(
    account: &str,
    plan: SubscribedPlan,
    at: DateTime<Utc>,
    trial: Option<i64>,
) -> SubscriptionCommand {
    SubscriptionCommand::Start {
        account_id: account.parse().unwrap(),
        plan,
        at,
        trial_days: trial,
    }
}

#[tokio::test]
async fn executive_metrics_match_a_hand_computed_example_and_mrr_a_fold_of_the_raw_log() {
    let app = TestApp::spawn_with(|s| s.scheduler_every = std::time::Duration::ZERO).await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let (starter, growth) = (plan("starter", 2_900), plan("growth", 7_900));
    let a = opened_days_ago(&app, "account-a", 400).await;
    let b = opened_days_ago(&app, "account-b", 400).await;
    let c = opened_days_ago(&app, "account-c", 400).await;
    let d = opened_days_ago(&app, "account-d", 400).await;
    // A: starter on 5 January, growth from the 25th. B: growth on 20 January, cancelled at once
    // on 10 February. C: a trial from 1 February, paying (starter) from the 15th. D: growth on
    // 2 March.
    subscription(
        &app,
        &a,
        on(1, 5),
        start(&a, starter.clone(), on(1, 5), None),
    )
    .await;
    subscription(
        &app,
        &a,
        on(1, 25),
        SubscriptionCommand::Upgrade {
            plan: growth.clone(),
            at: on(1, 25),
        },
    )
    .await;
    subscription(
        &app,
        &b,
        on(1, 20),
        start(&b, growth.clone(), on(1, 20), None),
    )
    .await;
    subscription(
        &app,
        &b,
        on(2, 10),
        SubscriptionCommand::Cancel {
            reason: Reason::parse("too dear").unwrap(),
            at_period_end: false,
            at: on(2, 10),
        },
    )
    .await;
    subscription(
        &app,
        &c,
        on(2, 1),
        start(&c, starter.clone(), on(2, 1), Some(14)),
    )
    .await;
    subscription(
        &app,
        &c,
        on(2, 15),
        SubscriptionCommand::Activate { at: on(2, 15) },
    )
    .await;
    subscription(
        &app,
        &d,
        on(3, 2),
        start(&d, growth.clone(), on(3, 2), None),
    )
    .await;
    // A's people in March (three person-days, two people) and one AI call costing $5.00.
    let records = json!([
        { "id": "login-a-1", "accountId": a, "occurredAt": on(3, 10).to_rfc3339(),
          "userActivity": { "userId": "ann", "action": "LOGIN" } },
        { "id": "login-a-2", "accountId": a, "occurredAt": on(3, 11).to_rfc3339(),
          "userActivity": { "userId": "ann", "action": "LOGIN" } },
        { "id": "login-a-3", "accountId": a, "occurredAt": on(3, 11).to_rfc3339(),
          "userActivity": { "userId": "bob", "action": "ACTIVE" } },
        { "id": "call-a-1", "accountId": a, "occurredAt": on(3, 12).to_rfc3339(),
          "aiCall": { "provider": "OPENAI", "model": "gpt-4o", "operation": "content_generation",
                      "inputTokens": 1000, "outputTokens": 800, "costMinor": 500, "currency": "USD",
                      "durationMs": 900, "succeeded": true } },
    ]);
    let (_, body) = app
        .graphql_as(
            Some(&platform),
            "mutation($r: [ActivityRecordInput!]!) { reportActivity(records: $r) { recorded } }",
            json!({ "r": records }),
        )
        .await;
    assert_eq!(body["data"]["reportActivity"]["recorded"], 4, "{body}");

    let vars = json!({ "from": "2026-01-01", "to": "2026-03-31" });
    let metrics = |vars: Value| {
        let app = &app;
        async move {
            let body = app.graphql(METRICS, vars).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["executiveMetrics"].clone()
        }
    };
    let settled = eventually(std::time::Duration::from_secs(15), || async {
        let m = metrics(vars.clone()).await;
        m["months"][2]["mrrMinor"] == 18_700
            && m["months"][2]["aiCalls"] == 1
            && m["months"][2]["monthlyActiveUsers"] == 2
    })
    .await;
    assert!(settled, "the read models caught up");
    let m = metrics(vars.clone()).await;
    let month = |n: usize, fields: &[&str]| -> Vec<Value> {
        fields.iter().map(|f| m["months"][n][*f].clone()).collect()
    };
    let money = [
        "mrrMinor",
        "arrMinor",
        "payingAccounts",
        "arpaMinor",
        "newMrrMinor",
        "expansionMrrMinor",
        "churnedMrrMinor",
        "netNewMrrMinor",
        "newAccounts",
        "churnedAccounts",
    ];
    assert_eq!(
        month(0, &money),
        [15_800, 189_600, 2, 7_900, 10_800, 5_000, 0, 15_800, 2, 0].map(|n| json!(n))
    );
    assert_eq!(
        month(1, &money),
        [10_800, 129_600, 2, 5_400, 2_900, 0, 7_900, -5_000, 1, 1].map(|n| json!(n))
    );
    assert_eq!(
        month(2, &money),
        [18_700, 224_400, 3, 6_233, 7_900, 0, 0, 7_900, 1, 0].map(|n| json!(n))
    );
    assert_eq!(
        m["months"][0]["logoChurnRate"],
        Value::Null,
        "nobody paid before January"
    );
    assert_eq!(
        month(1, &["logoChurnRate", "revenueChurnRate"]),
        [json!(0.5), json!(0.5)]
    );
    assert_eq!(
        month(
            2,
            &[
                "monthlyActiveUsers",
                "averageDailyActiveUsers",
                "stickiness",
                "aiCalls",
                "aiTokens",
                "aiCostMinor"
            ]
        ),
        [
            json!(2),
            json!(3.0 / 31.0),
            json!(3.0 / 31.0 / 2.0),
            json!(1),
            json!(1_800),
            json!(500)
        ]
    );
    assert_eq!(
        m["plans"],
        json!([
            { "planCode": "growth", "revenueMinor": 39_500, "payingAccounts": 3, "aiCalls": 1,
              "aiTokens": 1_800, "aiCostMinor": 500, "grossMarginMinor": 39_000,
              "grossMargin": 39_000.0 / 39_500.0 },
            { "planCode": "starter", "revenueMinor": 5_800, "payingAccounts": 1, "aiCalls": 0,
              "aiTokens": 0, "aiCostMinor": 0, "grossMarginMinor": 5_800, "grossMargin": 1.0 },
        ])
    );
    assert_eq!(
        m["cohorts"],
        json!([
            { "month": "2026-01-01", "accounts": 2, "retained": [2, 1, 1], "retention": [1.0, 0.5, 0.5] },
            { "month": "2026-02-01", "accounts": 1, "retained": [1, 1], "retention": [1.0, 1.0] },
            { "month": "2026-03-01", "accounts": 1, "retained": [1], "retention": [1.0] },
        ])
    );
    assert!(
        m["definitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["metric"] == "mrr"
                && d["definition"].as_str().unwrap().contains("annual plan"))
    );

    // An auditor's recomputation: each account's MRR from the raw subscription events' JSON.
    let events: Vec<(String, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT event_type, payload -> event_type, (metadata ->> 'occurred_at')::timestamptz \
         FROM events WHERE aggregate_type = 'subscription' ORDER BY position",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut history: BTreeMap<String, Vec<(DateTime<Utc>, i64)>> = BTreeMap::new();
    for (kind, p, at) in events {
        let price = |plan: &Value| plan["monthly_price"]["minor_units"].as_i64().unwrap();
        let live =
            |p: &Value| ["active", "past_due"].contains(&p["status"].as_str().unwrap_or_default());
        let mrr = match kind.as_str() {
            "SubscriptionStarted" | "SubscriptionRenewed" => {
                Some(if live(&p) { price(&p["plan"]) } else { 0 })
            }
            "SubscriptionActivated" => Some(price(&p["plan"])),
            "SubscriptionUpgraded" => Some(price(&p["to"])),
            "SubscriptionCancelled" | "SubscriptionExpired" => Some(0),
            _ => None,
        };
        if let Some(mrr) = mrr {
            history
                .entry(p["account_id"].as_str().unwrap().to_string())
                .or_default()
                .push((at, mrr));
        }
    }
    for (n, end) in [(0, (2, 1)), (1, (3, 1)), (2, (4, 1))] {
        let end = Utc.with_ymd_and_hms(2026, end.0, end.1, 0, 0, 0).unwrap();
        let folded: i64 = history
            .values()
            .filter_map(|h| {
                h.iter()
                    .filter(|(at, _)| *at < end)
                    .max_by_key(|(at, _)| *at)
            })
            .map(|(_, mrr)| mrr)
            .sum();
        assert_eq!(m["months"][n]["mrrMinor"], folded, "month {n}");
    }

    // Bad ranges and currencies are refused with codes; only those allowed insight may read.
    for vars in [
        json!({ "from": "2026-03-01", "to": "2026-01-01" }),
        json!({ "from": "2023-01-01", "to": "2026-12-01" }),
    ] {
        let body = app.graphql(METRICS, vars.clone()).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{vars}: {body}");
    }
    let (_, body) = app.graphql_as(Some(&platform), METRICS, vars).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
}

//! Account health: the score, status and reasons of a small hand-computed example, and the
//! account list filtered by health.

use crate::accounts::{adjust, consume_as};
use crate::helpers::{create_service, eventually, TestApp};
use chrono::{DateTime, Duration, Utc};
use domain::billing::plan::PlanTier;
use domain::kit::values::{AccountName, Email, Slug};
use serde_json::{json, Value};

const HEALTH: &str = "query($id: ID!) { account(id: $id) { health { score status \
    reasons { signal severity penalty message } burnPerDay runwayDays overdueInvoices \
    overdueDays failedRuns finishedRuns activeRecent activeBefore } } }";

/// An account opened `days` ago, as the platform's history would have it (a system principal
/// may backdate).
pub(crate) async fn opened_days_ago(app: &TestApp, slug: &str, days: i64) -> String {
    let id = uuid::Uuid::new_v4();
    let context = projections::CommandContext::new(domain::Actor::system("test"))
        .occurred_at(Utc::now() - Duration::days(days));
    api::tenancy::open(
        &app.db.bus(),
        &context,
        id,
        AccountName::parse(&format!("Account {slug}")).unwrap(),
        Slug::parse(slug).unwrap(),
        Email::parse(&format!("owner@{slug}.example.com")).unwrap(),
        PlanTier::Free,
    )
    .await
    .unwrap();
    id.to_string()
}

fn login(account: &str, user: &str, at: DateTime<Utc>) -> Value {
    json!({
        "id": format!("login-{account}-{user}-{}", at.timestamp()), "accountId": account,
        "occurredAt": at.to_rfc3339(), "userActivity": { "userId": user, "action": "LOGIN" }
    })
}

fn sync(account: &str, n: usize, succeeded: bool) -> Value {
    json!({
        "id": format!("sync-{account}-{n}"), "accountId": account,
        "occurredAt": (Utc::now() - Duration::hours(1)).to_rfc3339(),
        "sync": { "target": "wordpress", "succeeded": succeeded }
    })
}

async fn health(app: &TestApp, account: &str) -> Value {
    let body = app.graphql(HEALTH, json!({ "id": account })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["account"]["health"].clone()
}

async fn listed(app: &TestApp, statuses: Value) -> Vec<String> {
    let body = app
        .graphql(
            "query($h: [HealthStatus!]) { accounts(first: 50, filter: { health: $h }) { \
             edges { node { id } } } }",
            json!({ "h": statuses }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let mut ids: Vec<String> = body["data"]["accounts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn health_scores_a_hand_computed_example_and_filters_the_account_list() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let struggling = opened_days_ago(&app, "struggling", 40).await;
    let flaky = opened_days_ago(&app, "flaky", 40).await;
    let fading = opened_days_ago(&app, "fading", 40).await;
    let fresh = opened_days_ago(&app, "fresh", 40).await;

    // Struggling: 100 credits, 90 consumed in the last 30 days (3 a day): 3 days of runway
    // (60), and an invoice 10 days past due (35). Score 5: critical.
    assert!(adjust(&app, &struggling, 100, "starting credits").await["errors"].is_null());
    assert!(consume_as(&app, &platform, &struggling, 90).await["errors"].is_null());
    crate::invoices::overdue_invoice(&app, &struggling, 4_900).await;

    // Flaky: 1 of 5 syncs failed this week (a fifth: 35); 6 person-days of activity 20 days
    // ago and 4 this week (not half or fewer: no penalty). Score 65: at risk.
    let mut records: Vec<Value> = (0..5).map(|n| sync(&flaky, n, n != 0)).collect();
    // Fading: 6 person-days 20 days ago, none since (60). Score 40: critical.
    for (account, recent) in [(&flaky, 4), (&fading, 0)] {
        for n in 0..6 {
            records.push(login(
                account,
                &format!("u{n}"),
                Utc::now() - Duration::days(20),
            ));
        }
        for n in 0..recent {
            records.push(login(
                account,
                &format!("u{n}"),
                Utc::now() - Duration::hours(2),
            ));
        }
    }
    let (_, body) = app
        .graphql_as(
            Some(&platform),
            "mutation($r: [ActivityRecordInput!]!) { reportActivity(records: $r) { recorded refused } }",
            json!({ "r": records }),
        )
        .await;
    assert_eq!(body["data"]["reportActivity"]["recorded"], 21, "{body}");

    // The activity and usage read models do not hold up commands' answers: wait for them.
    let settled = eventually(std::time::Duration::from_secs(15), || async {
        health(&app, &fading).await["status"] == "CRITICAL"
            && health(&app, &flaky).await["finishedRuns"] == 5
            && health(&app, &struggling).await["runwayDays"] == 3
    })
    .await;
    assert!(settled, "the read models caught up");

    let struggling_health = health(&app, &struggling).await;
    assert_eq!(
        struggling_health,
        json!({
            "score": 5, "status": "CRITICAL",
            "reasons": [
                { "signal": "RUNWAY", "severity": "CRITICAL", "penalty": 60,
                  "message": "credits run out in about 3 days at the last 30 days' burn of 3.00 a day" },
                { "signal": "PAYMENT", "severity": "WARNING", "penalty": 35,
                  "message": "1 invoice(s) pending past due, the oldest by 10 days" },
            ],
            "burnPerDay": 3.0, "runwayDays": 3, "overdueInvoices": 1, "overdueDays": 10,
            "failedRuns": 0, "finishedRuns": 0, "activeRecent": 0, "activeBefore": 0,
        })
    );
    let flaky_health = health(&app, &flaky).await;
    assert_eq!(
        (&flaky_health["score"], &flaky_health["status"]),
        (&json!(65), &json!("AT_RISK"))
    );
    assert_eq!(
        flaky_health["reasons"],
        json!([{ "signal": "FAILURES", "severity": "WARNING", "penalty": 35,
                 "message": "1 of 5 automation runs, syncs and publishes failed in the last 7 days" }])
    );
    assert_eq!(
        (&flaky_health["activeRecent"], &flaky_health["activeBefore"]),
        (&json!(4), &json!(6))
    );
    let fading_health = health(&app, &fading).await;
    assert_eq!(fading_health["score"], 40);
    assert_eq!(fading_health["reasons"][0]["signal"], "ACTIVITY");
    let fresh_health = health(&app, &fresh).await;
    assert_eq!(
        (
            &fresh_health["score"],
            &fresh_health["status"],
            &fresh_health["reasons"],
            &fresh_health["runwayDays"]
        ),
        (&json!(100), &json!("HEALTHY"), &json!([]), &Value::Null)
    );

    // The account list filters by health, as it reads it.
    let mut critical = vec![struggling.clone(), fading.clone()];
    critical.sort();
    assert_eq!(listed(&app, json!(["CRITICAL"])).await, critical);
    assert_eq!(listed(&app, json!(["AT_RISK"])).await, vec![flaky.clone()]);
    // The system account, which every installation has, is healthy too.
    let mut healthy = vec![
        fresh.clone(),
        domain::tenancy::account::SYSTEM_ACCOUNT_ID.to_string(),
    ];
    healthy.sort();
    assert_eq!(listed(&app, json!(["HEALTHY"])).await, healthy);
    assert_eq!(listed(&app, Value::Null).await.len(), 5);
}

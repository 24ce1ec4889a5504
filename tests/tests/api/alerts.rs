//! Alerts: rules as data, alerts raised and resolved by the evaluator as events, acknowledged
//! and snoozed by people, and a live feed of every change.

use crate::accounts::open_account;
use crate::helpers::{error_code, eventually, subscribe, websocket, TestApp};
use crate::payments::{approve_payment, record_payment};
use chrono::{Duration, Utc};
use futures::StreamExt;
use projections::insight::alerting::Evaluator;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const ALERT: &str = "id ruleId ruleName subject severity status value message acknowledgedBy \
    acknowledgeNote snoozedUntil resolveMessage episodes position";

async fn must(app: &TestApp, token: &str, mutation: &str, input: Value, fields: &str) -> Value {
    let (_, body) = app
        .graphql_as(
            Some(token),
            &format!(
                "mutation($i: {}!) {{ {mutation}(input: $i) {{ {fields} }} }}",
                input_type(mutation)
            ),
            json!({ "i": input }),
        )
        .await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    body["data"][mutation].clone()
}

fn input_type(mutation: &str) -> &'static str {
    match mutation {
        "defineAlertRule" => "DefineAlertRuleInput",
        "changeAlertRule" => "ChangeAlertRuleInput",
        "enableAlertRule" | "disableAlertRule" => "AlertRuleReasonInput",
        "acknowledgeAlert" => "AcknowledgeAlertInput",
        "snoozeAlert" => "SnoozeAlertInput",
        other => panic!("no input for {other}"),
    }
}

async fn alerts(app: &TestApp, filter: Value) -> Vec<Value> {
    let body = app
        .graphql(
            &format!("query($f: AlertFilter) {{ alerts(filter: $f) {{ {ALERT} }} }}"),
            json!({ "f": filter }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["alerts"].as_array().unwrap().clone()
}

async fn evaluate(app: &TestApp) {
    let report = Evaluator::new(app.db.bus())
        .run(Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert!(report.ran);
}

#[tokio::test]
async fn an_alert_is_raised_acknowledged_snoozed_and_resolved_as_events_and_fed_live() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(
            "{ alertRules { name enabled condition { kind days } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["alertRules"].as_array().unwrap().len(),
        7,
        "{body}"
    );

    let rule = must(
        &app,
        &app.token,
        "defineAlertRule",
        json!({ "rule": { "name": "Any payment waiting", "severity": "CRITICAL",
                          "condition": { "kind": "PENDING_PAYMENTS", "days": 0 } },
                "reason": "we approve payments the same day" }),
        "rule { id name enabled severity condition { kind days percent } }",
    )
    .await["rule"]
        .clone();
    assert_eq!(
        (&rule["enabled"], &rule["condition"]),
        (
            &json!(true),
            &json!({ "kind": "PENDING_PAYMENTS", "days": 0, "percent": null })
        )
    );
    let rule_id = rule["id"].as_str().unwrap().to_string();
    let mine = json!({ "ruleId": rule_id });
    let account = open_account(&app, "waiting").await;
    let payment = record_payment(&app, &account, 4_900, 100).await;

    evaluate(&app).await;
    let raised = eventually(std::time::Duration::from_secs(10), || async {
        alerts(&app, mine.clone()).await.len() == 1
    })
    .await;
    assert!(raised, "the alert is raised");
    let alert = alerts(&app, mine.clone()).await[0].clone();
    let id = alert["id"].as_str().unwrap().to_string();
    assert_eq!(id, format!("{rule_id}:all"));
    assert_eq!(
        (
            &alert["status"],
            &alert["severity"],
            &alert["value"],
            &alert["episodes"]
        ),
        (&json!("OPEN"), &json!("CRITICAL"), &json!(1.0), &json!(1))
    );
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .starts_with("1 payment(s) awaiting approval"),
        "{alert}"
    );
    // A second run changes nothing: the alert is open.
    evaluate(&app).await;
    let body = app
        .graphql(
            "{ dashboard { openAlerts { critical warning snoozed } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["dashboard"]["openAlerts"]["critical"],
        1 + crate::alerts::open_critical_builtins(&app).await,
        "{body}"
    );

    // The live feed, from the raise on: acknowledging and snoozing are pushed as they happen.
    let mut socket = websocket(&app, Some(&app.token)).await;
    subscribe(
        &mut socket,
        &format!(
            "subscription {{ alertChanges(after: {}) {{ id status acknowledgedBy snoozedUntil }} }}",
            alert["position"]
        ),
    )
    .await;
    must(
        &app,
        &app.token,
        "acknowledgeAlert",
        json!({ "id": id, "note": "calling the bank" }),
        "alert { acknowledgedBy acknowledgeNote }",
    )
    .await;
    let until = (Utc::now() + Duration::hours(2)).to_rfc3339();
    must(
        &app,
        &app.token,
        "snoozeAlert",
        json!({ "id": id, "until": until, "reason": "the bank answers at noon" }),
        "alert { snoozedUntil }",
    )
    .await;
    let mut fed = Vec::new();
    while fed.len() < 2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(20), socket.next())
            .await
            .expect("a change arrives");
        let Some(Ok(Message::Text(text))) = message else {
            panic!("the socket closed: {message:?}");
        };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "next" {
            fed.push(message["payload"]["data"]["alertChanges"].clone());
        }
    }
    assert!(fed[0]["acknowledgedBy"].is_string(), "{fed:?}");
    assert!(fed[1]["snoozedUntil"].is_string(), "{fed:?}");

    // Snoozed: out of the active list, in the full one.
    assert!(alerts(&app, mine.clone()).await.is_empty());
    let mut snoozed = mine.clone();
    snoozed["includeSnoozed"] = json!(true);
    assert_eq!(alerts(&app, snoozed).await.len(), 1);

    // The payment is approved: the next run resolves the alert; a new one raises it again.
    assert!(approve_payment(&app, &payment).await["errors"].is_null());
    evaluate(&app).await;
    let mut resolved = mine.clone();
    resolved["status"] = json!(["RESOLVED"]);
    let cleared = eventually(std::time::Duration::from_secs(10), || async {
        alerts(&app, resolved.clone()).await.len() == 1
    })
    .await;
    assert!(cleared, "the alert is resolved");
    let (_, refused) = app
        .graphql_as(
            Some(&app.token),
            "mutation($i: AcknowledgeAlertInput!) { acknowledgeAlert(input: $i) { alert { id } } }",
            json!({ "i": { "id": id } }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    record_payment(&app, &account, 1_000, 10).await;
    evaluate(&app).await;
    let again = eventually(std::time::Duration::from_secs(10), || async {
        alerts(&app, mine.clone())
            .await
            .first()
            .is_some_and(|a| a["episodes"] == 2 && a["acknowledgedBy"].is_null())
    })
    .await;
    assert!(again, "raised again, a new episode");

    // Disabling the rule resolves its alert at the next run.
    must(
        &app,
        &app.token,
        "disableAlertRule",
        json!({ "id": rule_id, "reason": "too noisy" }),
        "rule { enabled }",
    )
    .await;
    evaluate(&app).await;
    let disabled = eventually(std::time::Duration::from_secs(10), || async {
        alerts(&app, resolved.clone())
            .await
            .first()
            .is_some_and(|a| a["resolveMessage"] == "the rule was disabled")
    })
    .await;
    assert!(disabled, "resolved when its rule was disabled");

    // The log tells it all, step by step, with who did what: an auditor's fold of the raw events.
    let steps: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_type, metadata ->> 'actor_id' FROM events \
         WHERE aggregate_type = 'alert' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let types: Vec<&str> = steps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "AlertRaised",
            "AlertAcknowledged",
            "AlertSnoozed",
            "AlertResolved",
            "AlertRaised",
            "AlertResolved"
        ]
    );
    assert_eq!(steps[0].1, "alerts");
    assert_ne!(steps[1].1, "alerts", "a person acknowledged it");
}

#[tokio::test]
async fn alert_rules_are_for_superusers_and_bad_rules_and_steps_are_refused_with_codes() {
    let app = TestApp::spawn().await;
    let analyst = crate::access_matrix::staff_in_group(&app, "analyst@igny8.com", "Analyst").await;
    let agent =
        crate::access_matrix::staff_in_group(&app, "agent@igny8.com", "Support Agent").await;
    let define =
        "mutation($i: DefineAlertRuleInput!) { defineAlertRule(input: $i) { rule { id } } }";
    let rule = |condition: Value| {
        json!({ "i": { "rule": { "name": "Rule", "severity": "WARNING", "condition": condition },
                       "reason": "testing" } })
    };
    let (_, body) = app
        .graphql_as(
            Some(&analyst),
            define,
            rule(json!({ "kind": "PROJECTION_LAG", "seconds": 30 })),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    for (condition, says) in [
        (
            json!({ "kind": "FAILURE_RATE", "percent": 20, "minRuns": 5 }),
            "needs `activity`",
        ),
        (
            json!({ "kind": "FAILURE_RATE", "activity": "SYNC", "percent": 0, "minRuns": 5 }),
            "`percent` must be between 1 and 100",
        ),
        (
            json!({ "kind": "LOW_CREDITS", "days": -1 }),
            "must not be negative",
        ),
        (json!({ "kind": "PROJECTION_LAG" }), "needs `seconds`"),
    ] {
        let (_, body) = app
            .graphql_as(Some(&app.token), define, rule(condition))
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let (_, body) = app
        .graphql_as(Some(&agent), "{ alerts { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let (_, body) = app
        .graphql_as(
            Some(&analyst),
            "{ alerts { id } alertRules { id } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = app
        .graphql_as(
            Some(&analyst),
            "mutation($i: AcknowledgeAlertInput!) { acknowledgeAlert(input: $i) { alert { id } } }",
            json!({ "i": { "id": "nothing:all" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = app.graphql("{ alerts(first: 0) { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

/// Open critical alerts of the built-in rules (a test's log may trip them).
async fn open_critical_builtins(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM read.alerts a JOIN read.alert_rules r ON r.id = a.rule_id \
         WHERE a.status = 'open' AND a.severity = 'critical' AND r.name <> 'Any payment waiting'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

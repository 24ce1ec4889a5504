//! One event a handler cannot apply stops that handler at it, visibly, and nothing else: every
//! other handler, the write path and the start-up go on. And business time is checked at the
//! boundary, so such an event cannot come in through the API.

use crate::accounts::{account_mutation_as, adjust, event_count, open_account};
use crate::helpers::{create_operator, create_service, error_code, eventually, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn business_time_before_2000_or_in_the_future_is_refused_and_appends_nothing() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "metered").await;
    // Credits to spend, so a refusal can only be the business time's.
    adjust(&app, &account, 100, "opening balance").await;
    let before = event_count(&app).await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for at in [
        "-4713-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        future.as_str(),
    ] {
        let body = account_mutation_as(
            &app,
            &platform,
            "consumeCredits",
            "ConsumeCreditsInput",
            json!({ "accountId": account, "operation": "x", "units": 1, "credits": 1, "occurredAt": at }),
        )
        .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{at}: {body}");
    }
    assert_eq!(event_count(&app).await, before);
}

/// Appends a hand-made row for `aggregate_id` of the account aggregate, as a newer build or a
/// person with SQL might; its position.
async fn hand_made(
    app: &TestApp,
    aggregate_id: &str,
    event_type: &str,
    payload: Value,
    metadata: Value,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ('account', $1, 1, $2, '1', $3, $4) RETURNING position",
    )
    .bind(aggregate_id)
    .bind(event_type)
    .bind(payload)
    .bind(metadata)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

fn metadata() -> Value {
    json!({ "actor_id": "hand", "actor_kind": "system", "correlation_id": "c",
            "occurred_at": "2026-11-01T00:00:00Z" })
}

#[tokio::test]
async fn an_event_a_projection_cannot_apply_stops_only_the_projections_that_read_it() {
    let app = TestApp::spawn().await;
    // A type this build does not know (a newer writer): skipped, not a stop.
    let unknown = hand_made(
        &app,
        "11111111-1111-4111-8111-111111111111",
        "AccountTeleported",
        json!({ "AccountTeleported": {} }),
        metadata(),
    )
    .await;
    // A known type whose metadata cannot be read: the readers of accounts stop at it.
    let bad = hand_made(
        &app,
        "22222222-2222-4222-8222-222222222222",
        "AccountRenamed",
        json!({ "AccountRenamed": { "name": "x" } }),
        json!({ "actor_id": 7 }),
    )
    .await;
    assert!(unknown < bad);

    let held = eventually(Duration::from_secs(20), || async {
        let body = app
            .graphql(
                "{ projections { name position stuck { position eventType cause } } }",
                json!({}),
            )
            .await;
        let stuck: Vec<(String, i64)> = body["data"]["projections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !p["stuck"].is_null())
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["stuck"]["position"].as_i64().unwrap(),
                )
            })
            .collect();
        let mut names: Vec<&str> = stuck.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names == ["accounts", "audit_log", "credit_ledger"]
            && stuck.iter().all(|(_, at)| *at == bad)
    })
    .await;
    let body = app
        .graphql(
            "{ projections { name position stuck { position eventType cause since } } }",
            json!({}),
        )
        .await;
    assert!(
        held,
        "accounts, credit_ledger and audit_log held at {bad}: {body}"
    );
    for projection in body["data"]["projections"].as_array().unwrap() {
        if !projection["stuck"].is_null() {
            assert_eq!(
                projection["stuck"]["eventType"], "AccountRenamed",
                "{projection}"
            );
            assert_eq!(
                projection["position"],
                bad - 1,
                "everything before it applied: {projection}"
            );
            assert!(
                projection["stuck"]["cause"]
                    .as_str()
                    .unwrap()
                    .contains("metadata"),
                "{projection}"
            );
        }
    }

    // Readiness says so, and the metric.
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = response.json().await.unwrap();
    assert_eq!(ready["ready"], false);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("igny8_projection_stuck{projection=\"accounts\"} 1"),
        "{metrics}"
    );

    // The write path and the other projections go on: a new operator is registered and can sign in.
    let body = app
        .graphql(
            "mutation { registerOperator(input: { email: \"new@example.com\", displayName: \"New\" }) { operator { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["registerOperator"]["operator"]["email"], "new@example.com",
        "{body}"
    );

    // A process started on this log starts and serves (`serve` and `create-operator` alike).
    let token = create_operator(&app.db.settings(), "later@example.com", false).await;
    let (status, body) = app
        .graphql_as(Some(&token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["me"]["email"], "later@example.com");
    let second = api::startup::Application::build(app.db.settings())
        .await
        .expect("a second server starts on this log");
    let addr = second.local_addr();
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(second.run_until(stop.clone()));
    let response = app
        .http
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    stop.cancel();
    serving.await.unwrap().unwrap();
}

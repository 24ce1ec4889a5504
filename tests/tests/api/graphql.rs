use crate::helpers::{create_operator, error_code, subscribe, websocket, TestApp};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const REGISTER: &str =
    "mutation($input: RegisterOperatorInput!) { registerOperator(input: $input) { \
    position caughtUp replayed operator { id email displayName superuser } } }";

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    for token in [None, Some("igny8_not-a-real-token"), Some("garbage")] {
        let (status, body) = app.graphql_as(token, "{ me { email } }", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        assert!(body["data"].is_null());
    }
    let (status, body) = app
        .graphql_as(Some(&app.token), "{ me { email superuser } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["me"],
        json!({ "email": "root@example.com", "superuser": true })
    );
}

#[tokio::test]
async fn a_mutation_answers_with_its_position_and_already_reads_its_own_write() {
    let app = TestApp::spawn().await;
    let input = json!({ "input": { "email": "Grace@Example.com", "displayName": "Grace Hopper" } });
    let body = app.graphql(REGISTER, input).await;
    let payload = &body["data"]["registerOperator"];
    assert_eq!(payload["caughtUp"], true, "{body}");
    assert_eq!(payload["replayed"], false);
    assert_eq!(payload["operator"]["email"], "grace@example.com");
    assert_eq!(payload["operator"]["superuser"], false);
    let position: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(payload["position"], position);

    let actor: String =
        sqlx::query_scalar("SELECT metadata ->> 'actor_id' FROM events WHERE position = $1")
            .bind(position)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let me = app.graphql("{ me { id } }", json!({})).await;
    assert_eq!(
        me["data"]["me"]["id"], actor,
        "the caller is recorded as the actor"
    );
}

#[tokio::test]
async fn bad_input_gets_a_validation_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = event_count(&app).await;
    let long_name = "x".repeat(121);
    for (email, name) in [
        ("not-an-email", "Someone"),
        ("someone@example.com", "   "),
        ("someone@example.com", long_name.as_str()),
    ] {
        let body = app
            .graphql(
                REGISTER,
                json!({ "input": { "email": email, "displayName": name } }),
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        assert!(!body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    let body = app
        .graphql(
            "mutation { issueOperatorToken(input: { operatorId: \"nope\", label: \"x\" }) { tokenId } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn registering_the_same_address_twice_is_a_conflict() {
    let app = TestApp::spawn().await;
    let input = json!({ "input": { "email": "ada@example.com", "displayName": "Ada" } });
    app.graphql(REGISTER, input.clone()).await;
    let body = app.graphql(REGISTER, input).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
}

#[tokio::test]
async fn only_a_superuser_may_register_operators() {
    let app = TestApp::spawn().await;
    let support = create_operator(&app.db.settings(), "support@example.com", false).await;
    let before = event_count(&app).await;
    let (_, body) = app
        .graphql_as(
            Some(&support),
            REGISTER,
            json!({ "input": { "email": "new@example.com", "displayName": "New" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn an_issued_token_works_at_once_and_stops_working_when_revoked() {
    let app = TestApp::spawn().await;
    let me = app.graphql("{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let issued = app
        .graphql(
            "mutation($id: ID!) { issueOperatorToken(input: { operatorId: $id, label: \"script\" }) { tokenId token caughtUp } }",
            json!({ "id": me }),
        )
        .await;
    let payload = &issued["data"]["issueOperatorToken"];
    let token = payload["token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    let (status, _) = app
        .graphql_as(Some(&token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'")
            .bind(&token)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the token itself is never stored");

    let revoked = app
        .graphql(
            "mutation($id: ID!, $token: ID!) { revokeOperatorToken(input: { operatorId: $id, tokenId: $token, reason: \"rotated\" }) { caughtUp } }",
            json!({ "id": me, "token": payload["tokenId"] }),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeOperatorToken"]["caughtUp"], true,
        "{revoked}"
    );
    let (status, body) = app
        .graphql_as(Some(&token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn retrying_a_mutation_with_its_idempotency_key_returns_the_first_outcome() {
    let app = TestApp::spawn().await;
    let input = json!({ "input": { "email": "lin@example.com", "displayName": "Lin", "idempotencyKey": "register-lin" } });
    let first = app.graphql(REGISTER, input.clone()).await;
    let before = event_count(&app).await;
    let second = app.graphql(REGISTER, input).await;
    assert_eq!(
        second["data"]["registerOperator"]["replayed"], true,
        "{second}"
    );
    assert_eq!(
        second["data"]["registerOperator"]["position"],
        first["data"]["registerOperator"]["position"]
    );
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn operators_page_with_cursors_and_a_total_count() {
    let app = TestApp::spawn().await;
    for n in 0..5 {
        app.graphql(
            REGISTER,
            json!({ "input": { "email": format!("user{n}@example.com"), "displayName": format!("User {n}") } }),
        )
        .await;
    }
    let page = "query($after: String) { operators(first: 4, after: $after, filter: { search: \"user\" }) { \
        totalCount pageInfo { hasNextPage endCursor } edges { node { email } } } }";
    let first = app.graphql(page, json!({ "after": null })).await;
    let connection = &first["data"]["operators"];
    assert_eq!(connection["totalCount"], 5, "{first}");
    assert_eq!(connection["edges"].as_array().unwrap().len(), 4);
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
    let second = app
        .graphql(
            page,
            json!({ "after": connection["pageInfo"]["endCursor"] }),
        )
        .await;
    let rest: Vec<&Value> = second["data"]["operators"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        second["data"]["operators"]["pageInfo"]["hasNextPage"],
        false
    );

    for bad in [
        "{ operators(first: 0) { totalCount } }",
        "{ operators(first: 101) { totalCount } }",
        "{ operators(after: \"bogus\") { totalCount } }",
    ] {
        let body = app.graphql(bad, json!({})).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn health_readiness_metrics_and_graphiql_are_served() {
    let app = TestApp::spawn().await;
    // Clients name their operations in `operationName`; metrics are labelled by it.
    let named = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .json(&json!({ "query": "query Who { me { id } }", "operationName": "Who" }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    let names: Vec<&str> = ready["projections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "accounts",
        "audit_log",
        "credit_ledger",
        "operators",
        "payment_approval",
        "payments",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "igny8_graphql_requests_total{operation=\"Who\",outcome=\"ok\"}",
        "igny8_graphql_request_duration_seconds_bucket{operation=\"Who\"",
        "igny8_commands_total{aggregate=\"operator\",outcome=\"ok\"}",
        "igny8_events_appended_total{aggregate=\"operator\"}",
        "igny8_projection_lag_seconds{projection=\"operators\"}",
    ] {
        assert!(metrics.contains(series), "missing {series} in:\n{metrics}");
    }

    let graphiql = app
        .http
        .get(app.url("/graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(graphiql.contains("graphiql"), "GraphiQL page");

    let all_caught_up = crate::helpers::eventually(Duration::from_secs(10), || async {
        let body = app
            .graphql(
                "{ projections { name position pending lagSeconds } }",
                json!({}),
            )
            .await;
        let list = body["data"]["projections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.len() == 26
            && list
                .iter()
                .all(|p| p["pending"] == 0 && p["position"].as_i64() > Some(0))
    })
    .await;
    assert!(
        all_caught_up,
        "every projection reports its position and no pending events"
    );
}

#[tokio::test]
async fn a_websocket_subscriber_sees_projection_progress_and_needs_a_token() {
    let app = TestApp::spawn().await;
    let next_json = |message: Option<Result<Message, _>>| -> Value {
        match message {
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text).unwrap(),
            other => json!({ "closed": format!("{other:?}") }),
        }
    };

    let mut refused = websocket(&app, None).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), refused.next())
        .await
        .unwrap();
    assert_ne!(
        next_json(answer)["type"],
        "connection_ack",
        "no token, no subscription"
    );

    let mut socket = websocket(&app, Some(&app.token)).await;
    let ack = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    assert_eq!(next_json(ack)["type"], "connection_ack");
    subscribe(
        &mut socket,
        "subscription { projectionProgress { name position } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = app
        .graphql(
            REGISTER,
            json!({ "input": { "email": "sub@example.com", "displayName": "Sub" } }),
        )
        .await;
    let position = body["data"]["registerOperator"]["position"]
        .as_i64()
        .unwrap();
    let mut seen = None;
    while seen.is_none() {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("progress arrives");
        let message = next_json(message);
        if message["type"] == "next" {
            let progress = &message["payload"]["data"]["projectionProgress"];
            if progress["name"] == "operators" && progress["position"].as_i64() >= Some(position) {
                seen = Some(progress.clone());
            }
        }
    }
    assert!(seen.is_some());
}

#[tokio::test]
async fn the_operators_read_model_rebuilt_from_the_log_equals_the_incremental_one() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        app.graphql(
            REGISTER,
            json!({ "input": { "email": format!("r{n}@example.com"), "displayName": format!("R {n}"), "superuser": n == 0 } }),
        )
        .await;
    }
    let snapshot = || async {
        let operators: Vec<(String, String, bool, i64)> = sqlx::query_as(
            "SELECT id::text, email, superuser, last_position FROM read.operators ORDER BY id",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        let tokens: Vec<(String, String, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
            "SELECT token_id::text, token_hash, revoked_at FROM read.operator_tokens ORDER BY token_id",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        (operators, tokens)
    };
    let incremental = snapshot().await;
    let (_, engine) = api::startup::open(&app.db.settings()).await.unwrap();
    engine.rebuild("operators").await.unwrap();
    assert_eq!(snapshot().await, incremental);
}

#[tokio::test]
async fn shutdown_drains_and_stops_cleanly() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    tokio::time::timeout(Duration::from_secs(15), app.stop())
        .await
        .expect("stops within the grace period")
        .expect("stops without error");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

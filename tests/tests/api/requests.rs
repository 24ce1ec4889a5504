//! What clients get wrong, answered as GraphQL error documents with a code: malformed HTTP
//! bodies, cursors from elsewhere, characters and dates PostgreSQL cannot hold. And what
//! standard clients send, answered: the introspection documents of graphql-js, GraphiQL and
//! graphql-core.

use crate::accounts::{adjust, open_account};
use crate::helpers::{error_code, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Posts `body` with `content_type` as the superuser; the status and the JSON answer.
async fn post(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("answer is not JSON ({status}): {text}"));
    (status, body)
}

/// A GraphQL error document: `data` null, one error with a message and `code`.
fn assert_error_document(body: &Value, code: &str) {
    assert_eq!(error_code(body), Some(code), "{body}");
    assert!(body["data"].is_null(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{body}");
}

#[tokio::test]
async fn every_malformed_request_is_answered_as_a_graphql_error_with_a_code() {
    let app = TestApp::spawn().await;
    let json_type = "application/json";
    let cases: Vec<(&str, &str, String, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            json_type,
            "{\"query\": ".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "not an object",
            json_type,
            "42".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "query not a string",
            json_type,
            "{\"query\": 5}".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "no query",
            json_type,
            "{\"variables\": {}}".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "a batch",
            json_type,
            "[{\"query\": \"{ me { id } }\"}, {\"query\": \"{ me { id } }\"}]".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "plain text",
            "text/plain",
            "{ me { id } }".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "a form",
            "application/x-www-form-urlencoded",
            "query=%7B%20me%20%7B%20id%20%7D%20%7D".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "multipart",
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--x--\r\n"
                .into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let (got, answer) = post(&app, content_type, body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_error_document(&answer, code);
        let text = answer.to_string();
        assert!(
            !text.contains("serde") && !text.contains("Error("),
            "{what}: no internals: {text}"
        );
    }

    let huge = "x".repeat(api::http::MAX_BODY_BYTES + 1);
    let oversized = json!({ "query": format!("{{ me {{ id }} }} # {huge}") }).to_string();
    let (status, answer) = post(&app, json_type, oversized.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_document(&answer, "PAYLOAD_TOO_LARGE");

    // A chunked body (no length given up front) is read like any other, and held to the limit.
    let chunks = |text: String| {
        let parts: Vec<Result<String, std::io::Error>> = text
            .as_bytes()
            .chunks(1000)
            .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(parts))
    };
    let (status, answer) = post(
        &app,
        json_type,
        chunks(json!({ "query": "{ me { email } }" }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["me"]["email"], "root@example.com");
    let (status, answer) = post(&app, json_type, chunks(oversized)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_document(&answer, "PAYLOAD_TOO_LARGE");

    let response = app.http.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error_document(&response.json().await.unwrap(), "BAD_REQUEST");
}

#[tokio::test]
async fn the_introspection_documents_standard_clients_send_are_answered() {
    let app = TestApp::spawn().await;
    let documents = [
        (
            "graphql-js getIntrospectionQuery()",
            include_str!("../../introspection/graphql-js.graphql"),
        ),
        (
            "GraphiQL",
            include_str!("../../introspection/graphiql.graphql"),
        ),
        (
            "graphql-js, every option",
            include_str!("../../introspection/graphql-js-all.graphql"),
        ),
        (
            "graphql-core get_introspection_query()",
            include_str!("../../introspection/graphql-core.graphql"),
        ),
    ];
    for (client, document) in documents {
        let body = app
            .graphql_as(Some(&app.token), document, json!({}))
            .await
            .1;
        assert!(body["errors"].is_null(), "{client}: {body}");
        let types = body["data"]["__schema"]["types"].as_array().expect("types");
        assert!(types.iter().any(|t| t["name"] == "Account"), "{client}");
    }
    // The limits still hold: introspection nested beyond its bound is refused.
    let nested = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let body = app.graphql(&nested, json!({})).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("nested too deep"));
}

#[tokio::test]
async fn cursors_from_another_list_or_order_or_with_wrong_values_are_validation_errors() {
    let app = TestApp::spawn().await;
    for slug in ["alpha", "bravo", "charlie"] {
        let id = open_account(&app, slug).await;
        adjust(&app, &id, 10, "seed").await;
    }
    let cursor = |body: &Value, list: &str| {
        body["data"][list]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let accounts = app
        .graphql(
            "{ accounts(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let by_name = app
        .graphql(
            "{ accounts(first: 1, sort: { field: NAME }) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    // The same list and column in the other direction: values of the right types, so only
    // the cursor's order tag tells it apart.
    let ascending = app
        .graphql(
            "{ accounts(first: 1, sort: { direction: ASC }) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let ledger = app
        .graphql(
            "{ creditLedger(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let (accounts, by_name, ascending, ledger) = (
        cursor(&accounts, "accounts"),
        cursor(&by_name, "accounts"),
        cursor(&ascending, "accounts"),
        cursor(&ledger, "creditLedger"),
    );

    // Well-formed cursors (base64 JSON of the cursor's shape) holding values of the wrong type.
    let forged = |value: &str, id: &str, order: &str| {
        use base64::Engine;
        let json = json!({ "order": order, "value": value, "id": id }).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    };
    let tag = "read.accounts:created_at:Desc";
    let cases = [
        ("accounts", ledger.clone()),
        ("accounts", by_name.clone()),
        ("accounts", ascending.clone()),
        ("creditLedger", accounts.clone()),
        (
            "accounts",
            forged("not a time", "00000000-0000-0000-0000-000000000000", tag),
        ),
        (
            "accounts",
            forged("2026-01-01T00:00:00.000000Z", "not-a-uuid", tag),
        ),
        (
            "accounts",
            forged(
                "2026-01-01T00:00:00Z\u{0}",
                "00000000-0000-0000-0000-000000000000",
                tag,
            ),
        ),
        ("accounts", "bm90IGpzb24".to_string()),
    ];
    for (list, cursor) in cases {
        let body = app
            .graphql(
                &format!(
                    "query($after: String) {{ {list}(first: 1, after: $after) {{ totalCount }} }}"
                ),
                json!({ "after": cursor }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("VALIDATION"),
            "{list} after {cursor}: {body}"
        );
    }
    // And a cursor used where it belongs still pages.
    let body = app
        .graphql(
            "query($after: String) { accounts(first: 1, after: $after) { nodes { slug } } }",
            json!({ "after": accounts }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn nul_characters_and_dates_postgres_cannot_hold_are_validation_errors_in_every_filter() {
    let app = TestApp::spawn().await;
    let queries = [
        ("accounts search", "{ accounts(filter: { search: \"a\\u0000b\" }) { totalCount } }"),
        ("account by slug", "{ account(slug: \"a\\u0000b\") { id } }"),
        ("operators search", "{ operators(filter: { search: \"a\\u0000b\" }) { totalCount } }"),
        ("audit actor", "{ auditLog(filter: { actorId: \"a\\u0000b\" }) { totalCount } }"),
        ("audit action", "{ auditLog(filter: { action: \"a\\u0000b\" }) { totalCount } }"),
        ("ancient date", "{ accounts(filter: { created: { from: \"-4713-01-01T00:00:00Z\" } }) { totalCount } }"),
        ("far date", "{ creditLedger(filter: { occurred: { to: \"+200000-01-01T00:00:00Z\" } }) { totalCount } }"),
        ("before 2000", "{ payments(filter: { recorded: { from: \"1999-12-31T23:59:59Z\" } }) { totalCount } }"),
        ("audit date", "{ auditLog(filter: { occurred: { from: \"0001-01-01T00:00:00Z\" } }) { totalCount } }"),
    ];
    for (what, query) in queries {
        let body = app.graphql(query, json!({})).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{what}: {body}");
    }
}

/// Apollo's and Relay's persisted queries: a hash the server does not hold asks for the text
/// (`PERSISTED_QUERY_NOT_FOUND`, with the message those clients look for); the text with its
/// hash is answered and kept; then the hash alone is answered; a hash that is not its text's
/// is refused, and so is a version other than 1.
#[tokio::test]
async fn persisted_queries_are_answered_by_hash_once_the_server_holds_them() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    open_account(&app, "persisted").await;
    let query = "query Persisted { accounts(first: 5) { totalCount edges { node { slug } } } }";
    let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
    let persisted = |hash: &str| json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let by_hash = json!({ "extensions": persisted(&hash) }).to_string();
    let (status, body) = post(&app, "application/json", by_hash.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        error_code(&body),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );

    let with_text = json!({ "query": query, "extensions": persisted(&hash) }).to_string();
    let (_, first) = post(&app, "application/json", with_text).await;
    let slugs = first["data"]["accounts"]["edges"].to_string();
    assert!(slugs.contains("\"persisted\""), "{first}");

    let (_, again) = post(&app, "application/json", by_hash).await;
    assert_eq!(again, first, "the hash alone is answered as the text was");

    let forged = json!({ "query": query, "extensions": persisted(&"0".repeat(64)) }).to_string();
    let (_, body) = post(&app, "application/json", forged).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    let version_two = json!({ "query": query, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } });
    let (_, body) = post(&app, "application/json", version_two.to_string()).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

/// A client that declares optional variables and leaves them out (as generated clients do)
/// gets each argument's default, not a refusal: async-graphql hands the resolver a null there,
/// which the resolvers replace with the default the schema states.
#[tokio::test]
async fn optional_variables_left_out_take_the_arguments_defaults() {
    let app = crate::helpers::TestApp::spawn().await;
    for query in [
        "query($d: SortDirection, $o: LedgerOrder) { creditLedger(first: 1, direction: $d, orderBy: $o) { totalCount } }",
        "query($d: SortDirection) { auditLog(first: 1, direction: $d) { totalCount } }",
        "query($d: SortDirection) { payments(first: 1, direction: $d) { totalCount } }",
        "query($p: Period) { dashboard { figures(period: $p) { value } } }",
        "query($i: Interval) { dashboard { series(metric: AI_CALLS, interval: $i) { value } } }",
        "query($by: [UsageDimension!], $l: Int) { creditUsageReport(from: \"2026-01-01\", to: \"2026-01-31\", groupBy: $by, limit: $l) { totalCredits } }",
    ] {
        let body = app.graphql(query, serde_json::json!({})).await;
        assert!(body["errors"].is_null(), "{query}: {body}");
    }
}

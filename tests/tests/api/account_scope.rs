//! A platform user's token acts within their own account only: account A's people never see or
//! touch account B, in data, totals, errors or cursors, and see nothing of the staff's business.

use crate::access_matrix::user_token;
use crate::accounts::{adjust, event_count, open_account};
use crate::helpers::{error_code, TestApp};
use crate::payments::record_payment;
use crate::platform_users::add_as;
use serde_json::{json, Value};

#[tokio::test]
async fn account_a_never_sees_or_touches_account_b() {
    let app = TestApp::spawn().await;
    let a = open_account(&app, "alpha").await;
    let b = open_account(&app, "beta-secret").await;
    for account in [&a, &b] {
        adjust(&app, account, 100, "opening balance").await;
        record_payment(&app, account, 1_000, 10).await;
    }
    let owner = add_as(&app, &app.token, &a, "olive@alpha.example", "OWNER", false).await;
    let owner_id = owner["data"]["addPlatformUser"]["user"]["id"].clone();
    let bob = add_as(&app, &app.token, &b, "bob@beta.example", "OWNER", false).await;
    let bob_id = bob["data"]["addPlatformUser"]["user"]["id"].clone();
    let b_payment: String =
        sqlx::query_scalar("SELECT id::text FROM read.payments WHERE account_id = $1::uuid")
            .bind(&b)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let olive = user_token(&app, &owner_id).await;
    let before = event_count(&app).await;

    let ask = |query: String| {
        let olive = olive.clone();
        let app = &app;
        async move { app.graphql_as(Some(&olive), &query, json!({})).await.1 }
    };
    let secrets = [b.as_str(), "beta", "bob@", b_payment.as_str()];
    let leaks = |body: &Value| {
        let text = body.to_string();
        secrets
            .iter()
            .find(|s| text.contains(*s))
            .map(|s| s.to_string())
    };

    // Their own account, and only it, in lists and totals.
    let body = ask("{ accounts { totalCount nodes { id name } } }".into()).await;
    assert_eq!(body["data"]["accounts"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["accounts"]["nodes"][0]["id"], a.as_str());
    let body = ask("{ creditLedger { totalCount nodes { accountId } } }".into()).await;
    assert!(
        body["data"]["creditLedger"]["totalCount"].as_i64().unwrap() > 0,
        "{body}"
    );
    let body = ask("{ payments { totalCount } platformUsers { totalCount } }".into()).await;
    assert_eq!(body["data"]["payments"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["platformUsers"]["totalCount"], 1, "{body}");

    // Asking for B by id, slug, filter or search answers nothing.
    for query in [
        format!("{{ account(id: \"{b}\") {{ name }} }}"),
        "{ account(slug: \"beta-secret\") { name } }".to_string(),
        "{ accounts(filter: { search: \"beta\" }) { totalCount nodes { name } } }".to_string(),
        format!("{{ creditLedger(filter: {{ accountId: \"{b}\" }}) {{ totalCount nodes {{ amount }} }} }}"),
        format!("{{ payments(filter: {{ accountId: \"{b}\" }}) {{ totalCount nodes {{ id }} }} }}"),
        format!("{{ payment(id: \"{b_payment}\") {{ amountMinor }} }}"),
        format!("{{ platformUsers(filter: {{ accountId: \"{b}\" }}) {{ totalCount nodes {{ email }} }} }}"),
        format!("{{ platformUser(id: {bob_id}) {{ email }} }}"),
    ] {
        let body = ask(query.clone()).await;
        assert!(body["errors"].is_null(), "{query}: {body}");
        assert_eq!(leaks(&body), None, "{query}: {body}");
        let data = body["data"].as_object().unwrap().values().next().unwrap().clone();
        assert!(
            data.is_null() || data["totalCount"] == 0,
            "{query} answered something: {body}"
        );
    }

    // Cursors: A's own carry nothing of B, and a cursor that points at B (taken from the
    // staff's view of the same list) only pages on through A's rows.
    let staff = app
        .graphql(
            "{ accounts(first: 50, sort: { field: NAME, direction: ASC }) { edges { cursor node { id } } } }",
            json!({}),
        )
        .await;
    let at_b = staff["data"]["accounts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["id"] == b.as_str())
        .expect("the staff see B")["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    for after in [None, Some(at_b)] {
        let after = after
            .map(|c| format!(", after: \"{c}\""))
            .unwrap_or_default();
        let body = ask(format!(
            "{{ accounts(first: 50, sort: {{ field: NAME, direction: ASC }}{after}) {{ totalCount edges {{ cursor node {{ id }} }} pageInfo {{ endCursor }} }} }}"
        ))
        .await;
        assert!(body["errors"].is_null(), "{body}");
        for edge in body["data"]["accounts"]["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["id"], a.as_str(), "{body}");
            use base64::Engine as _;
            let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(edge["cursor"].as_str().unwrap())
                .unwrap();
            let cursor = String::from_utf8_lossy(&cursor);
            assert!(!cursor.contains(&b) && !cursor.contains("beta"), "{cursor}");
        }
        assert_eq!(body["data"]["accounts"]["totalCount"], 1, "{body}");
    }

    // Acting on B is refused, the same whether or not what they named exists.
    for (query, code) in [
        (
            format!("mutation {{ addPlatformUser(input: {{ accountId: \"{b}\", email: \"eve@x.example\", name: \"Eve\", role: ADMIN }}) {{ user {{ id }} }} }}"),
            "FORBIDDEN",
        ),
        (
            format!("mutation {{ deactivatePlatformUser(input: {{ userId: {bob_id} }}) {{ user {{ id }} }} }}"),
            "NOT_FOUND",
        ),
        (
            format!("mutation {{ deactivatePlatformUser(input: {{ userId: \"{}\" }}) {{ user {{ id }} }} }}", uuid::Uuid::new_v4()),
            "NOT_FOUND",
        ),
        (
            format!("mutation {{ issuePlatformUserToken(input: {{ userId: {bob_id}, label: \"mine\" }}) {{ token }} }}"),
            "NOT_FOUND",
        ),
        (
            format!("mutation {{ adjustCredits(input: {{ accountId: \"{a}\", amount: 1000, reason: \"free money\" }}) {{ position }} }}"),
            "FORBIDDEN",
        ),
        ("{ auditLog { totalCount } }".to_string(), "FORBIDDEN"),
        ("{ operators { totalCount } }".to_string(), "FORBIDDEN"),
        ("{ permissionGroups { name } }".to_string(), "FORBIDDEN"),
        ("{ me { id } }".to_string(), "FORBIDDEN"),
        (
            format!("{{ aggregateHistory(aggregateType: \"account\", aggregateId: \"{b}\") {{ totalCount }} }}"),
            "FORBIDDEN",
        ),
    ] {
        let body = ask(query.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{query}: {body}");
        assert_eq!(leaks(&body), None, "{query}: {body}");
    }
    assert_eq!(event_count(&app).await, before, "nothing appended");

    // Within A, the owner manages A's people, as themselves.
    let ed = add_as(&app, &olive, &a, "ed@alpha.example", "EDITOR", false).await;
    assert!(ed["errors"].is_null(), "{ed}");
    let trail = app
        .graphql(
            "{ auditLog(first: 1, filter: { action: \"UserAdded\" }, direction: DESC) { nodes { actorId actorKind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        trail["data"]["auditLog"]["nodes"][0]["actorId"], owner_id,
        "{trail}"
    );
    assert_eq!(
        trail["data"]["auditLog"]["nodes"][0]["actorKind"], "account_user",
        "{trail}"
    );

    // A viewer reads and changes nothing.
    let viewer = add_as(&app, &olive, &a, "vi@alpha.example", "VIEWER", false).await;
    let viewer = user_token(&app, &viewer["data"]["addPlatformUser"]["user"]["id"]).await;
    let body = add_as(&app, &viewer, &a, "nope@alpha.example", "EDITOR", false).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let (_, body) = app
        .graphql_as(Some(&viewer), "{ accounts { totalCount } }", json!({}))
        .await;
    assert_eq!(body["data"]["accounts"]["totalCount"], 1, "{body}");
}

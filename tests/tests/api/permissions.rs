//! Operators may do what their permission groups grant, from the next request after a change;
//! superusers may do everything and are the only ones who manage groups.

use crate::accounts::{adjust, event_count, open_account};
use crate::helpers::{create_operator, create_service, error_code, TestApp};
use serde_json::{json, Value};

const GROUP_FIELDS: &str = "group { id name permissions memberIds } position caughtUp";

async fn groups(app: &TestApp) -> Value {
    let body = app
        .graphql(
            "{ permissionGroups { id name permissions memberIds } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["permissionGroups"].clone()
}

async fn group_id(app: &TestApp, name: &str) -> String {
    groups(app)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs a group mutation as the superuser; the whole body.
async fn manage(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    manage_as(app, &app.token, mutation, input_type, input).await
}

async fn manage_as(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> Value {
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {GROUP_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
    .1
}

async fn must_manage(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    let body = manage(app, mutation, input_type, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation]["group"].clone()
}

async fn operator_id(app: &TestApp, token: &str) -> String {
    let (_, body) = app
        .graphql_as(Some(token), "{ me { id } }", json!({}))
        .await;
    body["data"]["me"]["id"].as_str().unwrap().to_string()
}

async fn accounts_as(app: &TestApp, token: &str) -> Value {
    app.graphql_as(Some(token), "{ accounts { totalCount } }", json!({}))
        .await
        .1
}

async fn adjust_as(app: &TestApp, token: &str, account: &str) -> Value {
    app.graphql_as(
        Some(token),
        "mutation($input: AdjustCreditsInput!) { adjustCredits(input: $input) { position } }",
        json!({ "input": { "accountId": account, "amount": 5, "reason": "goodwill" } }),
    )
    .await
    .1
}

#[tokio::test]
async fn the_seeds_staff_roles_exist_from_the_first_start() {
    let app = TestApp::spawn().await;
    let found = groups(&app).await;
    let by_name = |name: &str| -> Vec<String> {
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing in {found}"))["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        by_name("Billing Administrator"),
        [
            "accounts.read",
            "billing.read",
            "billing.write",
            "credits.adjust",
            "operators.read",
            "payments.approve"
        ]
    );
    assert_eq!(
        by_name("Content Manager"),
        [
            "accounts.read",
            "content.write",
            "operators.read",
            "prompts.write"
        ]
    );
    assert_eq!(
        by_name("Support Agent"),
        [
            "accounts.read",
            "audit.read",
            "billing.read",
            "operators.read",
            "users.read"
        ]
    );
    // A second start on the same log appends nothing more.
    let before = event_count(&app).await;
    let second = api::startup::Application::build(app.db.settings())
        .await
        .expect("a second start");
    drop(second);
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn a_group_grants_its_members_what_it_holds_from_their_next_request() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "granted").await;
    adjust(&app, &account, 100, "opening balance").await;
    let ada = create_operator(&app.db.settings(), "ada@example.com", false).await;
    let ada_id = operator_id(&app, &ada).await;

    // In no group, an operator may see who they are and nothing of the platform.
    let body = accounts_as(&app, &ada).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`accounts.read`"),
        "{body}"
    );
    let (_, me) = app
        .graphql_as(
            Some(&ada),
            "{ me { permissions groups { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["permissions"], json!([]), "{me}");

    // A Support Agent reads, and changes nothing.
    let support = group_id(&app, "Support Agent").await;
    let member = json!({ "groupId": support, "operatorId": ada_id, "reason": "joined support" });
    let group = must_manage(&app, "addGroupMember", "GroupMemberInput", member.clone()).await;
    assert_eq!(group["memberIds"], json!([ada_id]));
    let body = accounts_as(&app, &ada).await;
    assert!(body["errors"].is_null(), "{body}");
    let before = event_count(&app).await;
    let body = adjust_as(&app, &ada, &account).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(event_count(&app).await, before, "a refusal appends nothing");

    // A group of one's own making grants exactly what it holds, and loses it when revoked.
    let desk = must_manage(
        &app,
        "createPermissionGroup",
        "CreatePermissionGroupInput",
        json!({ "name": "Credit Desk", "permissions": ["credits.adjust"], "reason": "goodwill credits" }),
    )
    .await;
    let desk_id = desk["id"].as_str().unwrap();
    must_manage(
        &app,
        "addGroupMember",
        "GroupMemberInput",
        json!({ "groupId": desk_id, "operatorId": ada_id, "reason": "on the desk" }),
    )
    .await;
    let body = adjust_as(&app, &ada, &account).await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, me) = app
        .graphql_as(
            Some(&ada),
            "{ me { permissions groups { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["me"]["groups"],
        json!([{ "name": "Credit Desk" }, { "name": "Support Agent" }])
    );
    assert!(me["data"]["me"]["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("credits.adjust")));
    must_manage(
        &app,
        "revokeGroupPermission",
        "GroupPermissionInput",
        json!({ "groupId": desk_id, "permission": "credits.adjust", "reason": "desk closed" }),
    )
    .await;
    let body = adjust_as(&app, &ada, &account).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    // Out of the group, out of its permissions.
    must_manage(&app, "removeGroupMember", "GroupMemberInput", member).await;
    let body = accounts_as(&app, &ada).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    // Every change is in the audit trail, with who made it and why.
    let root = operator_id(&app, &app.token).await;
    let trail = app
        .graphql(
            "{ auditLog(first: 50, filter: { aggregateType: \"group\" }) { nodes { action actorId reason } } }",
            json!({}),
        )
        .await;
    assert!(trail["errors"].is_null(), "{trail}");
    let mine: Vec<(String, String)> = trail["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["actorId"] == root.as_str())
        .map(|n| {
            (
                n["action"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for expected in [
        ("GroupMemberAdded", "joined support"),
        ("GroupCreated", "goodwill credits"),
        ("GroupMemberAdded", "on the desk"),
        ("GroupPermissionRevoked", "desk closed"),
        ("GroupMemberRemoved", "joined support"),
    ] {
        assert!(
            mine.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {mine:?}"
        );
    }
}

#[tokio::test]
async fn only_superusers_manage_groups_and_mistakes_change_nothing() {
    let app = TestApp::spawn().await;
    let billing = create_operator(&app.db.settings(), "bill@example.com", false).await;
    let billing_id = operator_id(&app, &billing).await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let platform_id: String =
        sqlx::query_scalar("SELECT id::text FROM read.operators WHERE service")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let admins = group_id(&app, "Billing Administrator").await;
    must_manage(
        &app,
        "addGroupMember",
        "GroupMemberInput",
        json!({ "groupId": admins, "operatorId": billing_id, "reason": "hired" }),
    )
    .await;
    let before = event_count(&app).await;

    let create = |name: &str, permissions: Value, reason: &str| json!({ "name": name, "permissions": permissions, "reason": reason });
    for token in [billing.as_str(), platform.as_str()] {
        let body = manage_as(
            &app,
            token,
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create("Mine", json!(["audit.read"]), "because"),
        )
        .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = manage_as(
            &app,
            token,
            "addGroupMember",
            "GroupMemberInput",
            json!({ "groupId": admins, "operatorId": platform_id, "reason": "x" }),
        )
        .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }

    let cases = [
        (
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create("Readers", json!(["accounts.delete"]), "r"),
            "VALIDATION",
            "there is no permission `accounts.delete`",
        ),
        (
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create("Admins", json!(["operators.manage"]), "r"),
            "VALIDATION",
            "held by superusers alone",
        ),
        (
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create("support agent", json!([]), "r"),
            "CONFLICT",
            "already exists",
        ),
        (
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create("Readers", json!(["audit.read"]), " "),
            "VALIDATION",
            "reason",
        ),
        (
            "createPermissionGroup",
            "CreatePermissionGroupInput",
            create(&"n".repeat(81), json!([]), "r"),
            "VALIDATION",
            "group name",
        ),
        (
            "grantGroupPermission",
            "GroupPermissionInput",
            json!({ "groupId": admins, "permission": "billing.read", "reason": "r" }),
            "CONFLICT",
            "already grants `billing.read`",
        ),
        (
            "grantGroupPermission",
            "GroupPermissionInput",
            json!({ "groupId": admins, "permission": "settings.global", "reason": "r" }),
            "VALIDATION",
            "held by superusers alone",
        ),
        (
            "grantGroupPermission",
            "GroupPermissionInput",
            json!({ "groupId": uuid::Uuid::new_v4(), "permission": "audit.read", "reason": "r" }),
            "NOT_FOUND",
            "no such group",
        ),
        (
            "addGroupMember",
            "GroupMemberInput",
            json!({ "groupId": admins, "operatorId": uuid::Uuid::new_v4(), "reason": "r" }),
            "NOT_FOUND",
            "no operator",
        ),
        (
            "addGroupMember",
            "GroupMemberInput",
            json!({ "groupId": admins, "operatorId": platform_id, "reason": "r" }),
            "VALIDATION",
            "service principal",
        ),
        (
            "addGroupMember",
            "GroupMemberInput",
            json!({ "groupId": admins, "operatorId": billing_id, "reason": "r" }),
            "CONFLICT",
            "already in the group",
        ),
        (
            "removeGroupMember",
            "GroupMemberInput",
            json!({ "groupId": "not-an-id", "operatorId": billing_id, "reason": "r" }),
            "VALIDATION",
            "`groupId` is not a valid id",
        ),
    ];
    for (mutation, input_type, input, code, message) in cases {
        let body = manage(&app, mutation, input_type, input.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{mutation} {input}: {body}");
        let said = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(said.contains(message), "{mutation} {input}: {said}");
    }
    assert_eq!(event_count(&app).await, before, "mistakes append nothing");

    // The export of the audit trail needs `audit.read`, which billing administrators lack.
    let response = app
        .http
        .get(app.url("/export/audit-log?format=csv"))
        .bearer_auth(&billing)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FORBIDDEN);
}

//! The people of tenant accounts: their lifecycle, the one owner per account, one address per
//! person on the whole platform, and the users list's filters.

use crate::accounts::{event_count, open_account};
use crate::helpers::{error_code, TestApp};
use serde_json::{json, Value};

const USER_FIELDS: &str = "user { id accountId email name role status emailVerified deleted \
    passwordResetRequestedAt } caughtUp";

async fn call(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    app.graphql(
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {USER_FIELDS} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

async fn must(app: &TestApp, mutation: &str, input_type: &str, input: Value) -> Value {
    let body = call(app, mutation, input_type, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation]["user"].clone()
}

async fn add(app: &TestApp, account: &str, email: &str, role: &str, invite: bool) -> Value {
    add_as(app, &app.token, account, email, role, invite).await
}

/// Adds (or, with `invite`, invites) a user of `account` as the holder of `token`; the body.
pub async fn add_as(
    app: &TestApp,
    token: &str,
    account: &str,
    email: &str,
    role: &str,
    invite: bool,
) -> Value {
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: AddPlatformUserInput!) {{ addPlatformUser(input: $input) {{ {USER_FIELDS} }} }}"
        ),
        json!({ "input": { "accountId": account, "email": email, "name": "Someone", "role": role, "invite": invite } }),
    )
    .await
    .1
}

async fn act(app: &TestApp, mutation: &str, user: &Value) -> Value {
    call(
        app,
        mutation,
        "PlatformUserInput",
        json!({ "userId": user["id"], "reason": "support ticket 42" }),
    )
    .await
}

async fn list(app: &TestApp, filter: Value) -> Vec<String> {
    let body = app
        .graphql(
            "query($filter: PlatformUserFilter) { platformUsers(first: 50, filter: $filter) { totalCount nodes { email } } }",
            json!({ "filter": filter }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let nodes = body["data"]["platformUsers"]["nodes"].as_array().unwrap();
    assert_eq!(body["data"]["platformUsers"]["totalCount"], nodes.len());
    let mut emails: Vec<String> = nodes
        .iter()
        .map(|n| n["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn a_users_life_and_the_one_owner_of_an_account() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "people").await;

    // The first user is the owner; no other role comes first.
    let body = add(&app, &account, "ed@people.example", "EDITOR", false).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    let owner = add(&app, &account, "Olive@People.example", "OWNER", false).await;
    let owner = owner["data"]["addPlatformUser"]["user"].clone();
    assert_eq!(owner["email"], "olive@people.example");
    assert_eq!(owner["role"], "OWNER");
    assert_eq!(owner["status"], "ACTIVE");
    let body = add(&app, &account, "second@people.example", "OWNER", false).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");

    // An invitation is active once activated; e-mail verified; a reset asked for.
    let ada = add(&app, &account, "ada@people.example", "ADMIN", true).await;
    let ada = ada["data"]["addPlatformUser"]["user"].clone();
    assert_eq!(ada["status"], "INVITED");
    let ada = must(
        &app,
        "activatePlatformUser",
        "PlatformUserInput",
        json!({ "userId": ada["id"] }),
    )
    .await;
    assert_eq!(ada["status"], "ACTIVE");
    let ada = must(
        &app,
        "verifyPlatformUserEmail",
        "PlatformUserInput",
        json!({ "userId": ada["id"] }),
    )
    .await;
    assert_eq!(ada["emailVerified"], true);
    let ada = must(
        &app,
        "requestPlatformUserPasswordReset",
        "PlatformUserInput",
        json!({ "userId": ada["id"] }),
    )
    .await;
    assert!(ada["passwordResetRequestedAt"].is_string(), "{ada}");
    let ada = must(
        &app,
        "changePlatformUserRole",
        "ChangePlatformUserRoleInput",
        json!({ "userId": ada["id"], "role": "EDITOR", "reason": "moved to content" }),
    )
    .await;
    assert_eq!(ada["role"], "EDITOR");

    // The owner stays until ownership moves; then the old owner is an admin like any other.
    let before = event_count(&app).await;
    for mutation in ["deactivatePlatformUser", "deletePlatformUser"] {
        let body = act(&app, mutation, &owner).await;
        assert_eq!(error_code(&body), Some("CONFLICT"), "{mutation}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("transfer ownership first"),
            "{body}"
        );
    }
    let body = call(
        &app,
        "changePlatformUserRole",
        "ChangePlatformUserRoleInput",
        json!({ "userId": ada["id"], "role": "OWNER" }),
    )
    .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    assert_eq!(event_count(&app).await, before, "refusals append nothing");
    let new_owner = act(&app, "transferAccountOwnership", &ada).await;
    assert_eq!(
        new_owner["data"]["transferAccountOwnership"]["user"]["role"], "OWNER",
        "{new_owner}"
    );
    let old = app
        .graphql(
            "query($id: ID!) { platformUser(id: $id) { role } }",
            json!({ "id": owner["id"] }),
        )
        .await;
    assert_eq!(old["data"]["platformUser"]["role"], "ADMIN", "{old}");
    let gone = act(&app, "deletePlatformUser", &owner).await;
    assert_eq!(
        gone["data"]["deletePlatformUser"]["user"]["deleted"], true,
        "{gone}"
    );

    // The list: deleted users only when asked for; filters by account, role, status, verified,
    // search, date joined.
    assert_eq!(
        list(&app, json!({ "accountId": account })).await,
        ["ada@people.example"]
    );
    assert_eq!(
        list(&app, json!({ "accountId": account, "deleted": true })).await,
        ["olive@people.example"]
    );
    assert_eq!(
        list(&app, json!({ "role": ["OWNER"] })).await,
        ["ada@people.example"]
    );
    assert_eq!(
        list(&app, json!({ "emailVerified": false })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(&app, json!({ "status": ["ACTIVE"], "search": "ADA" })).await,
        ["ada@people.example"]
    );
    assert_eq!(
        list(
            &app,
            json!({ "joined": { "from": "2000-01-01T00:00:00Z", "to": "2001-01-01T00:00:00Z" } })
        )
        .await,
        Vec::<String>::new()
    );
    let restored = act(&app, "restorePlatformUser", &owner).await;
    assert_eq!(
        restored["data"]["restorePlatformUser"]["user"]["deleted"], false,
        "{restored}"
    );

    // The account's users' history tells it all, with the reasons given.
    let history = app
        .graphql(
            "query($id: String!) { aggregateHistory(aggregateType: \"account_users\", aggregateId: $id, first: 50) { nodes { reason events { eventType } } } }",
            json!({ "id": account }),
        )
        .await;
    let text = history.to_string();
    for expected in [
        "UserAdded",
        "OwnershipTransferred",
        "UserDeleted",
        "UserRestored",
        "moved to content",
        "support ticket 42",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
}

#[tokio::test]
async fn an_address_belongs_to_one_person_on_the_whole_platform() {
    let app = TestApp::spawn().await;
    let first = open_account(&app, "first").await;
    let second = open_account(&app, "second").await;
    let body = add(&app, &first, "sam@example.com", "OWNER", false).await;
    assert!(body["errors"].is_null(), "{body}");
    let before = event_count(&app).await;
    let body = add(&app, &second, "SAM@example.com", "OWNER", false).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    assert_eq!(event_count(&app).await, before);

    // Mistakes are said plainly and change nothing.
    let unknown = uuid::Uuid::new_v4().to_string();
    for (input, code) in [
        (
            json!({ "accountId": unknown, "email": "x@example.com", "name": "X", "role": "OWNER" }),
            "NOT_FOUND",
        ),
        (
            json!({ "accountId": second, "email": "not an address", "name": "X", "role": "OWNER" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": second, "email": "x@example.com", "name": " ", "role": "OWNER" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": "nope", "email": "x@example.com", "name": "X", "role": "OWNER" }),
            "VALIDATION",
        ),
    ] {
        let body = call(
            &app,
            "addPlatformUser",
            "AddPlatformUserInput",
            input.clone(),
        )
        .await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
    }
    let body = act(&app, "activatePlatformUser", &json!({ "id": unknown })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn a_users_token_stops_working_when_revoked_or_when_the_user_is_deactivated() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "tokens").await;
    let owner = add(&app, &account, "own@tokens.example", "OWNER", false).await;
    let ed = add(&app, &account, "ed@tokens.example", "EDITOR", false).await;
    let ed = ed["data"]["addPlatformUser"]["user"].clone();
    assert!(owner["errors"].is_null() && ed.is_object(), "{owner} {ed}");
    let issue = || async {
        let body = app
            .graphql(
                "mutation($input: IssuePlatformUserTokenInput!) { issuePlatformUserToken(input: $input) { token tokenId } }",
                json!({ "input": { "userId": ed["id"], "label": "laptop" } }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["issuePlatformUserToken"].clone()
    };
    // A user's token is a principal: refused by staff fields, never unauthenticated.
    let app = &app;
    let probe = |token: String| async move {
        let (_, body) = app
            .graphql_as(Some(&token), "{ operators { totalCount } }", json!({}))
            .await;
        error_code(&body).map(str::to_string)
    };
    let first = issue().await;
    let token = first["token"].as_str().unwrap().to_string();
    assert_eq!(probe(token.clone()).await.as_deref(), Some("FORBIDDEN"));
    let revoked = call(
        app,
        "revokePlatformUserToken",
        "RevokePlatformUserTokenInput",
        json!({ "userId": ed["id"], "tokenId": first["tokenId"], "reason": "lost laptop" }),
    )
    .await;
    assert!(revoked["errors"].is_null(), "{revoked}");
    assert_eq!(probe(token).await.as_deref(), Some("UNAUTHENTICATED"));

    let second = issue().await["token"].as_str().unwrap().to_string();
    assert_eq!(probe(second.clone()).await.as_deref(), Some("FORBIDDEN"));
    must(
        app,
        "deactivatePlatformUser",
        "PlatformUserInput",
        json!({ "userId": ed["id"] }),
    )
    .await;
    assert_eq!(
        probe(second.clone()).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    must(
        app,
        "activatePlatformUser",
        "PlatformUserInput",
        json!({ "userId": ed["id"] }),
    )
    .await;
    assert_eq!(probe(second.clone()).await.as_deref(), Some("FORBIDDEN"));

    // A deleted account's people sign in no more (within the token cache's second).
    crate::accounts::must(
        app,
        "deleteAccount",
        "AccountReasonInput",
        json!({ "accountId": account, "reason": "closed" }),
    )
    .await;
    assert!(
        crate::helpers::eventually(std::time::Duration::from_secs(3), || async {
            probe(second.clone()).await.as_deref() == Some("UNAUTHENTICATED")
        })
        .await,
        "the deleted account's user still signs in"
    );

    // The token's hash is in the log but never in what the log is read back as.
    let history = app
        .graphql(
            "query($id: String!) { aggregateHistory(aggregateType: \"account_users\", aggregateId: $id, first: 50) { nodes { events { payload } } } }",
            json!({ "id": account }),
        )
        .await;
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM read.platform_user_tokens")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(hashes.len(), 2);
    for hash in hashes {
        assert!(
            !history.to_string().contains(&hash),
            "a token hash in {history}"
        );
    }
}

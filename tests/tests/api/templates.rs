//! Author profiles and content strategies: the library from the first start, changed by staff;
//! accounts clone from it (remembering what and which version) or write their own, revise,
//! deactivate, delete softly and restore, within their own account.

use crate::access_matrix::platform_user_token;
use crate::accounts::{event_count, open_account};
use crate::bulk::bulk;
use crate::helpers::{error_code, TestApp};
use serde_json::{json, Value};

const PROFILE: &str = "id accountId name description category tone language structure version \
    active deleted clonedFrom { templateId version }";
const STRATEGY: &str = "id accountId name category promptTypes sections version active deleted \
    clonedFrom { templateId version }";

async fn call_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let input_type = match mutation {
        "createAuthorProfile" => "AuthorProfileInput",
        "createContentStrategy" => "ContentStrategyInput",
        "reviseAuthorProfile" => "ReviseAuthorProfileInput",
        "reviseContentStrategy" => "ReviseContentStrategyInput",
        "cloneTemplate" => "CloneTemplateInput",
        "changeTemplateStatus" => "TemplateActionInput",
        other => panic!("no such mutation here: {other}"),
    };
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ \
             authorProfile {{ {PROFILE} }} contentStrategy {{ {STRATEGY} }} \
             position caughtUp replayed }} }}"
        ),
        json!({ "input": input }),
    )
    .await
    .1
}

async fn must_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let body = call_as(app, token, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation].clone()
}

async fn refused(app: &TestApp, token: &str, mutation: &str, input: Value, code: &str) {
    let before = event_count(app).await;
    let body = call_as(app, token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
}

async fn names_as(app: &TestApp, token: &str, list: &str, filter: Value) -> Vec<String> {
    let body = app
        .graphql_as(
            Some(token),
            &format!(
                "query($f: TemplateFilter) {{ {list}(first: 100, filter: $f) {{ totalCount \
                 nodes {{ name }} }} }}"
            ),
            json!({ "f": filter }),
        )
        .await
        .1;
    assert!(body["errors"].is_null(), "{body}");
    body["data"][list]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_library_exists_and_accounts_clone_from_it_or_write_their_own() {
    let app = TestApp::spawn().await;
    let token = app.token.clone();
    assert_eq!(
        names_as(&app, &token, "authorProfiles", json!({ "library": true })).await,
        [
            "Blog Conversational",
            "Creative Storyteller",
            "E-commerce Product Writer",
            "SaaS B2B Professional",
            "Technical Documentation",
        ]
    );
    let strategies = app
        .graphql(
            "{ contentStrategies(filter: { search: \"seo\" }) { nodes { id name promptTypes version } } }",
            json!({}),
        )
        .await;
    let seo = strategies["data"]["contentStrategies"]["nodes"][0].clone();
    assert_eq!(seo["name"], "SEO Blog Post");
    assert_eq!(
        seo["promptTypes"],
        json!(["title_generation", "content_generation", "meta_description"])
    );

    // The library changes: a new version.
    let revised = must_as(
        &app,
        &token,
        "reviseContentStrategy",
        json!({ "id": seo["id"], "promptTypes": ["ideas", "content_generation"],
                "reason": "ideas first" }),
    )
    .await;
    assert_eq!(revised["contentStrategy"]["version"], 2);

    // An account clones it (remembering the version) and writes a profile of its own.
    let account = open_account(&app, "templates").await;
    let editor = platform_user_token(&app, &account, "editor").await;
    let clone = must_as(
        &app,
        &editor,
        "cloneTemplate",
        json!({ "templateId": seo["id"], "accountId": account, "name": "Our SEO posts",
                "reason": "a start" }),
    )
    .await;
    let ours = &clone["contentStrategy"];
    assert_eq!(ours["accountId"], account.as_str());
    assert_eq!(
        ours["clonedFrom"],
        json!({ "templateId": seo["id"], "version": 2 })
    );
    assert_eq!(ours["promptTypes"], json!(["ideas", "content_generation"]));
    let own = must_as(
        &app,
        &editor,
        "createAuthorProfile",
        json!({ "accountId": account, "name": "Our voice", "category": "BLOG", "tone": "warm",
                "structure": { "headings": "h3" }, "reason": "our brand" }),
    )
    .await;
    let profile = own["authorProfile"].clone();
    assert_eq!(profile["language"], "en");
    assert_eq!(profile["structure"], json!({ "headings": "h3" }));
    assert_eq!(profile["clonedFrom"], Value::Null);

    // The account sees the library and its own; not another's.
    let mine = names_as(&app, &editor, "authorProfiles", json!({})).await;
    assert_eq!(mine.len(), 6, "{mine:?}");
    let other = open_account(&app, "templates-other").await;
    let stranger = platform_user_token(&app, &other, "owner").await;
    let theirs = names_as(
        &app,
        &stranger,
        "authorProfiles",
        json!({ "library": false }),
    )
    .await;
    assert!(theirs.is_empty(), "{theirs:?}");
    refused(
        &app,
        &stranger,
        "changeTemplateStatus",
        json!({ "id": profile["id"], "action": "DEACTIVATE", "reason": "not mine" }),
        "NOT_FOUND",
    )
    .await;
    // Tenants never change the library, nor write into it.
    refused(
        &app,
        &editor,
        "reviseAuthorProfile",
        json!({ "id": clone["contentStrategy"]["clonedFrom"]["templateId"], "tone": "x",
                "reason": "x" }),
        "FORBIDDEN",
    )
    .await;
    refused(
        &app,
        &editor,
        "createAuthorProfile",
        json!({ "name": "Library?", "category": "BLOG", "tone": "x", "reason": "x" }),
        "FORBIDDEN",
    )
    .await;
    let viewer = platform_user_token(&app, &account, "viewer").await;
    refused(
        &app,
        &viewer,
        "changeTemplateStatus",
        json!({ "id": profile["id"], "action": "DEACTIVATE", "reason": "x" }),
        "FORBIDDEN",
    )
    .await;

    // Bad input: a clear code and nothing recorded.
    for (input, code) in [
        (
            json!({ "accountId": account, "name": "X", "category": "BLOG", "tone": "x",
                 "language": "english please", "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account, "name": " ", "category": "BLOG", "tone": "x",
                 "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account, "name": "X", "category": "BLOG", "tone": "x",
                 "structure": [1], "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account, "name": "X", "category": "BLOG", "tone": "x",
                    "structure": { "intro": "a\u{0}b" }, "reason": "x" }),
            "VALIDATION",
        ),
        (
            json!({ "accountId": account, "name": "X", "category": "BLOG", "tone": "x",
                    "description": "line\u{0}", "reason": "x" }),
            "VALIDATION",
        ),
    ] {
        refused(&app, &editor, "createAuthorProfile", input, code).await;
    }
    refused(
        &app,
        &token,
        "reviseAuthorProfile",
        json!({ "id": ours["id"], "tone": "x", "reason": "a strategy, not a profile" }),
        "NOT_FOUND",
    )
    .await;

    // Lifecycle: deactivate, delete softly, restore; the library is never deleted.
    for (action, field, value) in [
        ("DEACTIVATE", "active", false),
        ("DELETE", "deleted", true),
        ("RESTORE", "deleted", false),
    ] {
        let changed = must_as(
            &app,
            &editor,
            "changeTemplateStatus",
            json!({ "id": profile["id"], "action": action, "reason": "tidy up" }),
        )
        .await;
        assert_eq!(changed["authorProfile"][field], value, "{action}");
    }
    refused(
        &app,
        &token,
        "changeTemplateStatus",
        json!({ "id": seo["id"], "action": "DELETE", "reason": "x" }),
        "CONFLICT",
    )
    .await;

    // Staff deactivate many at once.
    let result = bulk(
        &app,
        "bulkTemplateAction",
        "BulkTemplateInput",
        json!({ "action": "DEACTIVATE", "ids": [seo["id"], ours["id"]], "reason": "season over",
                "bulkKey": "templates-off" }),
    )
    .await;
    assert_eq!(result["done"], 2, "{result}");
    assert_eq!(
        names_as(
            &app,
            &token,
            "contentStrategies",
            json!({ "active": false })
        )
        .await,
        ["Our SEO posts", "SEO Blog Post"]
    );
    app.stop().await.unwrap();
}

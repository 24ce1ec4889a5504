//! The prompt library: versions saved, published, rolled back and compared by staff; accounts
//! customize a type and reset it to the default, after which they follow later versions; the
//! effective prompt now and as of a past time.

use crate::access_matrix::{platform_user_token, staff_in_group};
use crate::accounts::{event_count, open_account};
use crate::bulk::{bulk, outcomes};
use crate::helpers::{error_code, TestApp};
use serde_json::{json, Value};

const PROMPT: &str = "id promptType description variables publishedVersion latestVersion \
    active published";

const EFFECTIVE: &str = "promptType text source version publishedVersion behindDefault active";

async fn call_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let (input_type, selection) = match mutation {
        "createPrompt" => ("CreatePromptInput", format!("prompt {{ {PROMPT} }}")),
        "savePromptVersion" => ("SavePromptVersionInput", format!("prompt {{ {PROMPT} }}")),
        "publishPromptVersion" => (
            "PublishPromptVersionInput",
            format!("prompt {{ {PROMPT} }}"),
        ),
        "customizePrompt" => ("CustomizePromptInput", format!("prompt {{ {EFFECTIVE} }}")),
        "resetPromptToDefault" => ("ResetPromptInput", format!("prompt {{ {EFFECTIVE} }}")),
        other => panic!("no such mutation here: {other}"),
    };
    app.graphql_as(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection} \
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

async fn must(app: &TestApp, mutation: &str, input: Value) -> Value {
    must_as(app, &app.token, mutation, input).await
}

async fn refused(app: &TestApp, token: &str, mutation: &str, input: Value, code: &str) -> String {
    let before = event_count(app).await;
    let body = call_as(app, token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
    body["errors"][0]["message"].as_str().unwrap().to_string()
}

async fn effective_as(
    app: &TestApp,
    token: &str,
    account: &str,
    kind: &str,
    at: Option<&str>,
) -> Value {
    app.graphql_as(
        Some(token),
        &format!(
            "query($id: ID!, $kind: String!, $at: DateTime) {{ effectivePrompt(accountId: $id, \
             promptType: $kind, asOf: $at) {{ {EFFECTIVE} }} }}"
        ),
        json!({ "id": account, "kind": kind, "at": at }),
    )
    .await
    .1
}

async fn effective(app: &TestApp, account: &str, kind: &str, at: Option<&str>) -> Value {
    let body = effective_as(app, &app.token, account, kind, at).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["effectivePrompt"].clone()
}

fn save(text: &str, publish: bool) -> Value {
    json!({ "promptType": "clustering", "text": text, "publish": publish, "reason": "wording" })
}

#[tokio::test]
async fn the_library_exists_from_the_first_start_and_versions_publish_roll_back_and_compare() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(&format!("{{ prompts {{ {PROMPT} }} }}"), json!({}))
        .await;
    let types: Vec<(&str, i64)> = body["data"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["promptType"].as_str().unwrap(),
                p["publishedVersion"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("clustering", 1),
            ("content_generation", 1),
            ("ideas", 1),
            ("image_prompt_generation", 1),
            ("meta_description", 1),
            ("title_generation", 1),
        ]
    );
    let v1 = body["data"]["prompts"][0]["published"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v1.contains("{keywords}"));

    let saved = must(
        &app,
        "savePromptVersion",
        save("Cluster these:\n{keywords}", false),
    )
    .await;
    assert_eq!(
        (
            saved["prompt"]["latestVersion"].clone(),
            saved["prompt"]["publishedVersion"].clone()
        ),
        (json!(2), json!(1)),
        "saved, not published"
    );
    let third = "Cluster these by intent:\n{keywords}\nName each cluster.";
    let published = must(&app, "savePromptVersion", save(third, true)).await;
    assert_eq!(published["prompt"]["publishedVersion"], 3);
    assert_eq!(published["prompt"]["published"], third);
    let again = must(&app, "savePromptVersion", save(third, true)).await;
    assert_eq!(
        again["position"],
        Value::Null,
        "saving the latest text again records nothing"
    );

    let diff = app
        .graphql(
            "{ prompt(promptType: \"clustering\") { versions { version } diff(from: 2, to: 3) { kind text } } }",
            json!({}),
        )
        .await;
    let lines: Vec<(String, String)> = diff["data"]["prompt"]["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().into(),
                l["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("REMOVED".to_string(), "Cluster these:".to_string()),
            ("ADDED".into(), "Cluster these by intent:".into()),
            ("SAME".into(), "{keywords}".into()),
            ("ADDED".into(), "Name each cluster.".into()),
        ]
    );
    assert_eq!(diff["data"]["prompt"]["versions"][0]["version"], 3);

    // Rolling back publishes an earlier version; its text is served again.
    let rolled = must(
        &app,
        "publishPromptVersion",
        json!({ "promptType": "clustering", "version": 1, "reason": "v3 clusters badly" }),
    )
    .await;
    assert_eq!(rolled["prompt"]["published"], v1.as_str());
    assert_eq!(rolled["prompt"]["latestVersion"], 3);

    // Bad input: a clear code and nothing recorded.
    let message = refused(
        &app,
        &app.token,
        "savePromptVersion",
        save("No variables", true),
        "VALIDATION",
    )
    .await;
    assert!(message.contains("missing {keywords}"), "{message}");
    refused(
        &app,
        &app.token,
        "publishPromptVersion",
        json!({ "promptType": "clustering", "version": 9, "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    refused(
        &app,
        &app.token,
        "savePromptVersion",
        json!({ "promptType": "no_such_type", "text": "x", "reason": "x" }),
        "NOT_FOUND",
    )
    .await;
    refused(
        &app,
        &app.token,
        "savePromptVersion",
        json!({ "promptType": "Bad Type", "text": "x", "reason": "x" }),
        "VALIDATION",
    )
    .await;
    refused(
        &app,
        &app.token,
        "savePromptVersion",
        save("", true),
        "VALIDATION",
    )
    .await;
    refused(
        &app,
        &app.token,
        "savePromptVersion",
        save("NUL \u{0} {keywords}", true),
        "VALIDATION",
    )
    .await;
    let nul_type = app
        .graphql(
            "query($t: String!) { prompt(promptType: $t) { id } }",
            json!({ "t": "clustering\u{0}" }),
        )
        .await;
    assert_eq!(error_code(&nul_type), Some("VALIDATION"), "{nul_type}");

    // A new type, by a content manager; not by a tenant.
    let manager = staff_in_group(&app, "content@ops.example", "Content Manager").await;
    let created = must_as(
        &app,
        &manager,
        "createPrompt",
        json!({ "promptType": "faq_generation", "description": "FAQs for an article",
                "variables": ["title"], "text": "Write five FAQs for {title}.", "reason": "new feature" }),
    )
    .await;
    assert_eq!(created["prompt"]["variables"], json!(["title"]));
    let account = open_account(&app, "prompt-tenant").await;
    let owner = platform_user_token(&app, &account, "owner").await;
    refused(
        &app,
        &owner,
        "savePromptVersion",
        save("Mine {keywords}", true),
        "FORBIDDEN",
    )
    .await;

    // Deactivating in bulk: per prompt.
    let result = bulk(
        &app,
        "bulkPromptAction",
        "BulkCatalogInput",
        json!({ "action": "DEACTIVATE", "ids": [created["prompt"]["id"]], "reason": "not yet",
                "bulkKey": "faq-off" }),
    )
    .await;
    assert_eq!(result["done"], 1, "{result}");
    let inactive = app
        .graphql("{ prompts(active: false) { promptType } }", json!({}))
        .await;
    assert_eq!(
        inactive["data"]["prompts"],
        json!([{ "promptType": "faq_generation" }])
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_account_customizes_and_after_a_reset_follows_later_versions() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "prompt-owner").await;
    let owner = platform_user_token(&app, &account, "owner").await;
    let customize = |text: &str| {
        json!({ "accountId": account, "promptType": "clustering", "text": text,
                "reason": "our voice" })
    };
    let ours = "Our clusters, our way: {keywords}";
    let customized = must_as(&app, &owner, "customizePrompt", customize(ours)).await;
    assert_eq!(
        customized["prompt"],
        json!({ "promptType": "clustering", "text": ours, "source": "ACCOUNT_CUSTOMIZATION",
                "version": 1, "publishedVersion": 1, "behindDefault": false, "active": true })
    );
    let while_customized = chrono::Utc::now().to_rfc3339();
    let message = refused(
        &app,
        &owner,
        "customizePrompt",
        customize("No variable"),
        "VALIDATION",
    )
    .await;
    assert!(message.contains("missing {keywords}"), "{message}");

    // The default moves on: the customization is flagged.
    must(
        &app,
        "savePromptVersion",
        save("Version two: {keywords}", true),
    )
    .await;
    let flagged = effective(&app, &account, "clustering", None).await;
    assert_eq!(flagged["text"], ours);
    assert_eq!(flagged["behindDefault"], true);
    assert_eq!(flagged["publishedVersion"], 2);

    // Reset: the published version, and later ones too.
    let reset = must_as(
        &app,
        &owner,
        "resetPromptToDefault",
        json!({ "accountId": account, "promptType": "clustering", "reason": "use the default" }),
    )
    .await;
    assert_eq!(reset["prompt"]["source"], "GLOBAL_DEFAULT");
    assert_eq!(reset["prompt"]["text"], "Version two: {keywords}");
    must(
        &app,
        "savePromptVersion",
        save("Version three: {keywords}", true),
    )
    .await;
    let follows = effective(&app, &account, "clustering", None).await;
    assert_eq!(follows["text"], "Version three: {keywords}");
    assert_eq!(follows["version"], 3);

    // As of a past time: what was served then.
    let then = effective(&app, &account, "clustering", Some(&while_customized)).await;
    assert_eq!(then, customized["prompt"]);
    let future = effective_as(
        &app,
        &app.token,
        &account,
        "clustering",
        Some("2999-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(error_code(&future), Some("VALIDATION"), "{future}");
    let before = effective_as(
        &app,
        &app.token,
        &account,
        "clustering",
        Some("2001-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(error_code(&before), Some("NOT_FOUND"), "{before}");

    // Never another account's; never as a viewer.
    let other = open_account(&app, "prompt-other").await;
    let elsewhere = call_as(
        &app,
        &owner,
        "customizePrompt",
        json!({ "accountId": other, "promptType": "clustering", "text": ours, "reason": "x" }),
    )
    .await;
    assert_eq!(error_code(&elsewhere), Some("NOT_FOUND"), "{elsewhere}");
    let peek = effective_as(&app, &owner, &other, "clustering", None).await;
    assert_eq!(error_code(&peek), Some("NOT_FOUND"), "{peek}");
    let viewer = platform_user_token(&app, &other, "viewer").await;
    refused(
        &app,
        &viewer,
        "customizePrompt",
        json!({ "accountId": other, "promptType": "clustering", "text": ours, "reason": "x" }),
        "FORBIDDEN",
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn staff_reset_a_prompt_for_many_accounts_at_once() {
    let app = TestApp::spawn().await;
    let mut accounts = Vec::new();
    for n in 0..3 {
        let account = open_account(&app, &format!("bulk-prompts-{n}")).await;
        if n < 2 {
            must(
                &app,
                "customizePrompt",
                json!({ "accountId": account, "promptType": "ideas",
                        "text": format!("Ideas {n} for {{cluster}}: {{keywords}}"), "reason": "x" }),
            )
            .await;
        }
        accounts.push(account);
    }
    let input = json!({ "ids": accounts, "promptType": "ideas", "reason": "new default for all",
                        "bulkKey": "ideas-reset" });
    let result = bulk(
        &app,
        "bulkResetPromptsToDefault",
        "BulkResetPromptsInput",
        input.clone(),
    )
    .await;
    assert_eq!(
        outcomes(&result),
        [
            ("DONE".to_string(), None),
            ("DONE".to_string(), None),
            ("NO_OP".to_string(), None),
        ],
        "{result}"
    );
    let retried = bulk(
        &app,
        "bulkResetPromptsToDefault",
        "BulkResetPromptsInput",
        input,
    )
    .await;
    assert_eq!(retried["items"][0]["replayed"], true, "{retried}");
    for account in &accounts {
        let prompt = effective(&app, account, "ideas", None).await;
        assert_eq!(prompt["source"], "GLOBAL_DEFAULT");
    }
    app.stop().await.unwrap();
}

//! AI configuration: the platform's providers and their keys (superusers only, never shown,
//! destroyed on removal), and accounts' overrides (only where the plan allows them), with the
//! effective configuration now and as of a past time.

use crate::access_matrix::{platform_user_token, staff_in_group};
use crate::accounts::{event_count, must as account_must, open_account};
use crate::helpers::{error_code, logged, test_seal_key, TestApp, TEST_MASTER_KEY};
use projections::ai_config::keyring::{Keyring, KeyringError, MasterKey, Sealed};
use projections::audit::verify::{verify, VerifyOptions};
use serde_json::{json, Value};

const PROVIDER: &str = "provider enabled updatedAt settings { model temperature maxTokens \
    imageSize imageQuality imageStyle } key { set last4 setAt setBy }";

const ACCOUNT_SETTINGS: &str = "accountId plan overridesAllowed asOf providers { provider \
    enabled keySet overridesSuspended overrides { model temperature maxTokens } \
    settings { setting value source } }";

async fn call_as(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let (input_type, selection) = match mutation {
        "configureAiProvider" => (
            "ConfigureAiProviderInput",
            format!("provider {{ {PROVIDER} }}"),
        ),
        "setAiProviderKey" => (
            "SetAiProviderKeyInput",
            format!("provider {{ {PROVIDER} }}"),
        ),
        "removeAiProviderKey" => ("AiProviderInput", format!("provider {{ {PROVIDER} }}")),
        "overrideAiSettings" => (
            "OverrideAiSettingsInput",
            format!("settings {{ {ACCOUNT_SETTINGS} }}"),
        ),
        "resetAiSettings" => (
            "ResetAiSettingsInput",
            format!("settings {{ {ACCOUNT_SETTINGS} }}"),
        ),
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

async fn must(app: &TestApp, mutation: &str, input: Value) -> Value {
    let body = call_as(app, &app.token, mutation, input).await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    assert_eq!(body["data"][mutation]["caughtUp"], true, "{body}");
    body["data"][mutation].clone()
}

/// Expects a refusal with `code` that appends nothing.
async fn refused(app: &TestApp, token: &str, mutation: &str, input: Value, code: &str) -> Value {
    let before = event_count(app).await;
    let body = call_as(app, token, mutation, input).await;
    assert_eq!(error_code(&body), Some(code), "{mutation}: {body}");
    assert_eq!(
        event_count(app).await,
        before,
        "{mutation}: a refusal appends nothing"
    );
    body
}

async fn providers(app: &TestApp) -> Vec<Value> {
    let body = app
        .graphql(&format!("{{ aiProviders {{ {PROVIDER} }} }}"), json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["aiProviders"].as_array().unwrap().clone()
}

async fn account_settings_as(
    app: &TestApp,
    token: &str,
    account: &str,
    as_of: Option<&str>,
) -> Value {
    app.graphql_as(
        Some(token),
        &format!(
            "query($id: ID!, $at: DateTime) {{ accountAiSettings(accountId: $id, asOf: $at) \
             {{ {ACCOUNT_SETTINGS} }} }}"
        ),
        json!({ "id": account, "at": as_of }),
    )
    .await
    .1
}

async fn account_settings(app: &TestApp, account: &str, as_of: Option<&str>) -> Value {
    let body = account_settings_as(app, &app.token, account, as_of).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["accountAiSettings"].clone()
}

/// (setting, value, source) of one provider's effective settings.
fn effective(settings: &Value, provider: &str) -> Vec<(String, Value, String)> {
    let provider = settings["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} in {settings}"));
    provider["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["setting"].as_str().unwrap().to_string(),
                s["value"].clone(),
                s["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn openai(settings: &Value) -> Value {
    settings["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "OPENAI")
        .cloned()
        .unwrap()
}

async fn change_plan(app: &TestApp, account: &str, plan: &str) {
    account_must(
        app,
        "changeAccountPlan",
        "ChangeAccountPlanInput",
        json!({ "accountId": account, "plan": plan }),
    )
    .await;
}

#[tokio::test]
async fn the_platform_defaults_exist_from_the_first_start_and_only_superusers_change_them() {
    let app = TestApp::spawn().await;
    let all = providers(&app).await;
    let summary: Vec<(&str, bool, &Value, bool)> = all
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap(),
                p["enabled"].as_bool().unwrap(),
                &p["settings"]["model"],
                p["key"]["set"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("OPENAI", true, &json!("gpt-4-turbo-preview"), false),
            ("DALLE", true, &json!("dall-e-3"), false),
            (
                "ANTHROPIC",
                false,
                &json!("claude-3-sonnet-20240229"),
                false
            ),
            ("RUNWARE", false, &json!("runware:100@1"), false),
        ]
    );
    assert_eq!(all[0]["settings"]["temperature"], 0.7);
    assert_eq!(all[0]["settings"]["maxTokens"], 4000);
    assert_eq!(all[1]["settings"]["imageQuality"], "standard");

    let changed = must(
        &app,
        "configureAiProvider",
        json!({ "provider": "OPENAI", "settings": { "model": "gpt-4o", "temperature": 0.3 },
                "reason": "newer model" }),
    )
    .await;
    assert_eq!(changed["provider"]["settings"]["model"], "gpt-4o");
    assert_eq!(changed["provider"]["settings"]["temperature"], 0.3);
    assert_eq!(changed["provider"]["settings"]["maxTokens"], 4000);
    let again = must(
        &app,
        "configureAiProvider",
        json!({ "provider": "OPENAI", "settings": { "model": "gpt-4o" }, "reason": "again" }),
    )
    .await;
    assert_eq!(
        again["position"],
        Value::Null,
        "changing nothing records nothing"
    );

    // Bad values are refused with a message, whoever asks.
    for (settings, message) in [
        (
            json!({ "imageSize": "1024x1024" }),
            "openai has no setting `image_size`",
        ),
        (
            json!({ "temperature": 2.5 }),
            "openai temperature must be a number from 0 to 2",
        ),
        (
            json!({ "maxTokens": 0 }),
            "openai max_tokens must be a whole number",
        ),
        (
            json!({ "model": "gpt 4" }),
            "openai model must be 1 to 100 letters",
        ),
    ] {
        let body = refused(
            &app,
            &app.token,
            "configureAiProvider",
            json!({ "provider": "OPENAI", "settings": settings, "reason": "typo" }),
            "VALIDATION",
        )
        .await;
        let said = body["errors"][0]["message"].as_str().unwrap();
        assert!(said.starts_with(message), "{said}");
    }

    // Nobody but a superuser: not staff in a group, not a tenant.
    let manager = staff_in_group(&app, "content@ops.example", "Content Manager").await;
    let account = open_account(&app, "tenant").await;
    let owner = platform_user_token(&app, &account, "owner").await;
    for token in [&manager, &owner] {
        for (mutation, input) in [
            (
                "configureAiProvider",
                json!({ "provider": "DALLE", "enabled": false, "reason": "x" }),
            ),
            (
                "setAiProviderKey",
                json!({ "provider": "DALLE", "apiKey": "sk-not-mine-0000", "reason": "x" }),
            ),
            (
                "removeAiProviderKey",
                json!({ "provider": "DALLE", "reason": "x" }),
            ),
        ] {
            refused(&app, token, mutation, input, "FORBIDDEN").await;
        }
    }
    let tenant_view = app
        .graphql_as(Some(&owner), "{ aiProviders { provider } }", json!({}))
        .await
        .1;
    assert_eq!(error_code(&tenant_view), Some("FORBIDDEN"), "{tenant_view}");
    app.stop().await.unwrap();
}

/// Every text the product keeps or shows about the log: the raw events, every read-model row,
/// the audit trail and the integration settings' history.
async fn everything_shown_or_stored(app: &TestApp) -> String {
    let pool = &app.db.pool;
    let mut all: Vec<String> =
        sqlx::query_scalar("SELECT payload::text || metadata::text FROM events")
            .fetch_all(pool)
            .await
            .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'read'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM read.{table} t"))
            .fetch_all(pool)
            .await
            .unwrap();
        all.extend(rows);
    }
    for query in [
        "{ auditLog(first: 100) { nodes { payload reason } } }",
        "{ aggregateHistory(aggregateType: \"integration_settings\", aggregateId: \"global\", first: 100) \
           { nodes { events { payload } changes { path old new } } } }",
        "{ aggregateAsOf(aggregateType: \"integration_settings\", aggregateId: \"global\", \
           asOf: { version: 2 }) { state } }",
    ] {
        let body = app.graphql(query, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        all.push(body.to_string());
    }
    all.join("\n")
}

/// The sealed key of `provider` as its latest `ApiKeySet` event holds it.
async fn sealed_in_log(app: &TestApp, provider: &str) -> Sealed {
    let key: Value = sqlx::query_scalar(
        "SELECT payload -> 'ApiKeySet' -> 'key' FROM events \
         WHERE aggregate_type = 'integration_settings' AND event_type = 'ApiKeySet' \
           AND payload -> 'ApiKeySet' ->> 'provider' = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(provider)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    Sealed {
        data_key_id: key["data_key_id"].as_str().unwrap().parse().unwrap(),
        encrypted: key["encrypted_key"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn an_api_key_is_never_shown_nor_stored_in_the_clear_and_a_removed_key_cannot_be_decrypted() {
    let app = TestApp::spawn().await;
    let first_key = "sk-live-FIRSTsecretVALUE-7a1c";
    let set = must(
        &app,
        "setAiProviderKey",
        json!({ "provider": "OPENAI", "apiKey": first_key, "reason": "platform key" }),
    )
    .await;
    assert_eq!(set["provider"]["key"]["set"], true);
    assert_eq!(set["provider"]["key"]["last4"], "7a1c");
    assert!(set["provider"]["key"]["setAt"].is_string());
    assert!(!set.to_string().contains(first_key));

    // Decryptable with the master key while in service: the log holds it, encrypted.
    let keyring = Keyring::new(
        app.db.pool.clone(),
        MasterKey::from_hex(TEST_MASTER_KEY).unwrap(),
    );
    let purpose = "integration_settings:openai:api_key";
    let first = sealed_in_log(&app, "openai").await;
    assert_eq!(
        keyring.open(purpose, &first).await.unwrap().expose(),
        first_key
    );
    assert!(matches!(
        keyring
            .open("integration_settings:dalle:api_key", &first)
            .await,
        Err(KeyringError::Corrupt)
    ));

    // Rotation: the key it replaces is destroyed.
    let second_key = "sk-live-SECONDsecretVALUE-99zz";
    let rotated = must(
        &app,
        "setAiProviderKey",
        json!({ "provider": "OPENAI", "apiKey": second_key, "reason": "rotation" }),
    )
    .await;
    assert_eq!(rotated["provider"]["key"]["last4"], "99zz");
    assert!(matches!(
        keyring.open(purpose, &first).await,
        Err(KeyringError::Destroyed)
    ));
    let second = sealed_in_log(&app, "openai").await;
    assert_eq!(
        keyring.open(purpose, &second).await.unwrap().expose(),
        second_key
    );

    // A bad key is refused without repeating it, and leaves no data key behind.
    let data_keys = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM secrets.data_keys")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
    };
    let before = data_keys().await;
    let short = refused(
        &app,
        &app.token,
        "setAiProviderKey",
        json!({ "provider": "OPENAI", "apiKey": "sk-1 2", "reason": "typo" }),
        "VALIDATION",
    )
    .await;
    assert!(!short.to_string().contains("sk-1 2"), "{short}");
    refused(
        &app,
        &app.token,
        "setAiProviderKey",
        json!({ "provider": "OPENAI", "apiKey": "sk-live-third-key", "reason": "" }),
        "VALIDATION",
    )
    .await;
    assert_eq!(
        data_keys().await,
        before,
        "a refused key's data key is destroyed"
    );

    // Removal destroys it; removing again changes nothing.
    let removed = must(
        &app,
        "removeAiProviderKey",
        json!({ "provider": "OPENAI", "reason": "provider account closed" }),
    )
    .await;
    assert_eq!(removed["provider"]["key"]["set"], false);
    assert_eq!(removed["provider"]["key"]["last4"], Value::Null);
    assert!(matches!(
        keyring.open(purpose, &second).await,
        Err(KeyringError::Destroyed)
    ));
    let again = must(
        &app,
        "removeAiProviderKey",
        json!({ "provider": "OPENAI", "reason": "again" }),
    )
    .await;
    assert_eq!(again["position"], Value::Null);

    // Neither key anywhere in the clear; the ciphertext shown nowhere either.
    let everything = everything_shown_or_stored(&app).await;
    let shown = everything
        .replace(&first.encrypted, "")
        .replace(&second.encrypted, "");
    let logs = logged();
    assert!(!logs.is_empty(), "the server's logs are captured");
    for secret in [first_key, second_key] {
        assert!(!everything.contains(secret), "{secret} is stored or shown");
        assert!(!logs.contains(secret), "{secret} is logged");
    }
    let history = app
        .graphql(
            "{ aggregateHistory(aggregateType: \"integration_settings\", aggregateId: \"global\") \
               { nodes { events { payload } changes { path new } } } }",
            json!({}),
        )
        .await
        .to_string();
    assert!(!history.contains(&first.encrypted), "{history}");
    assert!(history.contains("[redacted]"), "{history}");
    assert!(shown.contains("7a1c"), "the last four characters are shown");

    // The log still verifies: crypto-shredding destroys keys, never events.
    let options = VerifyOptions {
        from_checkpoint: false,
        public_key: Some(test_seal_key().public_key()),
    };
    let report = verify(&app.db.pool, &options).await.unwrap();
    assert!(report.ok(), "{report:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn overrides_need_a_plan_that_allows_them_and_are_suspended_on_a_plan_that_forbids_them() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "overrides").await;
    let input = |settings: Value| {
        json!({ "accountId": account, "provider": "OPENAI", "settings": settings,
                "reason": "our own model" })
    };
    // Free: refused, and nothing recorded.
    let free = refused(
        &app,
        &app.token,
        "overrideAiSettings",
        input(json!({ "model": "gpt-4" })),
        "PLAN_FORBIDS",
    )
    .await;
    assert!(
        free["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("(free)"),
        "{free}"
    );
    // A key is not a setting an account has.
    let key = call_as(
        &app,
        &app.token,
        "overrideAiSettings",
        input(json!({ "apiKey": "sk-mine-123456" })),
    )
    .await;
    assert!(key["errors"].is_array() && key["data"].is_null(), "{key}");

    change_plan(&app, &account, "STARTER").await;
    let before_override = chrono::Utc::now().to_rfc3339();
    let owner = platform_user_token(&app, &account, "owner").await;
    let set = call_as(
        &app,
        &owner,
        "overrideAiSettings",
        input(json!({ "model": "gpt-4", "temperature": 0.2 })),
    )
    .await;
    assert!(set["errors"].is_null(), "{set}");
    let settings = &set["data"]["overrideAiSettings"]["settings"];
    assert_eq!(settings["plan"], "starter");
    assert_eq!(
        effective(settings, "OPENAI"),
        vec![
            ("MODEL".into(), json!("gpt-4"), "ACCOUNT_OVERRIDE".into()),
            ("TEMPERATURE".into(), json!(0.2), "ACCOUNT_OVERRIDE".into()),
            ("MAX_TOKENS".into(), json!(4000), "GLOBAL_DEFAULT".into()),
        ]
    );
    let while_allowed = chrono::Utc::now().to_rfc3339();

    // Down to Free: kept, shown suspended, not applied.
    change_plan(&app, &account, "FREE").await;
    let suspended = account_settings(&app, &account, None).await;
    assert_eq!(suspended["overridesAllowed"], false);
    assert_eq!(openai(&suspended)["overridesSuspended"], true);
    assert_eq!(openai(&suspended)["overrides"]["model"], "gpt-4");
    assert!(effective(&suspended, "OPENAI")
        .iter()
        .all(|(_, _, source)| source == "GLOBAL_DEFAULT"));
    // Clearing stays allowed; setting does not.
    refused(
        &app,
        &app.token,
        "overrideAiSettings",
        input(json!({ "maxTokens": 100 })),
        "PLAN_FORBIDS",
    )
    .await;

    // Back up: they apply again.
    change_plan(&app, &account, "GROWTH").await;
    let again = account_settings(&app, &account, None).await;
    assert_eq!(openai(&again)["overridesSuspended"], false);
    assert_eq!(effective(&again, "OPENAI")[0].2, "ACCOUNT_OVERRIDE");

    // As of a past time: what was served then.
    let then = account_settings(&app, &account, Some(&while_allowed)).await;
    assert_eq!(then["plan"], "starter");
    assert_eq!(
        effective(&then, "OPENAI"),
        effective(settings, "OPENAI"),
        "{then}"
    );
    let earlier = account_settings(&app, &account, Some(&before_override)).await;
    assert!(effective(&earlier, "OPENAI")
        .iter()
        .all(|(_, _, source)| source == "GLOBAL_DEFAULT"));
    let future =
        account_settings_as(&app, &app.token, &account, Some("2999-01-01T00:00:00Z")).await;
    assert_eq!(error_code(&future), Some("VALIDATION"), "{future}");
    let before_account =
        account_settings_as(&app, &app.token, &account, Some("2001-01-01T00:00:00Z")).await;
    assert_eq!(
        error_code(&before_account),
        Some("NOT_FOUND"),
        "{before_account}"
    );

    // Reset: the provider follows the platform again; repeating changes nothing.
    let reset = must(
        &app,
        "resetAiSettings",
        json!({ "accountId": account, "provider": "OPENAI", "reason": "back to defaults" }),
    )
    .await;
    assert!(effective(&reset["settings"], "OPENAI")
        .iter()
        .all(|(_, _, source)| source == "GLOBAL_DEFAULT"));
    let again = must(
        &app,
        "resetAiSettings",
        json!({ "accountId": account, "provider": "OPENAI", "reason": "again" }),
    )
    .await;
    assert_eq!(again["position"], Value::Null);

    // Staff remove many accounts' overrides at once, answered per account.
    let second = open_account(&app, "overrides-two").await;
    change_plan(&app, &second, "SCALE").await;
    must(
        &app,
        "overrideAiSettings",
        json!({ "accountId": second, "provider": "DALLE", "settings": { "imageStyle": "natural" },
                "reason": "calmer images" }),
    )
    .await;
    let result = crate::bulk::bulk(
        &app,
        "bulkResetAiSettings",
        "BulkResetAiSettingsInput",
        json!({ "ids": [account, second], "provider": "DALLE", "reason": "new defaults",
                "bulkKey": "dalle-reset" }),
    )
    .await;
    assert_eq!(
        crate::bulk::outcomes(&result),
        [("NO_OP".to_string(), None), ("DONE".to_string(), None)],
        "{result}"
    );
    let after = account_settings(&app, &second, None).await;
    assert!(effective(&after, "DALLE")
        .iter()
        .all(|(_, _, source)| source == "GLOBAL_DEFAULT"));

    // A tenant never reaches another account, nor overrides as a viewer.
    let other = open_account(&app, "someone-else").await;
    let elsewhere = call_as(
        &app,
        &owner,
        "overrideAiSettings",
        json!({ "accountId": other, "provider": "OPENAI", "settings": { "model": "gpt-4" },
                "reason": "not mine" }),
    )
    .await;
    assert_eq!(error_code(&elsewhere), Some("NOT_FOUND"), "{elsewhere}");
    let peek = account_settings_as(&app, &owner, &other, None).await;
    assert_eq!(error_code(&peek), Some("NOT_FOUND"), "{peek}");
    let viewer = platform_user_token(&app, &other, "viewer").await;
    refused(
        &app,
        &viewer,
        "resetAiSettings",
        json!({ "accountId": other, "provider": "OPENAI", "reason": "x" }),
        "FORBIDDEN",
    )
    .await;
    app.stop().await.unwrap();
}

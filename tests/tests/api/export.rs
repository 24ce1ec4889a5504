//! Exports of the audit trail and of one aggregate's history, as CSV and XLSX, over real HTTP.

use crate::accounts::{adjust, open_account};
use crate::helpers::{create_service, TestApp};
use serde_json::Value;

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> (u16, String, Vec<u8>) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn code(body: &[u8]) -> String {
    let json: Value = serde_json::from_slice(body).unwrap_or_default();
    json["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_audit_trail_and_a_history_export_as_csv_and_xlsx_with_the_lists_filters() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "exported").await;
    adjust(&app, &account, 40, "=cmd|' /C calc'!A0").await;
    adjust(&app, &account, -15, "refund, partial").await;

    let (status, content_type, body) = get(
        &app,
        Some(&app.token),
        "/export/audit-log?format=csv&action=CreditsAdjusted",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("position,occurred_at,recorded_at,actor_id"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "a header and the two adjustments: {text}");
    assert!(text.contains("\"refund, partial\""), "{text}");
    assert!(text.contains("'=cmd"), "a formula is neutralised: {text}");

    // Everything, unfiltered: one row per audit entry.
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM read.audit_log")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let (_, _, body) = get(&app, Some(&app.token), "/export/audit-log?format=csv").await;
    let rows = String::from_utf8(body).unwrap().matches("\r\n").count() as i64;
    assert_eq!(rows, entries + 1);

    let (status, content_type, body) =
        get(&app, Some(&app.token), "/export/audit-log?format=xlsx").await;
    assert_eq!(status, 200);
    assert!(content_type.contains("spreadsheetml"), "{content_type}");
    assert!(body.starts_with(b"PK"), "an XLSX is a zip");

    let path = format!("/export/history?format=csv&aggregateType=account&aggregateId={account}");
    let (status, _, body) = get(&app, Some(&app.token), &path).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text.matches("\r\n").count(),
        4,
        "a header and three versions: {text}"
    );
    assert!(text.contains("balance: 40 -> 25"), "{text}");
    let (status, _, body) = get(&app, Some(&app.token), &format!("{path}&field=balance")).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap().matches("\r\n").count(), 3);
    let (status, _, body) = get(
        &app,
        Some(&app.token),
        &path.replace("format=csv", "format=xlsx"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"PK"));
}

#[tokio::test]
async fn exports_refuse_strangers_the_platform_and_bad_parameters_with_codes() {
    let app = TestApp::spawn().await;
    let account = open_account(&app, "guarded").await;
    let service = create_service(&app.db.settings(), "platform@igny8.local").await;
    let (status, _, body) = get(&app, None, "/export/audit-log?format=csv").await;
    assert_eq!((status, code(&body).as_str()), (401, "UNAUTHENTICATED"));
    let (status, _, body) = get(&app, Some(&service), "/export/audit-log?format=csv").await;
    assert_eq!((status, code(&body).as_str()), (403, "FORBIDDEN"));
    for (path, expected_status, expected_code) in [
        ("/export/audit-log?format=pdf", 400, "VALIDATION"),
        ("/export/audit-log", 400, "VALIDATION"),
        ("/export/audit-log?format=csv&occurredFrom=yesterday", 400, "VALIDATION"),
        ("/export/audit-log?format=csv&occurredFrom=1200-01-01T00:00:00Z", 400, "VALIDATION"),
        ("/export/audit-log?format=csv&accountId=nope", 400, "VALIDATION"),
        ("/export/audit-log?format=csv&actorId=%00", 400, "VALIDATION"),
        ("/export/audit-log?format=csv&colour=blue", 400, "VALIDATION"),
        ("/export/history?format=csv&aggregateType=spaceship&aggregateId=x", 400, "VALIDATION"),
        (
            "/export/history?format=csv&aggregateType=account&aggregateId=00000000-0000-0000-0000-000000000000",
            404,
            "NOT_FOUND",
        ),
    ] {
        let (status, _, body) = get(&app, Some(&app.token), path).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (expected_status, expected_code),
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let _ = account;
}

/// The CSV's lines, header first.
fn csv_lines(body: &[u8]) -> Vec<String> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn encoded(filter: &str) -> String {
    filter
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn every_list_exports_with_its_graphql_filter_and_a_tenant_exports_their_own_rows() {
    let app = TestApp::spawn().await;
    let mine = open_account(&app, "export-mine").await;
    let theirs = open_account(&app, "export-theirs").await;
    adjust(&app, &mine, 40, "first").await;
    adjust(&app, &theirs, 70, "second").await;

    // Accounts, filtered as the list filters them.
    let filter = encoded(r#"{"search":"export-"}"#);
    let (status, _, body) = get(
        &app,
        Some(&app.token),
        &format!("/export/accounts?format=csv&filter={filter}"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let lines = csv_lines(&body);
    assert!(
        lines[0].starts_with("id,name,slug,owner_email,plan,status,balance"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");

    // The ledger: every line of one account, in posting order.
    let filter = encoded(&format!(r#"{{"accountId":"{mine}"}}"#));
    let (_, _, body) = get(
        &app,
        Some(&app.token),
        &format!("/export/credit-ledger?format=csv&filter={filter}"),
    )
    .await;
    let lines = csv_lines(&body);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains(",adjustment,40,40,first,"), "{lines:?}");

    // Plans (joined with their version in force), payments and invoices, in both formats.
    let (status, _, body) = get(&app, Some(&app.token), "/export/plans?format=csv").await;
    assert_eq!(status, 200);
    let lines = csv_lines(&body);
    assert_eq!(lines.len(), 5, "four plans: {lines:?}");
    assert!(
        lines[0].starts_with("id,code,name,active,version,price_minor"),
        "{lines:?}"
    );
    for list in ["payments", "invoices", "plans", "accounts", "credit-ledger"] {
        let (status, content_type, body) = get(
            &app,
            Some(&app.token),
            &format!("/export/{list}?format=xlsx"),
        )
        .await;
        assert_eq!(status, 200, "{list}");
        assert!(
            content_type.contains("spreadsheetml"),
            "{list}: {content_type}"
        );
        assert!(body.starts_with(b"PK"), "{list}: a zip");
    }

    // Bad filters are 400s with codes, before any byte of a file.
    for (path, expected) in [
        ("/export/accounts?format=csv&filter=%7Bnope", "VALIDATION"),
        ("/export/invoices?format=csv&filter=%7B%22status%22%3A%5B%22LOST%22%5D%7D", "VALIDATION"),
        ("/export/invoices?format=csv&filter=%7B%22total%22%3A%7B%22min%22%3A5%2C%22max%22%3A1%7D%7D", "VALIDATION"),
        ("/export/payments?format=pdf", "VALIDATION"),
        ("/export/payments?format=csv&limit=5", "VALIDATION"),
    ] {
        let (status, _, body) = get(&app, Some(&app.token), path).await;
        assert_eq!((status, code(&body)), (400, expected.to_string()), "{path}");
    }

    // A tenant exports their own account's rows only, whatever the filter names.
    let owner = crate::access_matrix::platform_user_token(&app, &mine, "owner").await;
    let filter = encoded(&format!(r#"{{"accountId":"{theirs}"}}"#));
    let (status, _, body) = get(
        &app,
        Some(&owner),
        &format!("/export/credit-ledger?format=csv&filter={filter}"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(csv_lines(&body).len(), 1, "nothing of another account");
    let (_, _, body) = get(&app, Some(&owner), "/export/accounts?format=csv").await;
    let lines = csv_lines(&body);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with(&mine), "{lines:?}");
    let service = create_service(&app.db.settings(), "platform@igny8.com").await;
    let (status, _, body) = get(&app, Some(&service), "/export/payments?format=csv").await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN".to_string()));
    let (status, _, _) = get(&app, None, "/export/invoices?format=csv").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_ai_configuration_lists_export_with_their_filters_and_never_a_key() {
    use crate::access_matrix::platform_user_token;
    use serde_json::json;
    let app = TestApp::spawn().await;
    let key = "sk-live-EXPORTsecret-4242";
    let set = app
        .graphql(
            "mutation($i: SetAiProviderKeyInput!) { setAiProviderKey(input: $i) { caughtUp } }",
            json!({ "i": { "provider": "OPENAI", "apiKey": key, "reason": "platform key" } }),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let account = open_account(&app, "ai-exports").await;
    let changed = app
        .graphql(
            "mutation($a: ID!) { changeAccountPlan(input: { accountId: $a, plan: GROWTH }) { caughtUp } }",
            json!({ "a": account }),
        )
        .await;
    assert!(changed["errors"].is_null(), "{changed}");
    for (mutation, input_type, input) in [
        (
            "overrideAiSettings",
            "OverrideAiSettingsInput",
            json!({ "accountId": account, "provider": "DALLE", "settings": { "imageQuality": "hd" },
                    "reason": "sharper" }),
        ),
        (
            "customizePrompt",
            "CustomizePromptInput",
            json!({ "accountId": account, "promptType": "title_generation",
                    "text": "Titles on {topic} with {keywords}", "reason": "ours" }),
        ),
    ] {
        let body = app
            .graphql(
                &format!("mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ caughtUp }} }}"),
                json!({ "i": input }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }

    let csv = |path: String| {
        let app = &app;
        async move {
            let (status, _, body) = get(app, Some(&app.token), &path).await;
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            csv_lines(&body)
        }
    };
    let providers = csv("/export/ai-providers?format=csv".into()).await;
    assert_eq!(providers.len(), 5, "{providers:?}");
    assert!(
        providers[0].starts_with("provider,enabled,settings,key_last4"),
        "{providers:?}"
    );
    assert!(providers[1].starts_with("openai,true,"), "{providers:?}");
    assert!(providers[1].contains(",4242,"), "{providers:?}");
    let overrides = csv(format!(
        "/export/ai-overrides?format=csv&filter={}",
        encoded(r#"{"provider":"DALLE"}"#)
    ))
    .await;
    assert_eq!(overrides.len(), 2, "{overrides:?}");
    assert!(
        overrides[1].starts_with(&format!("{account},dalle,")),
        "{overrides:?}"
    );
    let prompts = csv(format!(
        "/export/prompts?format=csv&filter={}",
        encoded(r#"{"active":true}"#)
    ))
    .await;
    assert_eq!(prompts.len(), 7, "six prompt types: {prompts:?}");
    let customized = csv(format!(
        "/export/account-prompts?format=csv&filter={}",
        encoded(r#"{"promptType":"title_generation"}"#)
    ))
    .await;
    assert_eq!(customized.len(), 2, "{customized:?}");
    let profiles = csv("/export/author-profiles?format=csv".into()).await;
    assert_eq!(profiles.len(), 6, "five personas: {profiles:?}");
    assert!(
        profiles[0].starts_with("id,account_id,name,description,category,tone,language,structure"),
        "{profiles:?}"
    );
    let strategies = csv(format!(
        "/export/content-strategies?format=csv&filter={}",
        encoded(r#"{"search":"guide"}"#)
    ))
    .await;
    assert_eq!(strategies.len(), 2, "{strategies:?}");
    assert!(strategies[1].contains("How-To Guide"), "{strategies:?}");

    // No key in any of them, in either format.
    for list in [
        "ai-providers",
        "ai-overrides",
        "prompts",
        "account-prompts",
        "author-profiles",
        "content-strategies",
    ] {
        for format in ["csv", "xlsx"] {
            let (status, _, body) = get(
                &app,
                Some(&app.token),
                &format!("/export/{list}?format={format}"),
            )
            .await;
            assert_eq!(status, 200, "{list} {format}");
            let text = String::from_utf8_lossy(&body);
            assert!(!text.contains(key), "{list} {format} holds the key");
        }
    }

    // A tenant: their own overrides, never the providers; a bad filter is a 400.
    let owner = platform_user_token(&app, &account, "owner").await;
    let (status, _, body) = get(&app, Some(&owner), "/export/ai-providers?format=csv").await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN".to_string()));
    let other = open_account(&app, "ai-exports-other").await;
    let stranger = platform_user_token(&app, &other, "owner").await;
    let (status, _, body) = get(&app, Some(&stranger), "/export/ai-overrides?format=csv").await;
    assert_eq!(status, 200);
    assert_eq!(csv_lines(&body).len(), 1, "only the header: none of theirs");
    let (status, _, body) = get(
        &app,
        Some(&app.token),
        &format!(
            "/export/ai-overrides?format=csv&filter={}",
            encoded(r#"{"provider":"GPT"}"#)
        ),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "VALIDATION".to_string()));
    app.stop().await.unwrap();
}

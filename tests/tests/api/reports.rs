//! Reports: each figure equals an independent fold of the raw event log.

use crate::accounts::{adjust, consume_as, open_account};
use crate::helpers::{create_service, error_code, TestApp};
use chrono::Utc;
use serde_json::{json, Value};

const REPORT: &str =
    "query($from: NaiveDate!, $to: NaiveDate!, $by: [UsageDimension!], $limit: Int) { \
    creditUsageReport(from: $from, to: $to, groupBy: $by, limit: $limit) { \
      rows { period accountId accountName operation model credits units uses } \
      totalCredits totalUses truncated } }";

async fn consume(app: &TestApp, token: &str, account: &str, operation: &str, credits: i64) {
    let body = crate::accounts::account_mutation_as(
        app,
        token,
        "consumeCredits",
        "ConsumeCreditsInput",
        json!({ "accountId": account, "operation": operation, "units": 2, "credits": credits }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn the_credit_usage_report_groups_and_ranks_what_the_log_says_was_consumed() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let big = open_account(&app, "big-spender").await;
    let small = open_account(&app, "small-spender").await;
    for account in [&big, &small] {
        assert!(
            crate::accounts::adjust(&app, account, 1_000, "credits to spend").await["errors"]
                .is_null()
        );
    }
    consume_as(&app, &platform, &big, 120).await; // content_generation, gpt-4o-mini
    consume(&app, &platform, &big, "image_generation", 80).await;
    consume(&app, &platform, &small, "image_generation", 15).await;
    let today = Utc::now().date_naive().to_string();
    let report = |by: Value, limit: i64| {
        let app = &app;
        let today = today.clone();
        async move {
            let body = app
                .graphql(
                    REPORT,
                    json!({ "from": today, "to": today, "by": by, "limit": limit }),
                )
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["creditUsageReport"].clone()
        }
    };

    // No command's answer waits for the usage read model: the report shows the last
    // consumption once it has caught up, which it is given a few seconds to.
    let caught_up = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        report(json!([]), 1).await["totalUses"] == 3
    })
    .await;
    assert!(caught_up, "the usage report caught up");
    // Top consumers: accounts, largest first, named.
    let by_account = report(json!(["ACCOUNT"]), 100).await;
    let rows = by_account["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["accountId"], &rows[0]["credits"], &rows[0]["uses"]),
        (&json!(big), &json!(200), &json!(2))
    );
    assert_eq!(rows[0]["accountName"], "Account big-spender");
    assert_eq!(
        (&rows[1]["accountId"], &rows[1]["credits"]),
        (&json!(small), &json!(15))
    );
    assert_eq!(rows[0]["operation"], Value::Null);

    // The totals are the log's, folded independently; a limit truncates rows, not totals.
    let (credits, uses): (i64, i64) = sqlx::query_as(
        "SELECT sum((payload -> 'CreditsConsumed' ->> 'credits')::bigint)::bigint, count(*) \
         FROM events WHERE event_type = 'CreditsConsumed'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let top = report(json!(["OPERATION", "MODEL"]), 1).await;
    assert_eq!(
        (&top["totalCredits"], &top["totalUses"]),
        (&json!(credits), &json!(uses))
    );
    assert_eq!(top["truncated"], true);
    assert_eq!(
        top["rows"],
        json!([{ "period": null, "accountId": null, "accountName": null,
                 "operation": "content_generation", "model": "gpt-4o-mini",
                 "credits": 120, "units": 1, "uses": 1 }])
    );
    let by_period = report(json!(["PERIOD"]), 100).await;
    assert_eq!(by_period["rows"][0]["credits"], credits);
    assert_eq!(by_period["truncated"], false);
}

#[tokio::test]
async fn the_credit_usage_report_refuses_bad_ranges_and_limits_and_is_for_insight() {
    let app = TestApp::spawn().await;
    for (vars, says) in [
        (
            json!({ "from": "2026-02-01", "to": "2026-01-01" }),
            "must not be after",
        ),
        (
            json!({ "from": "1999-01-01", "to": "2026-01-01" }),
            "`from` must lie between",
        ),
        (
            json!({ "from": "2026-01-01", "to": "2026-01-31", "limit": 0 }),
            "`limit` must be between 1 and 1000",
        ),
    ] {
        let body = app.graphql(REPORT, vars.clone()).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{vars}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{vars}: {message}");
    }
    let agent =
        crate::access_matrix::staff_in_group(&app, "agent@igny8.com", "Support Agent").await;
    let (_, refused) = app
        .graphql_as(
            Some(&agent),
            REPORT,
            json!({ "from": "2026-01-01", "to": "2026-01-31" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
}

const CONTENT: &str =
    "query($from: NaiveDate!, $to: NaiveDate!, $by: [ContentDimension!], $limit: Int) { \
    contentReport(from: $from, to: $to, groupBy: $by, limit: $limit) { \
      rows { period accountId accountName contentType status items words } \
      totalItems totalWords truncated } }";

fn content(account: &str, id: &str, kind: &str, status: &str, words: i64) -> Value {
    json!({
        "id": format!("content-{id}-{status}"), "accountId": account,
        "occurredAt": Utc::now().to_rfc3339(),
        "content": { "contentId": id, "contentType": kind, "status": status, "words": words }
    })
}

#[tokio::test]
async fn the_content_report_groups_what_the_platform_reported_and_its_totals_are_the_logs() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let writers = open_account(&app, "writers").await;
    let posters = open_account(&app, "posters").await;
    let records = json!([
        content(&writers, "post-1", "blog_post", "DRAFT", 900),
        content(&writers, "post-1", "blog_post", "PUBLISHED", 1000),
        content(&writers, "post-2", "blog_post", "PUBLISHED", 1500),
        content(&posters, "social-1", "social_post", "PUBLISHED", 60),
    ]);
    let (_, body) = app
        .graphql_as(
            Some(&platform),
            "mutation($r: [ActivityRecordInput!]!) { reportActivity(records: $r) { recorded } }",
            json!({ "r": records }),
        )
        .await;
    assert_eq!(body["data"]["reportActivity"]["recorded"], 4, "{body}");
    let today = Utc::now().date_naive().to_string();
    let report = |by: Value, limit: i64| {
        let (app, today) = (&app, today.clone());
        async move {
            let vars = json!({ "from": today, "to": today, "by": by, "limit": limit });
            let body = app.graphql(CONTENT, vars).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["contentReport"].clone()
        }
    };
    let caught_up = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        report(json!([]), 1).await["totalItems"] == 4
    })
    .await;
    assert!(caught_up, "the content report caught up");

    // By type and status (the default): most records first, then by the groups' values.
    let body = app
        .graphql(CONTENT, json!({ "from": today, "to": today }))
        .await;
    let rows: Vec<(String, String, i64, i64)> = body["data"]["contentReport"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["contentType"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["items"].as_i64().unwrap(),
                r["words"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("blog_post".into(), "published".into(), 2, 2500),
            ("blog_post".into(), "draft".into(), 1, 900),
            ("social_post".into(), "published".into(), 1, 60),
        ]
    );
    // Per account, named; the totals are the raw log's.
    let by_account = report(json!(["ACCOUNT"]), 1).await;
    assert_eq!(by_account["rows"][0]["accountId"], json!(writers));
    assert_eq!(by_account["rows"][0]["accountName"], "Account writers");
    assert_eq!(by_account["truncated"], true);
    let (items, words): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum((payload -> 'ActivityRecorded' -> 'activity' ->> 'words')::bigint)::bigint \
         FROM events WHERE event_type = 'ActivityRecorded' \
         AND payload -> 'ActivityRecorded' -> 'activity' ->> 'kind' = 'content'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (&by_account["totalItems"], &by_account["totalWords"]),
        (&json!(items), &json!(words))
    );
}

const QUALITY: &str = "query($checks: [DataQualityCheckKind!], $sample: Int) { \
    dataQualityReport(checks: $checks, sample: $sample) { checks { check subject count sample } } }";

#[tokio::test]
async fn the_data_quality_report_finds_what_the_read_models_reveal() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let owned = open_account(&app, "owned").await;
    // An account whose owner never became a user, with a consumption the platform priced
    // itself (no credit cost version) and an overdue invoice.
    let careless = open_account(&app, "careless").await;
    assert!(adjust(&app, &careless, 30, "a little").await["errors"].is_null());
    consume(&app, &platform, &careless, "image_generation", 25).await;
    crate::invoices::overdue_invoice(&app, &careless, 1_200).await;
    let body = app
        .graphql(
            "mutation($i: AddPlatformUserInput!) { addPlatformUser(input: $i) { user { id } } }",
            json!({ "i": { "accountId": owned, "email": "owner@owned.example.com",
                           "name": "The Owner", "role": "OWNER" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let checks = json!([
        "ACCOUNTS_WITHOUT_OWNER",
        "CONSUMPTION_WITHOUT_COST_VERSION",
        "INVOICES_OVERDUE",
        "NEGATIVE_BALANCES"
    ]);
    let found = |checks: Value| {
        let app = &app;
        async move {
            let body = app
                .graphql(QUALITY, json!({ "checks": checks, "sample": 5 }))
                .await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["dataQualityReport"]["checks"].clone()
        }
    };
    let settled = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        found(checks.clone()).await[0]["count"] == 1
    })
    .await;
    assert!(settled, "the owner's user is listed");
    let report = found(checks.clone()).await;
    let consumption: i64 =
        sqlx::query_scalar("SELECT position FROM read.credit_ledger WHERE kind = 'consumption'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let invoice: String = sqlx::query_scalar(
        "SELECT id::text FROM read.invoices WHERE status = 'pending' AND due_at < now()",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        report,
        json!([
            { "check": "ACCOUNTS_WITHOUT_OWNER", "subject": "account", "count": 1, "sample": [careless] },
            { "check": "NEGATIVE_BALANCES", "subject": "account", "count": 0, "sample": [] },
            { "check": "INVOICES_OVERDUE", "subject": "invoice", "count": 1, "sample": [invoice] },
            { "check": "CONSUMPTION_WITHOUT_COST_VERSION", "subject": "ledger position", "count": 1,
              "sample": [consumption.to_string()] },
        ])
    );
    // Every check runs against a real schema; a sample of 0 still counts.
    let all = found(Value::Null).await;
    assert_eq!(all.as_array().unwrap().len(), 12);
    let body = app.graphql(QUALITY, json!({ "sample": 0 })).await;
    let checks = body["data"]["dataQualityReport"]["checks"]
        .as_array()
        .unwrap()
        .clone();
    assert!(checks.iter().all(|c| c["sample"] == json!([])), "{body}");
    assert!(checks.iter().any(|c| c["count"] == 1), "{body}");
    let body = app.graphql(QUALITY, json!({ "sample": 101 })).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

async fn export(app: &TestApp, token: Option<&str>, path: &str) -> (u16, String) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn reports_export_as_csv_and_xlsx_as_their_graphql_queries_answer() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let big = open_account(&app, "big-spender").await;
    assert!(adjust(&app, &big, 1_000, "credits to spend").await["errors"].is_null());
    consume(&app, &platform, &big, "image_generation", 80).await;
    let today = Utc::now().date_naive().to_string();
    let args = crate::export::encoded(
        &json!({ "from": today, "to": today, "groupBy": ["ACCOUNT", "OPERATION"] }).to_string(),
    );
    let path = format!("/export/reports/credit-usage?format=csv&args={args}");
    let caught_up = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        export(&app, Some(&app.token), &path)
            .await
            .1
            .lines()
            .count()
            == 2
    })
    .await;
    assert!(caught_up, "the usage report caught up");
    let (status, csv) = export(&app, Some(&app.token), &path).await;
    assert_eq!(status, 200);
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        vec![
            "period,accountId,accountName,operation,model,credits,units,uses".to_string(),
            format!(",{big},Account big-spender,image_generation,,80,2,1"),
        ]
    );
    let xlsx = app
        .http
        .get(app.url("/export/reports/data-quality?format=xlsx"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status().as_u16(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"), "a zip");

    // The report's own refusals, with their codes and statuses.
    let bad_range = crate::export::encoded(r#"{"from":"2026-02-01","to":"2026-01-01"}"#);
    for (path, token, status, code) in [
        (
            format!("/export/reports/content?format=csv&args={bad_range}"),
            Some(app.token.as_str()),
            400,
            "VALIDATION",
        ),
        (
            "/export/reports/content?format=csv".to_string(),
            Some(app.token.as_str()),
            400,
            "VALIDATION",
        ),
        (
            format!(
                "/export/reports/content?format=csv&args={}",
                crate::export::encoded(r#"{"from":"2026-01-01","to":"2026-01-02","colour":"red"}"#)
            ),
            Some(app.token.as_str()),
            400,
            "VALIDATION",
        ),
        (
            "/export/reports/content?format=pdf".to_string(),
            Some(app.token.as_str()),
            400,
            "VALIDATION",
        ),
        (
            "/export/reports/weather?format=csv".to_string(),
            Some(app.token.as_str()),
            404,
            "NOT_FOUND",
        ),
        (
            "/export/reports/data-quality?format=csv".to_string(),
            Some(platform.as_str()),
            403,
            "FORBIDDEN",
        ),
        (
            "/export/reports/data-quality?format=csv".to_string(),
            None,
            401,
            "UNAUTHENTICATED",
        ),
    ] {
        let (got, body) = export(&app, token, &path).await;
        let json: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(
            (got, json["errors"][0]["extensions"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
}

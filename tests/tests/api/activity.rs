//! Platform activity: batches answered record by record, retries recorded once, and the read
//! models summing exactly what was recorded.

use crate::accounts::open_account;
use crate::helpers::{create_service, error_code, TestApp};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

const REPORT: &str =
    "mutation($records: [ActivityRecordInput!]!) { reportActivity(records: $records) { \
    recorded duplicates refused caughtUp results { id outcome code message position } } }";

async fn report(app: &TestApp, token: &str, records: Value) -> Value {
    let (_, body) = app
        .graphql_as(Some(token), REPORT, json!({ "records": records }))
        .await;
    body
}

fn ai_call(id: &str, account: &str, at: &str, input_tokens: i64) -> Value {
    json!({
        "id": id, "accountId": account, "occurredAt": at,
        "aiCall": {
            "provider": "OPENAI", "model": "gpt-4o-mini", "operation": "content_generation",
            "inputTokens": input_tokens, "outputTokens": 800, "costMinor": 42,
            "currency": "USD", "durationMs": 1900, "succeeded": true
        }
    })
}

#[tokio::test]
async fn a_batch_is_answered_record_by_record_and_a_retry_records_nothing_twice() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "busy-writers").await;
    let now = Utc::now().to_rfc3339();
    let before_opening = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let unknown = uuid::Uuid::new_v4().to_string();
    let records = json!([
        ai_call("call-1", &account, &now, 1200),
        {
            "id": "c-1", "accountId": account, "occurredAt": now,
            "content": { "contentId": "post-9", "contentType": "blog_post", "status": "PUBLISHED", "words": 1450 }
        },
        {
            "id": "login-1", "accountId": account, "occurredAt": now,
            "userActivity": { "userId": "u-1", "action": "LOGIN" }
        },
        ai_call("call-2", &unknown, &now, 10),
        ai_call("call-3", &account, &now, -5),
        ai_call("call-4", &account, &before_opening, 10),
        ai_call("call-5", &account, &future, 10),
        {
            "id": "two-kinds", "accountId": account, "occurredAt": now,
            "sync": { "target": "wordpress", "succeeded": true },
            "publish": { "target": "wordpress", "succeeded": true }
        },
        {
            "id": "bad-tag", "accountId": account, "occurredAt": now,
            "publish": { "target": "Word Press", "succeeded": false }
        },
        {
            "id": "no kind", "accountId": account, "occurredAt": now
        },
    ]);
    let body = report(&app, &platform, records.clone()).await;
    assert!(body["errors"].is_null(), "{body}");
    let answer = &body["data"]["reportActivity"];
    let results = answer["results"].as_array().unwrap();
    let outcomes: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("call-1", "RECORDED", ""),
            ("c-1", "RECORDED", ""),
            ("login-1", "RECORDED", ""),
            ("call-2", "REFUSED", "NOT_FOUND"),
            ("call-3", "REFUSED", "VALIDATION"),
            ("call-4", "REFUSED", "VALIDATION"),
            ("call-5", "REFUSED", "VALIDATION"),
            ("two-kinds", "REFUSED", "VALIDATION"),
            ("bad-tag", "REFUSED", "VALIDATION"),
            ("no kind", "REFUSED", "VALIDATION"),
        ],
        "{answer:#}"
    );
    assert_eq!(
        (
            &answer["recorded"],
            &answer["duplicates"],
            &answer["refused"]
        ),
        (&json!(3), &json!(0), &json!(7))
    );
    assert_eq!(answer["caughtUp"], true);
    for (n, says) in [
        (3, "no account"),
        (4, "`inputTokens` cannot be negative"),
        (5, "before its account was opened"),
        (6, "future"),
        (7, "exactly one of"),
        (8, "`target` must be"),
    ] {
        let message = results[n]["message"].as_str().unwrap();
        assert!(message.contains(says), "{n}: {message}");
    }
    assert!(results[0]["position"].as_i64().is_some());

    // The same batch again: the recorded ones are duplicates, nothing is appended.
    let events = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE aggregate_type = 'activity_record'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
    };
    assert_eq!(events().await, 3);
    let again = report(&app, &platform, records).await;
    let again = &again["data"]["reportActivity"];
    assert_eq!(
        (&again["recorded"], &again["duplicates"], &again["refused"]),
        (&json!(0), &json!(3), &json!(7)),
        "{again:#}"
    );
    assert_eq!(events().await, 3);

    // The same id with other content is refused: a record never changes.
    let changed = report(
        &app,
        &platform,
        json!([ai_call("call-1", &account, &now, 1201)]),
    )
    .await;
    let result = &changed["data"]["reportActivity"]["results"][0];
    assert_eq!(result["code"], "CONFLICT", "{changed}");
    // Ids are per kind: a content record may reuse an AI call's id.
    let reused = report(
        &app,
        &platform,
        json!([{
            "id": "call-1", "accountId": account, "occurredAt": now,
            "task": { "taskId": "t-1", "taskType": "write_article", "status": "PENDING" }
        }]),
    )
    .await;
    assert_eq!(
        reused["data"]["reportActivity"]["results"][0]["outcome"], "RECORDED",
        "{reused}"
    );

    // The read models hold exactly what was recorded, once.
    let ai: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT sum(calls)::bigint, sum(input_tokens)::bigint, sum(output_tokens)::bigint, \
                sum(cost_minor)::bigint FROM read.ai_usage_daily WHERE account_id = $1::uuid",
    )
    .bind(&account)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(ai, (1, 1200, 800, 42));
    let daily: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT kind, tag, status, records, words FROM read.activity_daily \
         WHERE account_id = $1::uuid ORDER BY kind",
    )
    .bind(&account)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        daily,
        [
            ("ai_call".into(), "openai".into(), "succeeded".into(), 1, 0),
            (
                "content".into(),
                "blog_post".into(),
                "published".into(),
                1,
                1450
            ),
            (
                "task".into(),
                "write_article".into(),
                "pending".into(),
                1,
                0
            ),
        ]
    );
    let people: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, logins FROM read.user_activity_days WHERE account_id = $1::uuid",
    )
    .bind(&account)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(people, [("u-1".to_string(), 1)]);
}

#[tokio::test]
async fn an_items_latest_status_is_the_latest_by_business_time_whatever_order_it_arrives_in() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "late-runs").await;
    let opened = Utc::now();
    let at = |millis: i64| (opened + Duration::milliseconds(millis)).to_rfc3339();
    let run = |id: &str, status: &str, when: String| {
        json!({
            "id": id, "accountId": account, "occurredAt": when,
            "automationRun": { "runId": "run-1", "automation": "weekly_blog", "status": status, "durationMs": 30 }
        })
    };
    // The run's end arrives first; its start, reported late, must not make it look running.
    let body = report(&app, &platform, json!([run("e-2", "SUCCEEDED", at(20))])).await;
    assert_eq!(body["data"]["reportActivity"]["recorded"], 1, "{body}");
    let body = report(&app, &platform, json!([run("e-1", "STARTED", at(10))])).await;
    assert_eq!(body["data"]["reportActivity"]["recorded"], 1, "{body}");
    let (status, timed): (String, i64) = sqlx::query_as(
        "SELECT i.status, (SELECT sum(timed)::bigint FROM read.activity_daily d \
                            WHERE d.account_id = i.account_id) \
         FROM read.activity_items i WHERE kind = 'automation_run' AND item_id = 'run-1'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), timed), ("succeeded", 2));
}

#[tokio::test]
async fn only_the_platform_reports_activity_and_a_batch_has_a_ceiling() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "ceilings").await;
    let now = Utc::now().to_rfc3339();
    let one = json!([ai_call("x-1", &account, &now, 1)]);
    let superuser = report(&app, &app.token, one).await;
    assert_eq!(error_code(&superuser), Some("FORBIDDEN"), "{superuser}");
    let too_many: Vec<Value> = (0..5_001)
        .map(|n| json!({ "id": format!("{n}"), "accountId": account, "occurredAt": now }))
        .collect();
    let (status, body) = app
        .graphql_as(Some(&platform), REPORT, json!({ "records": too_many }))
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{status} {body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 5000 records"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_racing_with_the_same_records_record_each_once() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "racing-senders").await;
    let now = Utc::now().to_rfc3339();
    let records: Vec<Value> = (0..300)
        .map(|n| ai_call(&format!("r-{n}"), &account, &now, n))
        .collect();
    let senders = (0..4).map(|_| report(&app, &platform, json!(records)));
    let answers = futures::future::join_all(senders).await;
    let (mut recorded, mut duplicates) = (0, 0);
    for body in &answers {
        let answer = &body["data"]["reportActivity"];
        assert_eq!(answer["refused"], 0, "{body}");
        recorded += answer["recorded"].as_i64().unwrap();
        duplicates += answer["duplicates"].as_i64().unwrap();
    }
    assert_eq!((recorded, duplicates), (300, 900));
    let (events, tokens): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE aggregate_type = 'activity_record'), \
                (SELECT sum(input_tokens)::bigint FROM read.ai_usage_daily)",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((events, tokens), (300, (0..300).sum::<i64>()));
}

/// Posts `body` to the NDJSON endpoint; the status and the answer's lines.
async fn ingest(app: &TestApp, token: &str, body: String) -> (reqwest::StatusCode, Vec<Value>) {
    let response = app
        .http
        .post(app.url("/ingest/activity?wait=true"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (status, lines)
}

#[tokio::test]
async fn ndjson_ingestion_answers_every_line_and_records_in_chunks() {
    let app = TestApp::spawn().await;
    let platform = create_service(&app.db.settings(), "platform@igny8.com").await;
    let account = open_account(&app, "streamed").await;
    let now = Utc::now().to_rfc3339();
    // 2,500 good records (three chunks), a broken line, a blank line and a refused record.
    let mut body = String::new();
    for n in 0..2_500 {
        body.push_str(&ai_call(&format!("s-{n}"), &account, &now, 1).to_string());
        body.push('\n');
    }
    body.push_str("{\"id\": \"broken\"\n\n");
    body.push_str(&ai_call("neg", &account, &now, -1).to_string());
    let (status, lines) = ingest(&app, &platform, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(lines.len(), 2_503, "a line per record and a summary");
    assert_eq!(lines[0]["outcome"], "RECORDED");
    assert_eq!(lines[0]["line"], 1);
    let broken = &lines[2_500];
    assert_eq!(
        (&broken["line"], &broken["code"], &broken["id"]),
        (&json!(2_501), &json!("VALIDATION"), &Value::Null),
        "{broken}"
    );
    assert!(broken["message"]
        .as_str()
        .unwrap()
        .starts_with("line 2501: not a record"));
    let negative = &lines[2_501];
    assert_eq!(
        (&negative["line"], &negative["id"], &negative["code"]),
        (&json!(2_503), &json!("neg"), &json!("VALIDATION"))
    );
    let summary = &lines[2_502]["summary"];
    assert!(summary["position"].as_i64() > lines[0]["position"].as_i64());
    assert_eq!(
        summary,
        &json!({ "records": 2_502, "recorded": 2_500, "duplicates": 0, "refused": 2,
                 "caughtUp": true, "position": summary["position"] })
    );
    let tokens: i64 = sqlx::query_scalar(
        "SELECT sum(input_tokens)::bigint FROM read.ai_usage_daily WHERE account_id = $1::uuid",
    )
    .bind(&account)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(tokens, 2_500);

    // Sent again: all duplicates. Operators may not use it; other media types are refused.
    let (_, again) = ingest(&app, &platform, body).await;
    assert_eq!(again[2_502]["summary"]["duplicates"], 2_500);
    let (status, refused) = ingest(&app, &app.token, String::new()).await;
    assert_eq!(status, 403);
    assert_eq!(refused[0]["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let response = app
        .http
        .post(app.url("/ingest/activity"))
        .bearer_auth(&platform)
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

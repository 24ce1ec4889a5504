//! Activity ingestion: records/s through `POST /ingest/activity` (1,000 records a request) at
//! 1 and 4 senders, timed until the read models show the last record (so the figure holds only
//! if the projections keep up), against the raw ceiling: the same rows in 1,000-row
//! `INSERT … SELECT FROM unnest` statements into an events-shaped table at the same
//! concurrency.

use super::{measure, Row};
use cqrs_es::Aggregate;
use domain::operations::activity::ActivityRecord;
use projections::Engine;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const SENDERS: [usize; 2] = [1, 4];
const RECORDS_PER_REQUEST: usize = 1_000;

/// One AI call, as the platform reports it.
fn record(id: &str, account: Uuid, n: usize) -> Value {
    json!({
        "id": id, "accountId": account, "occurredAt": chrono::Utc::now().to_rfc3339(),
        "aiCall": {
            "provider": "OPENAI", "model": "gpt-4o-mini", "operation": "content_generation",
            "inputTokens": 900 + n % 300, "outputTokens": 700, "costMinor": 3,
            "currency": "USD", "durationMs": 1800, "succeeded": !n.is_multiple_of(50)
        }
    })
}

/// Rows for `records` activity records per sender, in requests of [`RECORDS_PER_REQUEST`].
pub async fn measure_ingestion(
    pool: &PgPool,
    engine: &Engine,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    accounts: Arc<Vec<Uuid>>,
    records: usize,
) -> anyhow::Result<Vec<Row>> {
    let requests = records.div_ceil(RECORDS_PER_REQUEST).max(1);
    let mut rows = Vec::new();
    for senders in SENDERS {
        let ceiling = {
            let pool = pool.clone();
            let accounts = Arc::clone(&accounts);
            measure(
                "ceiling: 1,000-row INSERTs of activity-shaped rows",
                senders,
                requests * senders,
                move |sender, n| {
                    let pool = pool.clone();
                    let accounts = Arc::clone(&accounts);
                    async move {
                        let ids: Vec<String> = (0..RECORDS_PER_REQUEST)
                            .map(|k| format!("ai_call:ceiling-{senders}-{sender}-{n}-{k}"))
                            .collect();
                        let payloads: Vec<Value> = (0..RECORDS_PER_REQUEST)
                            .map(|k| {
                                let account = accounts[k % accounts.len()];
                                json!({ "ActivityRecorded": { "account_id": account,
                                    "activity": record("x", account, k)["aiCall"] } })
                            })
                            .collect();
                        let metadata = json!({"actor_id": "platform", "actor_kind": "service",
                            "occurred_at": "2026-11-21T00:00:00Z", "correlation_id": "bench"});
                        sqlx::query(
                            "INSERT INTO bench_ceiling (aggregate_type, aggregate_id, sequence, \
                                                        event_type, event_version, payload, metadata) \
                             SELECT 'activity_record', id, 1, 'ActivityRecorded', '1', payload, $3 \
                             FROM unnest($1::text[], $2::jsonb[]) AS r(id, payload)",
                        )
                        .bind(&ids)
                        .bind(&payloads)
                        .bind(&metadata)
                        .execute(&pool)
                        .await?;
                        Ok(())
                    }
                },
            )
            .await?
        };
        let ceiling = per_record(ceiling);
        let base = ceiling.per_second;
        rows.push(ceiling);

        let started = Instant::now();
        let ingested = {
            let http = http.clone();
            let url = url.to_string();
            let token = token.to_string();
            let accounts = Arc::clone(&accounts);
            measure(
                "ingest activity: NDJSON, 1,000 records a request",
                senders,
                requests * senders,
                move |sender, n| {
                    let (http, url, token) = (http.clone(), url.clone(), token.clone());
                    let accounts = Arc::clone(&accounts);
                    async move {
                        let mut body = String::with_capacity(RECORDS_PER_REQUEST * 320);
                        for k in 0..RECORDS_PER_REQUEST {
                            let id = format!("bench-{senders}-{sender}-{n}-{k}");
                            body.push_str(
                                &record(&id, accounts[k % accounts.len()], k).to_string(),
                            );
                            body.push('\n');
                        }
                        let answer = http
                            .post(&url)
                            .bearer_auth(&token)
                            .header("content-type", "application/x-ndjson")
                            .body(body)
                            .send()
                            .await?
                            .text()
                            .await?;
                        let summary: Value =
                            serde_json::from_str(answer.lines().last().unwrap_or(""))
                                .map_err(|e| anyhow::anyhow!("no summary ({e}): {answer:.300}"))?;
                        let summary = &summary["summary"];
                        if summary["recorded"] != RECORDS_PER_REQUEST {
                            anyhow::bail!("not every record was recorded: {summary}");
                        }
                        Ok(())
                    }
                },
            )
            .await?
        };
        let sent = started.elapsed();
        caught_up(pool, engine).await?;
        let total = started.elapsed();
        let records = ingested.ops * RECORDS_PER_REQUEST;
        let per_second = records as f64 / total.as_secs_f64();
        rows.push(Row {
            name: format!(
                "ingest activity: NDJSON, 1,000 records a request, until the read models show \
                 them all (sent in {:.1} s, shown {:.1} s later)",
                sent.as_secs_f64(),
                (total - sent).as_secs_f64()
            ),
            ops: records,
            per_second,
            of_ceiling: Some(per_second / base),
            ..ingested
        });
    }
    Ok(rows)
}

/// A row measured in requests of [`RECORDS_PER_REQUEST`], as records.
fn per_record(row: Row) -> Row {
    Row {
        ops: row.ops * RECORDS_PER_REQUEST,
        per_second: row.per_second * RECORDS_PER_REQUEST as f64,
        ..row
    }
}

/// Waits until every read model reading activity has applied the whole log, as the server's
/// engine reports in its checkpoints.
async fn caught_up(pool: &PgPool, engine: &Engine) -> anyhow::Result<()> {
    let readers = engine.readers_of(ActivityRecord::TYPE).first;
    let head = engine.head().await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM projection_checkpoints WHERE name = ANY($1) \
               AND (last_transaction_id, last_position) < ($2::xid8, $3)",
        )
        .bind(&readers)
        .bind(head.transaction_id)
        .bind(head.position)
        .fetch_one(pool)
        .await?;
        if behind == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the read models did not catch up with the activity in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Projection `bulk_jobs`: each bulk job's books (what it covers, how far it got, how it
//! ended) and every item's result, in the job's order.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::operations::bulk_job::{BulkJob, BulkJobEvent, ItemResult, JobStatus, Tally};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "bulk_jobs";

pub struct BulkJobsProjection;

#[async_trait]
impl EventHandler for BulkJobsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[BulkJob::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.bulk_jobs", "read.bulk_job_items"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.bulk_jobs, read.bulk_job_items")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events {
            let Some(parsed) = event.decode::<BulkJobEvent>()? else {
                continue;
            };
            let job: Uuid = event.aggregate_id.parse()?;
            let position = event.at.position;
            match parsed {
                BulkJobEvent::BulkJobStarted { spec } => {
                    sqlx::query(
                        "INSERT INTO read.bulk_jobs (id, list, action, bulk_key, reason, \
                           run_as_id, run_as_kind, filter, total, status, started_at, position) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(job)
                    .bind(&spec.list)
                    .bind(&spec.action)
                    .bind(&spec.bulk_key)
                    .bind(spec.reason.as_str())
                    .bind(&spec.run_as.id)
                    .bind(spec.run_as.kind.as_str())
                    .bind(spec.filter.as_ref().map(sqlx::types::Json))
                    .bind(spec.items.len() as i32)
                    .bind(JobStatus::Running.as_str())
                    .bind(event.metadata()?.occurred_at)
                    .bind(position)
                    .execute(&mut *conn)
                    .await?;
                }
                BulkJobEvent::BulkJobItemsRecorded {
                    from,
                    results,
                    tally,
                } => {
                    insert_items(conn, job, from, &results).await?;
                    set_tally(conn, job, &tally, position).await?;
                }
                BulkJobEvent::BulkJobCompleted { tally } => {
                    set_tally(conn, job, &tally, position).await?;
                    end(conn, job, JobStatus::Completed, event, None).await?;
                }
                BulkJobEvent::BulkJobCancelled { reason, .. } => {
                    end(
                        conn,
                        job,
                        JobStatus::Cancelled,
                        event,
                        Some(reason.as_str()),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

async fn insert_items(
    conn: &mut PgConnection,
    job: Uuid,
    from: usize,
    results: &[ItemResult],
) -> Result<(), HandlerError> {
    let indexes: Vec<i32> = (0..results.len()).map(|i| (from + i) as i32).collect();
    let ids: Vec<Uuid> = results.iter().map(|r| r.id).collect();
    let outcomes: Vec<&str> = results.iter().map(|r| r.outcome.as_str()).collect();
    let codes: Vec<Option<&str>> = results.iter().map(|r| r.code.as_deref()).collect();
    let messages: Vec<Option<&str>> = results.iter().map(|r| r.message.as_deref()).collect();
    let positions: Vec<Option<i64>> = results.iter().map(|r| r.position).collect();
    let replayed: Vec<bool> = results.iter().map(|r| r.replayed).collect();
    sqlx::query(
        "INSERT INTO read.bulk_job_items \
           (job_id, item_index, item_id, outcome, code, message, position, replayed) \
         SELECT $1, * FROM unnest($2::int[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
                                  $7::bigint[], $8::bool[])",
    )
    .bind(job)
    .bind(indexes)
    .bind(ids)
    .bind(outcomes)
    .bind(codes)
    .bind(messages)
    .bind(positions)
    .bind(replayed)
    .execute(conn)
    .await?;
    Ok(())
}

async fn set_tally(
    conn: &mut PgConnection,
    job: Uuid,
    tally: &Tally,
    position: i64,
) -> Result<(), HandlerError> {
    sqlx::query(
        "UPDATE read.bulk_jobs SET done = $2, no_op = $3, refused = $4, position = $5 \
         WHERE id = $1",
    )
    .bind(job)
    .bind(tally.done as i32)
    .bind(tally.no_op as i32)
    .bind(tally.refused as i32)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}

async fn end(
    conn: &mut PgConnection,
    job: Uuid,
    status: JobStatus,
    event: &RecordedEvent,
    reason: Option<&str>,
) -> Result<(), HandlerError> {
    let metadata = event.metadata()?;
    let cancelled_by = reason.map(|_| metadata.actor.to_string());
    sqlx::query(
        "UPDATE read.bulk_jobs SET status = $2, ended_at = $3, cancel_reason = $4, \
           cancelled_by = $5, position = $6 \
         WHERE id = $1",
    )
    .bind(job)
    .bind(status.as_str())
    .bind(metadata.occurred_at)
    .bind(reason)
    .bind(cancelled_by)
    .bind(event.at.position)
    .execute(conn)
    .await?;
    Ok(())
}

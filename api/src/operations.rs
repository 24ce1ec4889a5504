//! The bulk-job runner: carries out the items of running bulk jobs in the background, a chunk
//! at a time, and records each chunk's results on the job.
//!
//! Safe to run on every server and to kill at any moment: a job is worked by one runner at a
//! time (a session advisory lock on its id, released when the runner's connection goes), and a
//! runner resumes from the job's own books, the first item without a result. Items of a chunk
//! that ran but were not recorded run again under the same idempotency keys, so nothing is
//! done twice; the job then records their first outcome, marked `replayed`.

use crate::graphql::ai_config::overrides::ResetAiSettingsBulk;
use crate::graphql::ai_config::prompts::{PromptBulkAction, ResetPromptsBulk};
use crate::graphql::ai_config::templates::TemplateBulkAction;
use crate::graphql::billing::invoices::InvoiceBulk;
use crate::graphql::billing::packages::PackageBulkAction;
use crate::graphql::billing::payments::PaymentBulkAction;
use crate::graphql::billing::plans::PlanBulkAction;
use crate::graphql::billing::subscriptions::SubscriptionBulk;
use crate::graphql::operations::bulk::{self, BulkAction};
use crate::graphql::tenancy::accounts::{AccountBulkAction, AdjustCredits};
use anyhow::Context;
use async_trait::async_trait;
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::values::Reason;
use domain::operations::bulk_job::{BulkJob, BulkJobCommand, ItemResult, JobSpec, JobStatus};
use projections::{CommandBus, CommandContext};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Items run between two records on the job: how far a cancellation or a crash may lag.
const CHUNK: usize = 100;

/// How often the runner looks for running jobs it was not woken for (started on another
/// server, or left by a server that stopped).
const POLL: Duration = Duration::from_secs(2);

/// Jobs one server works at once; each runs a few items at a time.
const JOBS_AT_ONCE: usize = 2;

/// Every bulk action a job may record, by its `KIND`: what the runner can carry on.
fn actions() -> Vec<(&'static str, Decoder)> {
    vec![
        decoder::<AccountBulkAction>(),
        decoder::<AdjustCredits>(),
        decoder::<PaymentBulkAction>(),
        decoder::<InvoiceBulk>(),
        decoder::<SubscriptionBulk>(),
        decoder::<PlanBulkAction>(),
        decoder::<PackageBulkAction>(),
        decoder::<PromptBulkAction>(),
        decoder::<ResetPromptsBulk>(),
        decoder::<TemplateBulkAction>(),
        decoder::<ResetAiSettingsBulk>(),
    ]
}

type Decoder = fn(&serde_json::Value) -> serde_json::Result<Box<dyn StoredAction>>;

fn decoder<B: BulkAction>() -> (&'static str, Decoder) {
    (B::KIND, |arguments| {
        Ok(Box::new(serde_json::from_value::<B>(arguments.clone())?))
    })
}

/// A job's action, decoded: runs items.
#[async_trait]
trait StoredAction: Send + Sync {
    fn permission(&self) -> Permission;

    async fn run(
        &self,
        bus: &CommandBus,
        spec: &JobSpec,
        items: &[Uuid],
        context: &CommandContext,
    ) -> Vec<ItemResult>;
}

#[async_trait]
impl<B: BulkAction> StoredAction for B {
    fn permission(&self) -> Permission {
        B::PERMISSION
    }

    async fn run(
        &self,
        bus: &CommandBus,
        spec: &JobSpec,
        items: &[Uuid],
        context: &CommandContext,
    ) -> Vec<ItemResult> {
        bulk::run_items(bus, self, spec, items, context).await
    }
}

#[derive(Clone)]
pub struct JobRunner {
    bus: CommandBus,
    wake: Arc<Notify>,
}

impl JobRunner {
    /// A runner working through `bus`, woken early by `wake` when a job starts here.
    pub fn new(bus: CommandBus, wake: Arc<Notify>) -> Self {
        Self { bus, wake }
    }

    /// Works running jobs until `stop`, then lets each finish and record its current chunk.
    pub async fn run(self, stop: CancellationToken) {
        let mut working: JoinSet<Uuid> = JoinSet::new();
        let mut busy: HashSet<Uuid> = HashSet::new();
        loop {
            if busy.len() < JOBS_AT_ONCE {
                match self.running_jobs().await {
                    Ok(jobs) => {
                        for id in jobs {
                            if busy.len() >= JOBS_AT_ONCE {
                                break;
                            }
                            if busy.insert(id) {
                                let (runner, stop) = (self.clone(), stop.clone());
                                working.spawn(async move {
                                    runner.work(id, &stop).await;
                                    id
                                });
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot look for running bulk jobs"),
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                Some(finished) = working.join_next(), if !working.is_empty() => {
                    if let Ok(id) = finished {
                        busy.remove(&id);
                    }
                }
            }
        }
        while working.join_next().await.is_some() {}
    }

    async fn running_jobs(&self) -> Result<Vec<Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM read.bulk_jobs WHERE status = $1 ORDER BY started_at LIMIT $2",
        )
        .bind(JobStatus::Running.as_str())
        .bind(JOBS_AT_ONCE as i64 * 4)
        .fetch_all(self.bus.pool())
        .await
    }

    /// Works job `id` if no other runner does; a failure is logged once and the job is tried
    /// again on a later poll.
    pub async fn work(&self, id: Uuid, stop: &CancellationToken) {
        if let Err(error) = self.try_work(id, stop).await {
            tracing::error!(job = %id, error = format!("{error:#}"), "bulk job interrupted; it resumes on a later poll");
        }
    }

    async fn try_work(&self, id: Uuid, stop: &CancellationToken) -> anyhow::Result<()> {
        let mut lock = self.bus.pool().acquire().await?;
        let key = format!("igny8:bulk-job:{id}");
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(&key)
                .fetch_one(&mut *lock)
                .await?;
        if !locked {
            return Ok(()); // Another runner has it.
        }
        let outcome = self.carry_out(id, stop).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(&key)
            .execute(&mut *lock)
            .await;
        if unlocked.is_err() {
            // Never hand the pool a connection that may still hold the job.
            let _ = lock.close().await;
        }
        outcome
    }

    /// Whether the operator `actor` may still run items needing `permission` (a superuser, or
    /// a member of a group granting it), as the token lookup would decide now.
    async fn still_holds(&self, actor: &Actor, permission: Permission) -> anyhow::Result<bool> {
        let Ok(id) = actor.id.parse::<Uuid>() else {
            return Ok(false);
        };
        let holds: Option<bool> = sqlx::query_scalar(
            "SELECT o.superuser OR EXISTS (SELECT 1 FROM read.group_members m \
                   JOIN read.group_permissions p USING (group_id) \
                   WHERE m.operator_id = o.id AND p.permission = $2) \
             FROM read.operators o WHERE o.id = $1 AND NOT o.service",
        )
        .bind(id)
        .bind(permission.to_string())
        .fetch_optional(self.bus.pool())
        .await?;
        Ok(holds == Some(true))
    }

    async fn carry_out(&self, id: Uuid, stop: &CancellationToken) -> anyhow::Result<()> {
        let job_id = id.to_string();
        let mut job: BulkJob = self.bus.read(&job_id).await?;
        let Some(spec) = job.spec().cloned() else {
            return Ok(());
        };
        let (_, decode) = actions()
            .into_iter()
            .find(|(kind, _)| *kind == spec.list)
            .with_context(|| format!("this build does not know bulk actions on `{}`", spec.list))?;
        let action = decode(&spec.arguments).context("the job's action cannot be read")?;
        // The items are the person's doing; the job's books are kept by the backend.
        let mut items_context = CommandContext::new(spec.run_as.clone());
        items_context.correlation_id = Some(job_id.clone());
        items_context.reason = Some(spec.reason.to_string());
        let mut books = CommandContext::new(Actor::system("bulk-jobs"));
        books.correlation_id = Some(job_id.clone());
        while !stop.is_cancelled() {
            let (from, items) = job.pending(CHUNK);
            if items.is_empty() {
                break;
            }
            let permission = action.permission();
            if !self.still_holds(&spec.run_as, permission).await? {
                let reason = format!(
                    "{} no longer holds `{permission}`, which its items need",
                    spec.run_as
                );
                let cancel = BulkJobCommand::Cancel {
                    reason: Reason::parse(&reason)?,
                };
                self.bus
                    .execute::<BulkJob>(&job_id, cancel, &books.clone().with_reason(reason))
                    .await?;
                break;
            }
            let items = items.to_vec();
            let results = action.run(&self.bus, &spec, &items, &items_context).await;
            let record = BulkJobCommand::Record { from, results };
            job = self
                .bus
                .execute_and_read::<BulkJob>(&job_id, record, &books)
                .await?
                .1;
        }
        Ok(())
    }
}

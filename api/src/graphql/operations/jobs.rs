//! Bulk jobs: a job's books and its items' results, the jobs a person started, cancelling one,
//! and its progress pushed as it goes. A job is seen by the person who started it and by
//! superusers; to anyone else it does not exist.

use super::bulk::{BulkItemResult, BulkOutcome};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::graphql::kit::lists::{db_enum, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::{command_context, parse_id, principal, services, settle, Rule, WriteReceipt};
use async_graphql::{
    ComplexObject, Context, Enum, InputObject, Object, SimpleObject, Subscription, ID,
};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::kit::values::Reason;
use domain::operations::bulk_job::{BulkJob, BulkJobCommand};
use futures::stream::{self, Stream};
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::time::Duration;
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::operations::bulk_job::JobStatus")]
pub enum BulkJobStatus {
    Running,
    Completed,
    Cancelled,
}

db_enum!(
    BulkJobStatus => domain::operations::bulk_job::JobStatus,
    BulkOutcome => domain::operations::bulk_job::ItemOutcome,
);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "BulkJob")]
pub struct BulkJobNode {
    pub id: Uuid,
    /// The kind of items (`payment`, `account`, `account_credits`, …).
    pub list: String,
    /// The action run on each item (`payment-Approve`), as the items' idempotency keys name it.
    pub action: String,
    pub bulk_key: String,
    pub reason: String,
    /// Who started it; the items run as them.
    pub run_as_id: String,
    pub run_as_kind: String,
    #[graphql(skip)]
    pub filter: Option<sqlx::types::Json<serde_json::Value>>,
    /// Items the job covers, fixed when it started.
    pub total: i32,
    pub done: i32,
    pub no_op: i32,
    pub refused: i32,
    #[sqlx(try_from = "String")]
    pub status: BulkJobStatus,
    pub started_at: DateTime<Utc>,
    /// When it completed or was cancelled.
    pub ended_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// Who cancelled it (`operator:<id>`).
    pub cancelled_by: Option<String>,
    /// The log position of the job's latest event.
    pub position: i64,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(BulkJobNode, BulkItemResult);

#[ComplexObject]
impl BulkJobNode {
    /// The list filter that chose the items, as given, when they were not named.
    async fn filter(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.filter
            .as_ref()
            .map(|json| async_graphql::Json(json.0.clone()))
    }

    /// Items with a result: `done + noOp + refused`.
    async fn processed(&self) -> i32 {
        self.done + self.no_op + self.refused
    }

    /// The items' results so far, in the job's order.
    async fn items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        outcome: Option<BulkOutcome>,
    ) -> Result<Page<Key, BulkItemResult>, ApiError> {
        let page = PageRequest::<Key>::parse(first, after)?;
        let list = List {
            table: "read.bulk_job_items",
            columns: ITEM_COLUMNS,
            order: Order {
                column: "item_index",
                cast: "bigint",
                id: "item_id",
                id_cast: "uuid",
                direction: SortDirection::Asc,
            },
        };
        list.page(ctx, page, |query| {
            query.push(" AND job_id = ").push_bind(self.id);
            if let Some(outcome) = outcome {
                query.push(" AND outcome = ").push_bind(outcome.as_db());
            }
            Ok(())
        })
        .await
    }
}

const ITEM_COLUMNS: &str = "item_id::text AS id, outcome, code, message, position, replayed";

const JOB_COLUMNS: &str =
    "id, list, action, bulk_key, reason, run_as_id, run_as_kind, filter, total, done, no_op, \
     refused, status, started_at, ended_at, cancel_reason, cancelled_by, position";

pub(crate) async fn find_job(pool: &PgPool, id: Uuid) -> Result<Option<BulkJobNode>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM read.bulk_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Whether `me` may see the job: it is theirs, or they are a superuser.
fn may_see(me: &Principal, job: &BulkJobNode) -> bool {
    me.superuser || job.run_as_id == me.id.to_string()
}

/// The job `id`, when the caller may see it.
async fn visible_job(ctx: &Context<'_>, id: &ID) -> Result<Option<BulkJobNode>, ApiError> {
    let me = principal(ctx)?;
    let job = find_job(&services(ctx).pool, parse_id("id", id)?).await?;
    Ok(job.filter(|job| may_see(me, job)))
}

#[derive(InputObject, Default)]
pub struct BulkJobFilter {
    pub status: Option<Vec<BulkJobStatus>>,
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// A bulk job you started (any, for a superuser); null when there is none.
    #[graphql(guard = "Rule::Staff")]
    async fn bulk_job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<BulkJobNode>, ApiError> {
        visible_job(ctx, &id).await
    }

    /// The bulk jobs you started (everyone's, for a superuser), newest first.
    #[graphql(guard = "Rule::Staff")]
    async fn bulk_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<BulkJobFilter>,
    ) -> Result<Page<Key, BulkJobNode>, ApiError> {
        let me = principal(ctx)?;
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.bulk_jobs",
            columns: JOB_COLUMNS,
            order: Order {
                column: "started_at",
                cast: "timestamptz",
                id: "id",
                id_cast: "uuid",
                direction: SortDirection::Desc,
            },
        };
        list.page(ctx, page, |query: &mut QueryBuilder<'_, Postgres>| {
            if !me.superuser {
                query.push(" AND run_as_id = ").push_bind(me.id.to_string());
            }
            if let Some(statuses) = &filter.status {
                let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
                query
                    .push(" AND status = ANY(")
                    .push_bind(statuses)
                    .push(")");
            }
            Ok(())
        })
        .await
    }
}

#[derive(InputObject)]
pub struct CancelBulkJobInput {
    pub job_id: ID,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct BulkJobPayload {
    pub job: Option<BulkJobNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Stops a running job you started (any, for a superuser): items under way finish, the
    /// rest are not carried out. Safe to repeat; a completed job is a `CONFLICT`.
    #[graphql(guard = "Rule::Staff")]
    async fn cancel_bulk_job(
        &self,
        ctx: &Context<'_>,
        input: CancelBulkJobInput,
    ) -> Result<BulkJobPayload, ApiError> {
        let reason = Reason::parse(&input.reason)?;
        let Some(job) = visible_job(ctx, &input.job_id).await? else {
            return Err(ApiError::not_found("no such bulk job"));
        };
        let me = principal(ctx)?;
        let context = command_context(ctx, me, None, Some(reason.to_string()));
        let appended = services(ctx)
            .bus
            .execute::<BulkJob>(
                &job.id.to_string(),
                BulkJobCommand::Cancel { reason },
                &context,
            )
            .await?;
        let receipt = settle(ctx, &appended, BulkJob::TYPE).await;
        Ok(BulkJobPayload {
            job: find_job(&services(ctx).pool, job.id).await?,
            receipt,
        })
    }
}

/// How often a progress stream looks at its job when no batch of this server's projector
/// says it moved (the projector may run on another server).
const PROGRESS_POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct JobsSubscription;

#[Subscription]
impl JobsSubscription {
    /// The job as it stands now, then each time it moves; the stream ends once the job has
    /// completed or been cancelled.
    #[graphql(guard = "Rule::Staff")]
    async fn bulk_job_progress(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = BulkJobNode>, ApiError> {
        let Some(job) = visible_job(ctx, &id).await? else {
            return Err(ApiError::not_found("no such bulk job"));
        };
        let services = services(ctx);
        let pool = services.pool.clone();
        let moved = services
            .engine
            .watch(projections::operations::bulk_jobs::NAME);
        let start = Progress::Show(Box::new(job), moved);
        Ok(stream::unfold(start, move |progress| {
            let pool = pool.clone();
            async move { progress.next(&pool).await }
        }))
    }
}

type Moved = Option<tokio::sync::watch::Receiver<projections::LogPosition>>;

enum Progress {
    /// This state is to be shown.
    Show(Box<BulkJobNode>, Moved),
    /// Job `.0` was shown at position `.1`; wait until it moves.
    Wait(Uuid, i64, Moved),
    Ended,
}

impl Progress {
    async fn next(self, pool: &PgPool) -> Option<(BulkJobNode, Progress)> {
        let (id, shown, mut moved) = match self {
            Self::Ended => return None,
            Self::Show(job, moved) => return Some(Self::shown(*job, moved)),
            Self::Wait(id, position, moved) => (id, position, moved),
        };
        loop {
            match &mut moved {
                Some(receiver) => {
                    let _ = tokio::time::timeout(PROGRESS_POLL, receiver.changed()).await;
                }
                None => tokio::time::sleep(PROGRESS_POLL).await,
            }
            // A database error ends the stream; the client subscribes again.
            let job = find_job(pool, id).await.ok()??;
            if job.position != shown {
                return Some(Self::shown(job, moved));
            }
        }
    }

    fn shown(job: BulkJobNode, moved: Moved) -> (BulkJobNode, Progress) {
        let next = if job.status == BulkJobStatus::Running {
            Progress::Wait(job.id, job.position, moved)
        } else {
            Progress::Ended
        };
        (job, next)
    }
}

//! The scheduler: carries out the [deadlines](super::deadlines) that are due.
//!
//! - **Explicit clock.** [`Scheduler::run_due`] takes the time to act as of; the server's loop
//!   passes the wall clock, tests pass the moment they simulate. Each command is recorded at the
//!   deadline's own time (business time), not when the scheduler got to it, so a run that
//!   catches up after downtime writes the same history as one that never stopped.
//! - **One runner across servers.** A run holds a PostgreSQL advisory lock; a server that
//!   cannot take it skips its turn.
//! - **Nothing twice.** Every command names the deadline it carries out (the period end it is
//!   for) and carries an idempotency key derived from it: a repeat, a late run, or a race with a
//!   person records nothing more.
//! - A deadline is pending until the event it causes reaches the `deadlines` projection; a run
//!   acts on each due deadline once, so one that its target refuses waits for a person (it is
//!   logged) rather than spinning.

use crate::store::bus::{CommandBus, CommandContext};
use crate::store::engine::{step, HandlerError};
use crate::store::solo;
use chrono::{DateTime, Utc};
use domain::billing::invoice::{DunningStage, Invoice, InvoiceCommand, LateFeePolicy};
use domain::billing::subscription::{Subscription, SubscriptionCommand};
use domain::Actor;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The name the runner's advisory lock is keyed by (see `solo::alone`).
const LOCK_NAME: &str = "scheduler";

/// The most deadlines one run carries out; the next run takes the rest.
const BATCH: i64 = 1_000;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// A subscription's period ends: it renews, or expires if its cancellation is scheduled.
    PeriodEnd,
    /// An unpaid invoice reaches a dunning stage.
    Dun(DunningStage),
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PeriodEnd => "period_end",
            Self::Dun(stage) => stage.as_str(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "period_end" => Some(Self::PeriodEnd),
            stage => stage.parse().ok().map(Self::Dun),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    /// Deadlines carried out (their commands accepted, whether or not they recorded anything).
    pub carried_out: usize,
    /// Deadlines whose target refused them (logged).
    pub refused: usize,
    /// False when another server held the runner's lock, so this one did nothing.
    pub ran: bool,
}

#[derive(Clone)]
pub struct Scheduler {
    bus: CommandBus,
    late_fee: LateFeePolicy,
}

impl Scheduler {
    /// `late_fee` prices the late fees it charges.
    pub fn new(bus: CommandBus, late_fee: LateFeePolicy) -> Self {
        Self { bus, late_fee }
    }

    fn pool(&self) -> &PgPool {
        self.bus.pool()
    }

    /// Carries out every deadline due at `now`, oldest first.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<RunReport, HandlerError> {
        Ok(solo::alone(self.pool(), LOCK_NAME, self.carry_out(now))
            .await?
            .unwrap_or_default())
    }

    async fn carry_out(&self, now: DateTime<Utc>) -> Result<RunReport, HandlerError> {
        let due: Vec<(String, Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kind, aggregate_id, due_at FROM read.deadlines WHERE due_at <= $1 \
             ORDER BY due_at, kind, aggregate_id LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(self.pool())
        .await?;
        let mut report = RunReport {
            ran: true,
            ..RunReport::default()
        };
        for (kind, id, due_at) in due {
            let key = format!("deadline:{kind}:{id}:{}", due_at.timestamp_micros());
            let Some(kind) = DeadlineKind::parse(&kind) else {
                return Err(format!("unknown deadline kind `{kind}`").into());
            };
            let reason = match kind {
                DeadlineKind::PeriodEnd => "the period ended",
                DeadlineKind::Dun(_) => "the invoice is unpaid past its due date",
            };
            let mut context = CommandContext::new(Actor::system("scheduler"))
                .with_reason(reason)
                .occurred_at(due_at);
            context.correlation_id = Some(format!("deadline:{}:{id}", kind.as_str()));
            let refused = match kind {
                DeadlineKind::PeriodEnd => {
                    let command = SubscriptionCommand::EndPeriod { period_end: due_at };
                    step::<Subscription>(&self.bus, key, id, command, &context).await?
                }
                DeadlineKind::Dun(stage) => {
                    let command = InvoiceCommand::Dun {
                        stage,
                        late_fee: self.late_fee,
                    };
                    step::<Invoice>(&self.bus, key, id, command, &context).await?
                }
            };
            match refused {
                None => report.carried_out += 1,
                Some(refusal) => {
                    tracing::warn!(code = ?refusal.code, message = %refusal.message, "a deadline was refused");
                    report.refused += 1;
                }
            }
        }
        Ok(report)
    }

    /// Runs every `every` on the wall clock until `stop`.
    pub async fn run_every(self, every: Duration, stop: CancellationToken) {
        solo::every(every, stop, || async {
            match self.run_due(Utc::now()).await {
                Ok(report) if report.carried_out + report.refused > 0 => {
                    tracing::info!(?report, "scheduler ran");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "scheduler run failed"),
            }
        })
        .await
    }
}

//! Process managers: handlers that act on the world instead of folding into tables.
//!
//! A process manager reacts to one event at a time by issuing commands through the bus, each
//! with an idempotency key derived from the event and the step, so a batch that is applied again
//! (a crash, a retry) only replays them. A step the target refuses is not a failure of the
//! manager: it is recorded in `read.process_issues` for a person to resolve, and the manager
//! moves on. The engine runs one as an `EventHandler` through [`Managed`], never rebuilds it
//! (replaying could act again), and follows what it `emits` for read-your-writes.

use super::{Consumes, EventHandler, HandlerError};
use crate::store::bus::{CommandBus, CommandContext, CommandError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use domain::kit::error::Coded;
use domain::kit::event::{StoredAggregate, StoredEvent};
use domain::ErrorCode;
use futures::stream::{self, StreamExt, TryStreamExt};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// The context of a command a process manager issues in reaction to `event`: the manager
/// (`component`) acts as a system actor, in the event's request and correlation, caused by the
/// event, on the event's business time. Steps add their idempotency keys.
pub fn reaction_to(
    event: &RecordedEvent,
    component: &str,
) -> Result<CommandContext, crate::store::log::UndecodableEvent> {
    let metadata = event.metadata()?;
    let mut context = CommandContext::new(domain::Actor::system(component));
    context.request_id = metadata.request_id.clone();
    context.correlation_id = Some(metadata.correlation_id.clone());
    context.causation_id = Some(format!("event:{}", event.at.position));
    context.occurred_at = Some(metadata.occurred_at);
    Ok(context)
}

/// Runs one step of a reaction: `command` on `aggregate_id`, with idempotency key `key`
/// (derived from what the manager reacts to and the step). `Some` when the target refused it.
pub async fn step<A>(
    bus: &CommandBus,
    key: String,
    aggregate_id: Uuid,
    command: A::Command,
    context: &CommandContext,
) -> Result<Option<Refusal>, HandlerError>
where
    A: StoredAggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
    A::Event: StoredEvent,
    A::Error: Coded + std::error::Error + Send + Sync + 'static,
{
    let mut context = context.clone();
    context.idempotency_key = Some(key);
    match bus
        .execute::<A>(&aggregate_id.to_string(), command, &context)
        .await
    {
        Ok(_) => Ok(None),
        Err(CommandError::Rejected(refusal)) => Ok(Some(Refusal {
            code: refusal.code(),
            message: format!(
                "{} on {} {aggregate_id}: {refusal}",
                context.idempotency_key.unwrap_or_default(),
                A::TYPE
            ),
        })),
        Err(other) => Err(Box::new(other)),
    }
}

/// A step the target of a command refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: ErrorCode,
    /// What was refused and why, for the person who resolves it.
    pub message: String,
}

#[async_trait]
pub trait ProcessManager: Send + Sync + 'static {
    /// Stable name: the checkpoint key, the advisory-lock key.
    fn name(&self) -> &'static str;

    /// The events it reacts to.
    fn consumes(&self) -> Consumes;

    /// The aggregate types of the commands it issues.
    fn emits(&self) -> &'static [&'static str];

    /// Carries out what `event` calls for. `Ok(Some(refusal))` when a step was refused; an
    /// `Err` (the store failed) fails the batch, which is retried.
    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError>;

    /// Reactions to events of one partition run one after another, in log order; those of
    /// different partitions may run at the same time. By default there is one partition: the
    /// whole log in order. A manager whose reactions to one account touch only that account's
    /// aggregates names the account, so accounts are served side by side while each account's
    /// steps (its ledger lines among them) keep the order of the log.
    fn partition(&self, _event: &RecordedEvent) -> Result<Option<Uuid>, HandlerError> {
        Ok(None)
    }
}

/// Partitions reacted to at once within a batch: enough to overlap the steps' round trips,
/// few enough to leave the pool to the API.
const PARTITIONS_AT_ONCE: usize = 8;

/// Runs a [`ProcessManager`] as an engine handler.
pub struct Managed<P>(pub P);

#[async_trait]
impl<P: ProcessManager> EventHandler for Managed<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn consumes(&self) -> Consumes {
        self.0.consumes()
    }

    fn emits(&self) -> &'static [&'static str] {
        self.0.emits()
    }

    fn is_process_manager(&self) -> bool {
        true
    }

    /// Never called: process managers are not rebuilt.
    async fn reset(&self, _conn: &mut PgConnection) -> Result<(), HandlerError> {
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let consumes = self.0.consumes();
        // Indexes into `events`, each partition's in log order.
        let mut partitions: Vec<Vec<usize>> = Vec::new();
        let mut index: HashMap<Option<Uuid>, usize> = HashMap::new();
        for (at, event) in events.iter().enumerate() {
            if !consumes.includes(&event.aggregate_type) {
                continue;
            }
            let partition = *index.entry(self.0.partition(event)?).or_insert_with(|| {
                partitions.push(Vec::new());
                partitions.len() - 1
            });
            partitions[partition].push(at);
        }
        let mut refused: Vec<(usize, Refusal)> = stream::iter(partitions)
            .map(|partition: Vec<usize>| async move {
                let mut refused = Vec::new();
                for at in partition {
                    if let Some(refusal) = self.0.react(&events[at]).await? {
                        refused.push((at, refusal));
                    }
                }
                Ok::<_, HandlerError>(refused)
            })
            .buffer_unordered(PARTITIONS_AT_ONCE)
            .try_concat()
            .await?;
        refused.sort_by_key(|(at, _)| *at);
        for (at, refusal) in refused {
            let event = &events[at];
            tracing::warn!(
                process = self.0.name(),
                position = event.at.position,
                code = refusal.code.as_str(),
                refusal = %refusal.message,
                "a step was refused; recorded for follow-up"
            );
            sqlx::query(
                "INSERT INTO read.process_issues (handler, position, code, message) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(self.0.name())
            .bind(event.at.position)
            .bind(refusal.code.as_str())
            .bind(&refusal.message)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

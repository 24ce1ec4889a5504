//! Many commands on many aggregates in a few statements: for records that arrive by the
//! thousand (platform activity), where one load and one append per command would spend the
//! request on round trips.
//!
//! A round loads every pending aggregate in one statement (the first round assumes them new and
//! loads nothing), decides each command, and appends every decided event in one
//! `INSERT … ON CONFLICT DO NOTHING`. A command whose row the insert
//! skipped lost a race with another writer: it is decided again on fresh state in the next
//! round, like `run` does one at a time. A command decides at most one event here, so a skipped
//! row is a whole command skipped, never half of one.

use super::{Appended, CommandBus, CommandContext, CommandError, StoreError};
use crate::store::log::LogPosition;
use chrono::Utc;
use cqrs_es::event_sink::EventSink;
use cqrs_es::DomainEvent;
use domain::kit::event::{StoredAggregate, StoredEvent};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// One command of a batch: its aggregate, and its own context (each record has its own
/// business time).
pub struct BatchCommand<A: StoredAggregate> {
    pub aggregate_id: String,
    pub command: A::Command,
    pub context: CommandContext,
}

type Outcome<A> = Result<Appended, CommandError<<A as cqrs_es::Aggregate>::Error>>;

/// A command waiting for its round: its place in the batch, and its metadata as JSON.
struct Pending<A: StoredAggregate> {
    n: usize,
    aggregate_id: String,
    command: A::Command,
    metadata: serde_json::Value,
}

/// A command that decided one event, to be appended in this round.
struct Decided<A: StoredAggregate> {
    pending: Pending<A>,
    event: A::Event,
}

/// An aggregate as its events leave it, with the position of its latest event.
struct Loaded<A> {
    state: A,
    sequence: i64,
    last: Option<LogPosition>,
}

impl CommandBus {
    /// Runs every command of `batch` and answers each, in order. Commands are independent:
    /// one refused or failed does not stop the others. Idempotency comes from the aggregates
    /// (a command repeated decides nothing), so a context may carry no idempotency key.
    pub async fn execute_batch<A>(
        &self,
        batch: Vec<BatchCommand<A>>,
        services: &A::Services,
    ) -> Vec<Outcome<A>>
    where
        A: StoredAggregate + Clone + 'static,
        A::Command: Clone,
        A::Event: StoredEvent,
    {
        let now = Utc::now();
        let mut outcomes: Vec<Option<Outcome<A>>> = Vec::with_capacity(batch.len());
        let mut pending = Vec::new();
        for (n, item) in batch.into_iter().enumerate() {
            let metadata = if item.context.idempotency_key.is_some() {
                Err(CommandError::InvalidContext(
                    "a batch takes no idempotency key: its records are idempotent by their ids"
                        .into(),
                ))
            } else {
                item.context.metadata(now).and_then(|m| {
                    serde_json::to_value(m.to_map()).map_err(|e| CommandError::Store(e.into()))
                })
            };
            match metadata {
                Ok(metadata) => {
                    outcomes.push(None);
                    pending.push(Pending::<A> {
                        n,
                        aggregate_id: item.aggregate_id,
                        command: item.command,
                        metadata,
                    });
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        let mut attempts: HashMap<usize, u32> = HashMap::new();
        // The first round assumes every aggregate is new and loads nothing: records arrive new
        // far more often than not. Only an append proves the assumption (the store's unique key
        // refuses a sequence 1 that exists), so whatever else a command decides on an assumed
        // empty state is decided again, on the loaded state, in the next round.
        let mut assume_new = true;
        while !pending.is_empty() {
            let mut loaded = if assume_new {
                HashMap::new()
            } else {
                let ids: Vec<&str> = pending.iter().map(|p| p.aggregate_id.as_str()).collect();
                match self.load_many::<A>(&ids).await {
                    Ok(loaded) => loaded,
                    Err(e) => return fail_all::<A>(outcomes, pending.iter().map(|p| p.n), e),
                }
            };
            // One append per aggregate per round; a later command on the same aggregate waits
            // for the next round, to decide on the state the earlier one left.
            let mut appending: Vec<Decided<A>> = Vec::new();
            let mut taken = HashSet::new();
            let mut later = Vec::new();
            for item in pending {
                if taken.contains(&item.aggregate_id) {
                    later.push(item);
                    continue;
                }
                let current = loaded
                    .entry(item.aggregate_id.clone())
                    .or_insert_with(|| Loaded {
                        state: A::default(),
                        sequence: 0,
                        last: None,
                    });
                let mut state = current.state.clone();
                let sink = EventSink::default();
                let decided = state.handle(item.command.clone(), services, &sink).await;
                let mut events = sink.collect().await;
                if assume_new && (decided.is_err() || events.len() != 1) {
                    later.push(item);
                    continue;
                }
                let n = item.n;
                outcomes[n] = match (decided, events.len()) {
                    (Err(e), _) => Some(Err(CommandError::Rejected(e))),
                    (Ok(()), 0) => Some(Ok(Appended {
                        aggregate_id: item.aggregate_id,
                        events: 0,
                        last: None,
                        observed: current.last,
                        replayed: false,
                    })),
                    (Ok(()), 1) => {
                        taken.insert(item.aggregate_id.clone());
                        let event = events.pop().expect("one event");
                        appending.push(Decided {
                            pending: item,
                            event,
                        });
                        None
                    }
                    (Ok(()), _) => Some(Err(CommandError::Store(
                        format!("{} decided several events: a batch takes one", A::TYPE).into(),
                    ))),
                };
            }
            let sequences: Vec<i64> = appending
                .iter()
                .map(|d| {
                    loaded
                        .get(&d.pending.aggregate_id)
                        .map_or(0, |l| l.sequence)
                        + 1
                })
                .collect();
            let appended = match insert::<A>(self, &appending, &sequences).await {
                Ok(appended) => appended,
                Err(e) => {
                    let lost = appending.iter().map(|d| d.pending.n);
                    let lost = lost.chain(later.iter().map(|l| l.n));
                    return fail_all::<A>(outcomes, lost.collect::<Vec<_>>(), e);
                }
            };
            let mut next = later;
            for Decided { pending: item, .. } in appending {
                let n = item.n;
                match appended.get(&item.aggregate_id) {
                    Some(&at) => {
                        outcomes[n] = Some(Ok(Appended {
                            aggregate_id: item.aggregate_id,
                            events: 1,
                            last: Some(at),
                            observed: None,
                            replayed: false,
                        }));
                    }
                    // It existed after all: not a race lost, so no attempt is counted.
                    None if assume_new => next.push(item),
                    None => {
                        let tries = attempts.entry(n).or_default();
                        *tries += 1;
                        if *tries >= self.max_attempts {
                            outcomes[n] = Some(Err(CommandError::Conflict {
                                aggregate: A::TYPE,
                                attempts: self.max_attempts,
                            }));
                        } else {
                            next.push(item);
                        }
                    }
                }
            }
            next.sort_by_key(|p| p.n);
            pending = next;
            assume_new = false;
        }
        let outcomes: Vec<Outcome<A>> = outcomes
            .into_iter()
            .map(|o| o.expect("every command is answered"))
            .collect();
        let recorded = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(a) if a.events > 0))
            .count();
        metrics::counter!("igny8_events_appended_total", "aggregate" => A::TYPE)
            .increment(recorded as u64);
        outcomes
    }

    /// The aggregates `ids` as their events leave them, in one statement. No snapshots: the
    /// aggregates batches write are short-lived records of a few events each.
    async fn load_many<A>(&self, ids: &[&str]) -> Result<HashMap<String, Loaded<A>>, StoreError>
    where
        A: StoredAggregate,
        A::Event: StoredEvent,
    {
        let rows = sqlx::query(
            "SELECT aggregate_id, sequence, payload, event_type, event_version, position, \
                    transaction_id \
             FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2) \
             ORDER BY aggregate_id, sequence",
        )
        .bind(A::TYPE)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut loaded: HashMap<String, Loaded<A>> = HashMap::new();
        for row in rows {
            let id: String = row.try_get("aggregate_id")?;
            let entry = loaded.entry(id).or_insert_with(|| Loaded {
                state: A::default(),
                sequence: 0,
                last: None,
            });
            let (state, sequence) = super::fold::<A>(
                std::mem::take(&mut entry.state),
                entry.sequence,
                [(
                    row.try_get("sequence")?,
                    row.try_get("payload")?,
                    row.try_get("event_type")?,
                    row.try_get("event_version")?,
                )],
            )
            .map_err(|e| -> StoreError { e.to_string().into() })?;
            entry.state = state;
            entry.sequence = sequence;
            entry.last = Some(LogPosition {
                transaction_id: row.try_get("transaction_id")?,
                position: row.try_get("position")?,
            });
        }
        Ok(loaded)
    }
}

/// Appends one event per command; the position of each aggregate's row that went in. A row
/// whose sequence another writer took is skipped, not an error: its command lost a race.
async fn insert<A>(
    bus: &CommandBus,
    appending: &[Decided<A>],
    sequences: &[i64],
) -> Result<HashMap<String, LogPosition>, StoreError>
where
    A: StoredAggregate,
{
    if appending.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = appending
        .iter()
        .map(|d| d.pending.aggregate_id.as_str())
        .collect();
    let event_types: Vec<String> = appending.iter().map(|d| d.event.event_type()).collect();
    let versions: Vec<String> = appending.iter().map(|d| d.event.event_version()).collect();
    let metadata: Vec<&serde_json::Value> = appending.iter().map(|d| &d.pending.metadata).collect();
    let payloads = appending
        .iter()
        .map(|d| serde_json::to_value(&d.event))
        .collect::<Result<Vec<_>, _>>()?;
    // Into the table and columns postgres-es defines; one statement is its own transaction.
    let rows = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                             event_version, payload, metadata) \
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], \
                                  $6::jsonb[], $7::jsonb[]) \
         ON CONFLICT (aggregate_type, aggregate_id, sequence) DO NOTHING \
         RETURNING aggregate_id, position, transaction_id",
    )
    .bind(A::TYPE)
    .bind(&ids)
    .bind(sequences)
    .bind(&event_types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .fetch_all(&bus.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("aggregate_id")?,
                LogPosition {
                    transaction_id: row.try_get("transaction_id")?,
                    position: row.try_get("position")?,
                },
            ))
        })
        .collect()
}

/// Answers every command not yet answered with the store's failure: none of them was appended
/// by this call (an INSERT that fails appends nothing).
fn fail_all<A: StoredAggregate>(
    mut outcomes: Vec<Option<Outcome<A>>>,
    unanswered: impl IntoIterator<Item = usize>,
    error: StoreError,
) -> Vec<Outcome<A>> {
    let message = error.to_string();
    tracing::error!(aggregate = A::TYPE, error = %message, "a batch could not be written");
    for n in unanswered {
        outcomes[n] = Some(Err(CommandError::Store(message.clone().into())));
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every command is answered"))
        .collect()
}

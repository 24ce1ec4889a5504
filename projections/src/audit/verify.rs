//! `verify`: recomputes the seal chain from the raw events table and says where it breaks.
//!
//! Nothing stored is trusted: the events are read in log order and sealed again, and every
//! recomputed seal is compared with the stored one; the stored seals are walked in chain order
//! beside them, so a row inserted into the sealed log, a row deleted from it and two rows that
//! changed places are each told apart from a changed byte. Signed checkpoints are checked
//! against the recomputed chain (so a log rewritten *and* resealed is still caught) and against
//! the installation's public key; every aggregate's sequences must have no gaps.

use super::seal::{changed_fields, seal, SealedEvent, GENESIS, NAME as SEALER, SEALED_COLUMNS};
use super::seal_key::verify_signature;
use crate::store::log::{LogPosition, Xid8};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Where the log stops verifying, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Break {
    /// The log position where it breaks.
    pub position: i64,
    pub chain_index: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The chain index verification started after (0: from the first event).
    pub from_index: i64,
    /// Events recomputed and compared.
    pub events_checked: i64,
    /// Signed checkpoints checked.
    pub checkpoints_checked: i64,
    /// Committed events the sealer has not reached yet (not an error; sealed shortly).
    pub pending: i64,
    /// Every break found, by position; the first is where the log stops verifying.
    pub breaks: Vec<Break>,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.breaks.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Start from the latest checkpoint whose signature verifies, trusting the chain up to it.
    pub from_checkpoint: bool,
    /// The installation's public key: checkpoints signed with another are breaks.
    pub public_key: Option<[u8; 32]>,
}

#[derive(FromRow)]
struct StoredSeal {
    chain_index: i64,
    position: i64,
    seal: Vec<u8>,
    digests: Vec<u8>,
}

#[derive(FromRow)]
struct Checkpoint {
    chain_index: i64,
    position: i64,
    seal: Vec<u8>,
    signed_at: DateTime<Utc>,
    public_key: Vec<u8>,
    signature: Vec<u8>,
}

impl Checkpoint {
    fn signature_holds(&self) -> bool {
        let message = super::seal::checkpoint_message(
            self.chain_index,
            self.position,
            &self.seal,
            self.signed_at,
        );
        verify_signature(&self.public_key, &message, &self.signature)
    }
}

/// Verifies the sealed log (see the module) and records the outcome for the GraphQL status.
pub async fn verify(pool: &PgPool, options: &VerifyOptions) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let started_at = Utc::now();
    let checkpoints: Vec<Checkpoint> = sqlx::query_as(
        "SELECT chain_index, position, seal, signed_at, public_key, signature \
         FROM seal_checkpoints ORDER BY chain_index",
    )
    .fetch_all(pool)
    .await?;
    let mut breaks = Vec::new();
    let mut checked_checkpoints = 0;

    // Where to start: the beginning, or the latest checkpoint that verifies.
    let mut previous = GENESIS;
    let mut index = 0i64;
    let mut after = LogPosition::default();
    if options.from_checkpoint {
        let trusted = checkpoints.iter().rev().find(|c| {
            c.signature_holds()
                && options
                    .public_key
                    .is_none_or(|key| c.public_key == key.as_slice())
        });
        if let Some(checkpoint) = trusted {
            let at: Option<Xid8> =
                sqlx::query_scalar("SELECT transaction_id FROM events WHERE position = $1")
                    .bind(checkpoint.position)
                    .fetch_optional(pool)
                    .await?;
            match (at, <[u8; 32]>::try_from(checkpoint.seal.as_slice())) {
                (Some(transaction_id), Ok(seal)) => {
                    previous = seal;
                    index = checkpoint.chain_index;
                    after = LogPosition {
                        transaction_id,
                        position: checkpoint.position,
                    };
                }
                _ => breaks.push(Break {
                    position: checkpoint.position,
                    chain_index: Some(checkpoint.chain_index),
                    reason: "the event of the latest checkpoint is missing: a row was deleted"
                        .into(),
                }),
            }
        }
    }
    let from_index = index;

    // The sealed part of the log ends where the sealer's checkpoint stands.
    // Read in one statement: the sealer moves its checkpoint and writes its seals in one
    // transaction, so these agree, and seals written while `verify` runs are left for the next
    // run instead of being taken for seals whose events were deleted.
    let sealed: Option<(Xid8, i64, i64)> = sqlx::query_as(
        "SELECT last_transaction_id, last_position, \
                (SELECT coalesce(max(chain_index), 0) FROM event_seals) \
         FROM projection_checkpoints WHERE name = $1",
    )
    .bind(SEALER)
    .fetch_optional(pool)
    .await?;
    let (end, head) = sealed.map_or(
        (LogPosition::default(), 0),
        |(transaction_id, position, head)| {
            (
                LogPosition {
                    transaction_id,
                    position,
                },
                head,
            )
        },
    );
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE (transaction_id, position) > ($1, $2)",
    )
    .bind(end.transaction_id)
    .bind(end.position)
    .fetch_one(pool)
    .await?;

    // Recomputed seals at the checkpoints' indexes, to compare with what was signed.
    let mut at_checkpoints: HashMap<i64, [u8; 32]> = checkpoints
        .iter()
        .filter(|c| c.chain_index > from_index)
        .map(|c| (c.chain_index, GENESIS))
        .collect();

    let in_log_order = format!(
        "SELECT {SEALED_COLUMNS} FROM events \
         WHERE (transaction_id, position) > ($1, $2) AND (transaction_id, position) <= ($3, $4) \
         ORDER BY transaction_id, position"
    );
    let mut events = sqlx::query_as::<_, SealedEvent>(&in_log_order)
        .bind(after.transaction_id)
        .bind(after.position)
        .bind(end.transaction_id)
        .bind(end.position)
        .fetch(pool);
    let mut seals = sqlx::query_as::<_, StoredSeal>(
        "SELECT chain_index, position, seal, digests FROM event_seals \
         WHERE chain_index > $1 AND chain_index <= $2 ORDER BY chain_index",
    )
    .bind(index)
    .bind(head)
    .fetch(pool);
    let mut checked = 0i64;
    let chain_break = loop {
        let (event, stored) = (events.try_next().await?, seals.try_next().await?);
        let (event, stored) = match (event, stored) {
            (None, None) => break None,
            (Some(event), None) => break Some(inserted(event.position)),
            (None, Some(stored)) => break Some(deleted(&stored)),
            (Some(event), Some(stored)) => (event, stored),
        };
        if event.position != stored.position {
            break Some(misplaced(pool, &event, &stored).await?);
        }
        let digests = event.digests();
        let expected = seal(&previous, &digests);
        checked += 1;
        if expected.as_slice() != stored.seal.as_slice() {
            let fields = changed_fields(&digests, &stored.digests);
            let reason = if fields.is_empty() {
                "its seal is not the chain's: the seals were altered".to_string()
            } else {
                format!(
                    "the event no longer matches its seal: {} changed",
                    fields.join(", ")
                )
            };
            break Some(Break {
                position: event.position,
                chain_index: Some(stored.chain_index),
                reason,
            });
        }
        if let Some(slot) = at_checkpoints.get_mut(&stored.chain_index) {
            *slot = expected;
        }
        previous = expected;
        index = stored.chain_index;
    };
    drop(events);
    drop(seals);
    let verified_through = index;
    let chain_broken = chain_break.is_some();
    breaks.extend(chain_break);

    for checkpoint in checkpoints.iter().filter(|c| c.chain_index > from_index) {
        checked_checkpoints += 1;
        let problem = if !checkpoint.signature_holds() {
            Some("its signature does not verify".to_string())
        } else if let Some(key) = options
            .public_key
            .filter(|key| checkpoint.public_key != key.as_slice())
        {
            Some(format!(
                "it was signed by key {}, not by this installation's ({})",
                hex::encode(&checkpoint.public_key),
                hex::encode(key)
            ))
        } else if checkpoint.chain_index > verified_through {
            // Past a chain break there is nothing to compare with; that break is reported.
            (!chain_broken).then(|| "it names a seal the chain does not reach".to_string())
        } else if at_checkpoints
            .get(&checkpoint.chain_index)
            .map(|s| s.as_slice())
            != Some(checkpoint.seal.as_slice())
        {
            Some(
                "it does not match the chain recomputed from the events: the log before it \
                 was rewritten and resealed"
                    .to_string(),
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            breaks.push(Break {
                position: checkpoint.position,
                chain_index: Some(checkpoint.chain_index),
                reason: format!("checkpoint {}: {problem}", checkpoint.chain_index),
            });
        }
    }
    breaks.extend(sequence_gaps(pool, after).await?);
    breaks.sort_by_key(|b| b.position);
    breaks.dedup();

    let report = Report {
        from_index,
        events_checked: checked,
        checkpoints_checked: checked_checkpoints,
        pending,
        breaks,
        elapsed: started.elapsed(),
    };
    let first = report.breaks.first();
    sqlx::query(
        "INSERT INTO seal_verifications (started_at, finished_at, from_index, events_checked, \
         ok, break_position, break_reason) VALUES ($1, now(), $2, $3, $4, $5, $6)",
    )
    .bind(started_at)
    .bind(report.from_index)
    .bind(report.events_checked)
    .bind(report.ok())
    .bind(first.map(|b| b.position))
    .bind(first.map(|b| b.reason.clone()))
    .execute(pool)
    .await?;
    Ok(report)
}

fn inserted(position: i64) -> Break {
    Break {
        position,
        chain_index: None,
        reason: "the event is not in the seal chain: a row was inserted into the sealed log".into(),
    }
}

fn deleted(stored: &StoredSeal) -> Break {
    Break {
        position: stored.position,
        chain_index: Some(stored.chain_index),
        reason: "the event sealed here is missing: a row was deleted".into(),
    }
}

/// The log and the chain disagree on which event comes next: say which of inserted, deleted
/// or moved it is.
async fn misplaced(
    pool: &PgPool,
    event: &SealedEvent,
    stored: &StoredSeal,
) -> Result<Break, sqlx::Error> {
    let sealed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM event_seals WHERE position = $1)")
            .bind(event.position)
            .fetch_one(pool)
            .await?;
    if !sealed {
        return Ok(inserted(event.position));
    }
    let present: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE position = $1)")
            .bind(stored.position)
            .fetch_one(pool)
            .await?;
    if !present {
        return Ok(deleted(stored));
    }
    Ok(Break {
        position: event.position.min(stored.position),
        chain_index: Some(stored.chain_index),
        reason: format!(
            "events are out of order: the chain has position {} at index {} where the log now \
             has position {} (rows were moved or swapped)",
            stored.position, stored.chain_index, event.position
        ),
    })
}

/// Every aggregate's sequences count 1, 2, 3… with no gap; checked for the aggregates with
/// events after `after`.
async fn sequence_gaps(pool: &PgPool, after: LogPosition) -> Result<Vec<Break>, sqlx::Error> {
    let gaps: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "WITH touched AS (SELECT DISTINCT aggregate_type, aggregate_id FROM events \
                          WHERE (transaction_id, position) > ($1, $2)) \
         SELECT position, aggregate_type, aggregate_id, sequence, previous FROM ( \
             SELECT e.position, e.aggregate_type, e.aggregate_id, e.sequence, \
                    lag(e.sequence) OVER (PARTITION BY e.aggregate_type, e.aggregate_id \
                                          ORDER BY e.sequence) AS previous \
             FROM events e JOIN touched USING (aggregate_type, aggregate_id)) s \
         WHERE sequence <> coalesce(previous, 0) + 1 \
         ORDER BY position LIMIT 10",
    )
    .bind(after.transaction_id)
    .bind(after.position)
    .fetch_all(pool)
    .await?;
    Ok(gaps
        .into_iter()
        .map(
            |(position, aggregate_type, aggregate_id, sequence, previous)| Break {
                position,
                chain_index: None,
                reason: format!(
                    "{aggregate_type} {aggregate_id} goes from sequence {} to {sequence}: \
                 an event is missing",
                    previous.unwrap_or(0)
                ),
            },
        )
        .collect())
}

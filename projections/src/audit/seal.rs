//! Tamper evidence: every event sealed into a hash chain in log order, and the chain's head
//! signed now and then.
//!
//! A seal covers an event's fields as the database renders them (`payload::text`: jsonb's text
//! form is canonical, so no JSON library's number or key handling stands between the row and its
//! seal) and the previous seal:
//!
//! ```text
//! digest(field) = SHA-256(field's bytes)            for each of FIELDS, in that order
//! seal          = SHA-256("igny8-seal-v1" || previous seal || digest(field 1) || ... || digest(field 9))
//! ```
//!
//! with 32 zero bytes before the first event, times in RFC 3339 UTC with microseconds, and
//! integers in decimal. The `sealer` runs on the projector engine like any handler: after
//! commit, in log order, gap-safe, in its batch transaction. So writers never wait on one
//! another for it, and the chain advances exactly with its checkpoint.

use super::seal_key::SealKey;
use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection};
use std::time::Duration;

pub const NAME: &str = "sealer";

const SEAL_DOMAIN: &[u8] = b"igny8-seal-v1";
const CHECKPOINT_DOMAIN: &[u8] = b"igny8-checkpoint-v1";

/// The seal before the first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields a seal covers, in the order their digests are chained.
pub const FIELDS: [&str; 9] = [
    "aggregate_type",
    "aggregate_id",
    "sequence",
    "event_type",
    "event_version",
    "payload",
    "metadata",
    "recorded_at",
    "position",
];

/// Bytes of each field's digest kept beside the seal, to say which field changed.
const SHORT_DIGEST: usize = 8;

/// The select list that reads an event as it is sealed.
pub const SEALED_COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload::text AS payload, metadata::text AS metadata, recorded_at";

/// An event as the chain sees it.
#[derive(Debug, Clone, FromRow)]
pub struct SealedEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: DateTime<Utc>,
}

impl SealedEvent {
    /// The digest of each of [`FIELDS`].
    pub fn digests(&self) -> [[u8; 32]; 9] {
        let sequence = self.sequence.to_string();
        let recorded = self
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let position = self.position.to_string();
        let fields: [&[u8]; 9] = [
            self.aggregate_type.as_bytes(),
            self.aggregate_id.as_bytes(),
            sequence.as_bytes(),
            self.event_type.as_bytes(),
            self.event_version.as_bytes(),
            self.payload.as_bytes(),
            self.metadata.as_bytes(),
            recorded.as_bytes(),
            position.as_bytes(),
        ];
        fields.map(|bytes| Sha256::digest(bytes).into())
    }
}

/// The seal that follows `previous` for an event with these field digests.
pub fn seal(previous: &[u8; 32], digests: &[[u8; 32]; 9]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SEAL_DOMAIN);
    hasher.update(previous);
    for digest in digests {
        hasher.update(digest);
    }
    hasher.finalize().into()
}

/// What is stored beside a seal: the first bytes of each field's digest.
pub fn short_digests(digests: &[[u8; 32]; 9]) -> Vec<u8> {
    digests
        .iter()
        .flat_map(|d| d[..SHORT_DIGEST].iter().copied())
        .collect()
}

/// The fields whose digests differ from the stored short digests.
pub fn changed_fields(digests: &[[u8; 32]; 9], stored: &[u8]) -> Vec<&'static str> {
    FIELDS
        .iter()
        .zip(digests)
        .enumerate()
        .filter(|(i, (_, digest))| {
            stored.get(i * SHORT_DIGEST..(i + 1) * SHORT_DIGEST) != Some(&digest[..SHORT_DIGEST])
        })
        .map(|(_, (name, _))| *name)
        .collect()
}

/// What a checkpoint's signature covers.
pub fn checkpoint_message(
    chain_index: i64,
    position: i64,
    seal: &[u8],
    signed_at: DateTime<Utc>,
) -> Vec<u8> {
    let mut message = CHECKPOINT_DOMAIN.to_vec();
    message.extend_from_slice(&chain_index.to_be_bytes());
    message.extend_from_slice(&position.to_be_bytes());
    message.extend_from_slice(seal);
    message.extend_from_slice(&signed_at.timestamp_micros().to_be_bytes());
    message
}

/// Seals every event, in log order, and signs the chain's head every `checkpoint_every`
/// events or `checkpoint_interval`, whichever comes first.
pub struct Sealer {
    key: SealKey,
    checkpoint_every: i64,
    checkpoint_interval: Duration,
}

impl Sealer {
    /// Signs every `checkpoint_every` events, and at least once a minute while events come.
    pub fn new(key: SealKey, checkpoint_every: i64) -> Self {
        Self {
            key,
            checkpoint_every: checkpoint_every.max(1),
            checkpoint_interval: Duration::from_secs(60),
        }
    }
}

#[async_trait]
impl EventHandler for Sealer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Everything
    }

    /// Evidence is never rebuilt: a chain recomputed from today's log would bless whatever
    /// the log holds now. `verify` recomputes it to compare, and changes nothing.
    fn is_rebuildable(&self) -> bool {
        false
    }

    /// No answer shows a seal: commands do not wait for sealing, and the sealer runs in a
    /// batch of its own, off the path of every answer.
    fn answers_wait(&self) -> bool {
        false
    }

    /// Sealed within about a tenth of a second, in few, large batches: a transaction per commit
    /// would compete with the writers for the two cores and the database.
    fn pace(&self) -> Option<Duration> {
        Some(Duration::from_millis(100))
    }

    async fn reset(&self, _conn: &mut PgConnection) -> Result<(), HandlerError> {
        Err("the seal chain is never rebuilt".into())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let positions: Vec<i64> = events.iter().map(|e| e.at.position).collect();
        // Joined on the positions (an index lookup each), not `position = ANY($1)`: with a
        // generic plan PostgreSQL may scan the whole log for that.
        let rows: Vec<SealedEvent> = sqlx::query_as(&format!(
            "SELECT {SEALED_COLUMNS} FROM unnest($1::bigint[]) AS batch(position) \
             JOIN events USING (position)"
        ))
        .bind(&positions)
        .fetch_all(&mut *conn)
        .await?;
        let by_position: std::collections::HashMap<i64, &SealedEvent> =
            rows.iter().map(|row| (row.position, row)).collect();
        let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT chain_index, seal FROM event_seals ORDER BY chain_index DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let (mut index, mut previous) = match head {
            None => (0, GENESIS),
            Some((index, seal)) => (
                index,
                seal.try_into()
                    .map_err(|_| "the last seal is not 32 bytes long")?,
            ),
        };
        let mut indexes = Vec::with_capacity(events.len());
        let mut seals = Vec::with_capacity(events.len());
        let mut digests = Vec::with_capacity(events.len());
        for position in &positions {
            let row = by_position
                .get(position)
                .ok_or_else(|| format!("event {position} vanished before it was sealed"))?;
            let fields = row.digests();
            previous = seal(&previous, &fields);
            index += 1;
            indexes.push(index);
            seals.push(previous.to_vec());
            digests.push(short_digests(&fields));
        }
        sqlx::query(
            "INSERT INTO event_seals (chain_index, position, seal, digests) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])",
        )
        .bind(&indexes)
        .bind(&positions)
        .bind(&seals)
        .bind(&digests)
        .execute(&mut *conn)
        .await?;
        self.maybe_checkpoint(conn, index, positions.last().copied(), &previous)
            .await
    }
}

impl Sealer {
    async fn maybe_checkpoint(
        &self,
        conn: &mut PgConnection,
        index: i64,
        position: Option<i64>,
        seal: &[u8; 32],
    ) -> Result<(), HandlerError> {
        let Some(position) = position else {
            return Ok(());
        };
        let last: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT chain_index, signed_at FROM seal_checkpoints \
             ORDER BY chain_index DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let now = Utc::now();
        let due = match last {
            None => true,
            Some((last_index, signed_at)) => {
                index - last_index >= self.checkpoint_every
                    || (now - signed_at).to_std().unwrap_or_default() >= self.checkpoint_interval
            }
        };
        if !due {
            return Ok(());
        }
        // Stored with microseconds, so signed with exactly what is stored.
        let signed_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let signature = self
            .key
            .sign(&checkpoint_message(index, position, seal, signed_at));
        sqlx::query(
            "INSERT INTO seal_checkpoints \
             (chain_index, position, seal, signed_at, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(index)
        .bind(position)
        .bind(seal.as_slice())
        .bind(signed_at)
        .bind(self.key.public_key().as_slice())
        .bind(signature.as_slice())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> SealedEvent {
        SealedEvent {
            position: 7,
            aggregate_type: "account".into(),
            aggregate_id: "a".into(),
            sequence: 1,
            event_type: "AccountOpened".into(),
            event_version: "1".into(),
            payload: r#"{"AccountOpened": {"name": "A"}}"#.into(),
            metadata: r#"{"actor_id": "x"}"#.into(),
            recorded_at: "2026-11-23T10:00:00.123456Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_change_to_any_field_changes_the_seal_and_is_named() {
        let original = event();
        let digests = original.digests();
        let sealed = seal(&GENESIS, &digests);
        let stored = short_digests(&digests);
        let mut changed = original.clone();
        changed.payload = r#"{"AccountOpened": {"name": "B"}}"#.into();
        assert_ne!(seal(&GENESIS, &changed.digests()), sealed);
        assert_eq!(changed_fields(&changed.digests(), &stored), ["payload"]);
        let mut moved = original.clone();
        moved.position = 8;
        assert_eq!(changed_fields(&moved.digests(), &stored), ["position"]);
        // The chain: the same event after another seal seals differently.
        assert_ne!(seal(&sealed, &digests), sealed);
    }
}

//! The log's tamper evidence in GraphQL: the latest signed checkpoint (to publish), how far the
//! seal chain has got, and what the last `verify` found.

use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;

/// The chain's head as signed: publish it, and anyone holding the public key can later check
/// that the log up to `position` is the one that was signed.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct SealCheckpoint {
    pub chain_index: i64,
    /// Log position of the last event it covers.
    pub position: i64,
    /// The seal, in hex.
    pub seal: String,
    pub signed_at: DateTime<Utc>,
    /// The Ed25519 public key, in hex.
    pub public_key: String,
    /// The Ed25519 signature of the checkpoint, in hex.
    pub signature: String,
}

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct Verification {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The chain index it started after (0: the whole log).
    pub from_index: i64,
    pub events_checked: i64,
    pub ok: bool,
    /// Where the log stopped verifying, when it did.
    pub break_position: Option<i64>,
    pub break_reason: Option<String>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct SealStatus {
    /// This installation's public key, in hex: checkpoints must be signed with it.
    pub public_key: String,
    /// Events sealed so far.
    pub sealed: i64,
    /// Log position of the last sealed event.
    pub sealed_through: Option<i64>,
    pub latest_checkpoint: Option<SealCheckpoint>,
    /// The last run of `igny8-admin verify`; null when it has never run.
    pub last_verification: Option<Verification>,
}

#[derive(Default)]
pub struct SealQuery;

#[Object]
impl SealQuery {
    /// The seal chain: how far it has got, its latest signed checkpoint, and the last
    /// verification of the log against it.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn seal_status(&self, ctx: &Context<'_>) -> Result<SealStatus, ApiError> {
        let services = services(ctx);
        let pool = &services.pool;
        let head: Option<(i64, i64)> = sqlx::query_as(
            "SELECT chain_index, position FROM event_seals ORDER BY chain_index DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        let latest_checkpoint = sqlx::query_as(
            "SELECT chain_index, position, encode(seal, 'hex') AS seal, signed_at, \
             encode(public_key, 'hex') AS public_key, encode(signature, 'hex') AS signature \
             FROM seal_checkpoints ORDER BY chain_index DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        let last_verification = sqlx::query_as(
            "SELECT started_at, finished_at, from_index, events_checked, ok, break_position, \
             break_reason FROM seal_verifications ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        Ok(SealStatus {
            public_key: hex::encode(services.seal_public_key),
            sealed: head.map_or(0, |(index, _)| index),
            sealed_through: head.map(|(_, position)| position),
            latest_checkpoint,
            last_verification,
        })
    }
}

//! The metadata stored beside every event: who, when, why, and which request caused it.
//!
//! cqrs-es keeps metadata as a string map; this type is its typed face. Keys are stable:
//! projections and analysts read them straight from the `events.metadata` column.

use crate::kit::actor::{Actor, ActorKind};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

pub const ACTOR_ID: &str = "actor_id";
pub const ACTOR_KIND: &str = "actor_kind";
pub const REQUEST_ID: &str = "request_id";
pub const CORRELATION_ID: &str = "correlation_id";
pub const CAUSATION_ID: &str = "causation_id";
pub const REASON: &str = "reason";
pub const CLIENT_ADDR: &str = "client_addr";
pub const OCCURRED_AT: &str = "occurred_at";
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    pub actor: Actor,
    pub request_id: Option<String>,
    /// Shared by everything one user intent set in motion (a request and the process
    /// managers it triggers).
    pub correlation_id: String,
    /// The command or event that directly caused this one.
    pub causation_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    /// Business time: when it happened, as opposed to when the store recorded it.
    pub occurred_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
}

impl EventMetadata {
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(9);
        map.insert(ACTOR_ID.into(), self.actor.id.clone());
        map.insert(ACTOR_KIND.into(), self.actor.kind.as_str().into());
        map.insert(CORRELATION_ID.into(), self.correlation_id.clone());
        map.insert(
            OCCURRED_AT.into(),
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        let optional = [
            (REQUEST_ID, &self.request_id),
            (CAUSATION_ID, &self.causation_id),
            (REASON, &self.reason),
            (CLIENT_ADDR, &self.client_addr),
            (IDEMPOTENCY_KEY, &self.idempotency_key),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.insert(key.into(), value.clone());
            }
        }
        map
    }

    /// Reads metadata back. Events written by this code always carry an actor and a time;
    /// a row without them was not, and is reported rather than guessed at.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| map.get(key).cloned();
        let actor_id = get(ACTOR_ID).ok_or("metadata has no actor_id")?;
        let actor_kind = get(ACTOR_KIND).ok_or("metadata has no actor_kind")?;
        let actor_kind = actor_kind
            .parse::<ActorKind>()
            .map_err(|_| format!("unknown actor kind `{actor_kind}`"))?;
        let occurred_at = get(OCCURRED_AT)
            .ok_or("metadata has no occurred_at")?
            .parse::<DateTime<Utc>>()
            .map_err(|e| format!("metadata occurred_at is not a time: {e}"))?;
        Ok(Self {
            actor: Actor::new(actor_kind, actor_id),
            request_id: get(REQUEST_ID),
            correlation_id: get(CORRELATION_ID).unwrap_or_default(),
            causation_id: get(CAUSATION_ID),
            reason: get(REASON),
            client_addr: get(CLIENT_ADDR),
            occurred_at,
            idempotency_key: get(IDEMPOTENCY_KEY),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_survives_a_round_trip_through_the_string_map() {
        let metadata = EventMetadata {
            actor: Actor::new(ActorKind::Operator, "op-1"),
            request_id: Some("req-1".into()),
            correlation_id: "corr-1".into(),
            causation_id: None,
            reason: Some("customer asked".into()),
            client_addr: Some("127.0.0.1".into()),
            occurred_at: "2026-11-21T10:00:00.123456Z".parse().unwrap(),
            idempotency_key: Some("key-1".into()),
        };
        assert_eq!(EventMetadata::from_map(&metadata.to_map()), Ok(metadata));
    }

    #[test]
    fn metadata_without_an_actor_is_rejected() {
        let map = HashMap::from([(OCCURRED_AT.to_string(), "2026-11-21T10:00:00Z".to_string())]);
        assert!(EventMetadata::from_map(&map).is_err());
    }
}

//! Aggregates kept in memory between commands, so that a command on a warm aggregate costs one
//! statement (the append) instead of two.
//!
//! An entry may be stale (another process appended since), and that is safe: an append names
//! the sequence it follows, so a decision taken on a stale state loses with a conflict and is
//! taken again on a fresh load. Only decisions that append are checked that way, so the bus
//! never answers a refusal or a no-op from this cache (see `CommandBus::run`).

use cqrs_es::Aggregate;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Beyond this many aggregates the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

type Entry = (Box<dyn Any + Send + Sync>, i64);

#[derive(Clone, Default)]
pub(crate) struct WarmAggregates(Arc<Mutex<HashMap<(&'static str, String), Entry>>>);

impl WarmAggregates {
    /// The aggregate and the sequence of its latest event, as this process last appended it.
    pub fn get<A: Aggregate + Clone + 'static>(&self, id: &str) -> Option<(A, i64)> {
        let entries = self.entries();
        let (state, sequence) = entries.get(&(A::TYPE, id.to_string()))?;
        state.downcast_ref::<A>().map(|a| (a.clone(), *sequence))
    }

    pub fn put<A: Aggregate + 'static>(&self, id: &str, state: A, sequence: i64) {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((A::TYPE, id.to_string()), (Box::new(state), sequence));
    }

    pub fn forget<A: Aggregate>(&self, id: &str) {
        self.entries().remove(&(A::TYPE, id.to_string()));
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<(&'static str, String), Entry>> {
        // Every update leaves the map consistent, so a panic elsewhere cannot poison its meaning.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

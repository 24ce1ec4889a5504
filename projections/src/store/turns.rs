//! One command at a time per aggregate in this process.
//!
//! Two commands on one aggregate decided at once would both follow the same sequence, and one
//! would lose at the append and be decided again. Taking turns instead makes the second decide
//! on the state the first left (the warm copy, see `warm`), so in one process a conflict only
//! ever comes from another process; and it keeps two appends of one aggregate out of one group
//! commit (see `group_commit`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::OwnedMutexGuard;

type Key = (&'static str, String);

#[derive(Clone, Default)]
pub(crate) struct Turns(Arc<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>);

/// The turn of one command on one aggregate, held until it is dropped.
pub(crate) struct Turn {
    turns: Turns,
    key: Key,
    held: Option<OwnedMutexGuard<()>>,
}

impl Turns {
    /// Waits for the aggregate's earlier commands in this process, in arrival order.
    pub async fn take(&self, aggregate_type: &'static str, aggregate_id: &str) -> Turn {
        let key = (aggregate_type, aggregate_id.to_string());
        let lock = Arc::clone(self.entries().entry(key.clone()).or_default());
        let held = lock.lock_owned().await;
        Turn {
            turns: self.clone(),
            key,
            held: Some(held),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Key, Arc<tokio::sync::Mutex<()>>>> {
        // Every update leaves the map consistent, so a panic elsewhere cannot poison it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Turn {
    /// Passes the turn on, and forgets the aggregate when nobody else waits for it: waiters
    /// clone the lock under the map's lock, so only the map's own reference being left means
    /// none does.
    fn drop(&mut self) {
        let mut entries = self.turns.entries();
        self.held.take();
        if entries
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

//! Answers remembered while the read model they come from stands still: the dashboard's
//! figures are sums over whole tables, the same for every caller until a projection applies
//! another batch, so they are read once per batch (and at most once a second), not once per
//! request.
//!
//! - **Exact on one server.** An answer is kept under the log position its projection had
//!   applied when the reading began (read before the query runs, so the answer is at least that
//!   fresh) and is not served once the projection has moved on.
//! - **Bounded staleness across servers.** A projection applied by another server's projector
//!   does not move this server's positions; an answer is therefore also dropped after
//!   [`MAX_AGE`].
//! - **One reading at a time.** Callers that miss together wait for the one reading.

use crate::error::ApiError;
use projections::LogPosition;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest an answer is served, whatever the positions say.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// The most answers kept; past it the memo starts afresh (keys include client arguments).
const MAX_ENTRIES: usize = 1_024;

struct Entry {
    position: Option<LogPosition>,
    read_at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

#[derive(Default)]
pub struct Memo {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Memo {
    /// The answer under `key` read at `position` (the applied position of the projection it
    /// reads; `None` when this server does not run it), or `read`'s, then remembered.
    pub async fn get_or<T, F>(
        &self,
        key: String,
        position: Option<LogPosition>,
        read: F,
    ) -> Result<T, ApiError>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, ApiError>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.len() >= MAX_ENTRIES && !slots.contains_key(&key) {
                slots.clear();
            }
            Arc::clone(slots.entry(key).or_default())
        };
        let mut entry = slot.lock().await;
        if let Some(kept) = entry.as_ref() {
            if kept.position == position && kept.read_at.elapsed() < MAX_AGE {
                if let Some(value) = kept.value.downcast_ref::<T>() {
                    return Ok(value.clone());
                }
            }
        }
        let read_at = Instant::now();
        let value = read.await?;
        *entry = Some(Entry {
            position,
            read_at,
            value: Arc::new(value.clone()),
        });
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn at(position: i64) -> Option<LogPosition> {
        Some(LogPosition {
            transaction_id: Default::default(),
            position,
        })
    }

    #[tokio::test]
    async fn an_answer_is_read_again_only_when_its_projection_moved_or_it_aged() {
        let memo = Memo::default();
        let reads = AtomicUsize::new(0);
        let read = || async { Ok::<_, ApiError>(reads.fetch_add(1, Ordering::SeqCst)) };
        assert_eq!(memo.get_or("k".into(), at(1), read()).await.unwrap(), 0);
        assert_eq!(memo.get_or("k".into(), at(1), read()).await.unwrap(), 0);
        assert_eq!(memo.get_or("other".into(), at(1), read()).await.unwrap(), 1);
        assert_eq!(memo.get_or("k".into(), at(2), read()).await.unwrap(), 2);
        tokio::time::sleep(MAX_AGE).await;
        assert_eq!(memo.get_or("k".into(), at(2), read()).await.unwrap(), 3);
    }
}

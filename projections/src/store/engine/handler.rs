//! What a handler is and declares: its name, the events it reads, what it emits.

use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use sqlx::PgConnection;

pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Which events a handler reads, by aggregate type.
#[derive(Debug, Clone, Copy)]
pub enum Consumes {
    /// Every event in the log (e.g. the audit log).
    Everything,
    /// The events of these aggregate types.
    Only(&'static [&'static str]),
}

impl Consumes {
    pub fn includes(self, aggregate_type: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Only(types) => types.contains(&aggregate_type),
        }
    }
}

/// Something that consumes the log: a projection (writes read-model tables in the batch
/// transaction) or a process manager (issues idempotent commands).
///
/// A handler that cannot apply an event (it cannot be decoded, a bug, a constraint) fails its
/// batch. The engine then narrows the batch until the one event is found, applies everything
/// before it, and keeps the handler at that event, visibly (`status`, `/readyz`, a metric and
/// one ERROR line), retrying with back-off: it resumes by itself once a build that can apply
/// the event runs. Every other handler and the write path go on. An event of a type the
/// handler does not know is not a failure: `RecordedEvent::decode` skips it and counts it.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Stable name: the checkpoint key, the advisory-lock key and the `rebuild` argument.
    fn name(&self) -> &'static str;

    /// The events this handler reads. Read-your-writes derives from it which handlers a
    /// command's answer waits for.
    fn consumes(&self) -> Consumes;

    /// The read-model tables it owns (schema-qualified). A rebuild drops their secondary indexes
    /// and builds each once at the end, instead of maintaining them row by row.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// For a process manager: the aggregate types of the commands it issues.
    fn emits(&self) -> &'static [&'static str] {
        &[]
    }

    /// Empties the read model before a rebuild.
    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError>;

    /// Whether this handler acts on the world (issues commands) rather than folding into its
    /// own tables. Such a handler is never rebuilt: replaying it could act again, e.g. retry a
    /// grant that was refused at the time.
    fn is_process_manager(&self) -> bool {
        false
    }

    /// Whether `rebuild` may empty and replay it: not a process manager (it could act again),
    /// nor evidence such as the seal chain (recomputing it would bless today's log).
    fn is_rebuildable(&self) -> bool {
        !self.is_process_manager()
    }

    /// Whether a command's answer waits for this handler (read-your-writes). A handler whose
    /// work nobody reads back in an answer (the seal chain) says no: it then runs in a batch
    /// transaction of its own, so its work never lengthens the batch that answers wait for.
    fn answers_wait(&self) -> bool {
        true
    }

    /// The shortest time between the starts of two of its batches, when it should be longer
    /// than the engine's: fewer, larger batches for work no answer waits for.
    fn pace(&self) -> Option<std::time::Duration> {
        None
    }

    /// Applies a batch, in log order, inside the transaction that will advance the checkpoint.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError>;
}

/// Names an event in errors and status: its position and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub position: i64,
    pub event_type: String,
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.event_type, self.position)
    }
}

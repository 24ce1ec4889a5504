//! The infrastructure between the domain and the API: the event store and command bus (the
//! write path), the global log reader, the projector engine, and the read models it maintains.

pub mod bus;
pub mod db;
pub mod engine;
pub mod log;
pub mod operators;

use engine::EventHandler;
use std::sync::Arc;

pub use bus::{Appended, CommandBus, CommandContext, CommandError};
pub use engine::{Engine, EngineConfig};
pub use log::{LogPosition, RecordedEvent};

/// Every projection and process manager this build runs, in the order they are reported.
pub fn all_handlers() -> Vec<Arc<dyn EventHandler>> {
    vec![Arc::new(operators::OperatorsProjection)]
}

//! The infrastructure between the domain and the API: the event-store machinery (`store`: the
//! command bus, the global log reader, the projector engine) and, by bounded context, the read
//! models it maintains and the process managers it runs.

pub mod ai_config;
pub mod audit;
pub mod billing;
pub mod identity;
pub mod insight;
pub mod operations;
pub mod store;
pub mod tenancy;

use audit::history::Chronicles;
use audit::seal::Sealer;
use std::sync::Arc;
use store::engine::EventHandler;

pub use store::bus::{Appended, CommandBus, CommandContext, CommandError};
pub use store::engine::{Engine, EngineConfig};
pub use store::log::{LogPosition, RecordedEvent};

/// Every projection and process manager this build runs, context by context. Process managers
/// issue their commands through `bus`; `sealer` seals the log (it holds the signing key).
pub fn all_handlers(bus: &CommandBus, sealer: Sealer) -> Vec<Arc<dyn EventHandler>> {
    [
        identity::handlers(),
        tenancy::handlers(),
        billing::handlers(bus),
        ai_config::handlers(),
        operations::handlers(),
        insight::handlers(),
        audit::handlers(sealer),
    ]
    .concat()
}

/// Every aggregate type this build knows, for history and time travel.
pub fn all_chronicles() -> Chronicles {
    Chronicles::new(
        [
            identity::chronicles(),
            tenancy::chronicles(),
            billing::chronicles(),
            ai_config::chronicles(),
            operations::chronicles(),
            insight::chronicles(),
        ]
        .concat(),
    )
}

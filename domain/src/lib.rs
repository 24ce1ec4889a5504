//! The igny8-admin domain: aggregates, their commands and events, and the rules they enforce.
//!
//! Pure by design: no SQL, no HTTP. Anything external reaches an aggregate through its
//! `Services` type. Every event records facts already decided here, so projections only fold.

pub mod account;
pub mod actor;
pub mod error;
pub mod event;
pub mod metadata;
pub mod money;
pub mod operator;
pub mod payment;
pub mod plan;
pub mod time;
pub mod values;

pub use actor::{Actor, ActorKind};
pub use error::ErrorCode;
pub use metadata::EventMetadata;
pub use money::{Credits, Currency, Money};
pub use plan::PlanTier;

//! The igny8-admin domain: aggregates, their commands and events, and the rules they enforce.
//!
//! Pure by design: no SQL, no HTTP. Anything external reaches an aggregate through its
//! `Services` type. Every event records facts already decided here, so projections only fold.
//!
//! Bounded contexts are folders, with the same names in `projections` and `api`: `identity`,
//! `tenancy`, `billing`, `ai_config`, `operations`, `insight` (the vocabulary of its figures);
//! `kit` holds what they share.

pub mod ai_config;
pub mod billing;
pub mod identity;
pub mod insight;
pub mod kit;
pub mod operations;
pub mod tenancy;

pub use billing::plan::PlanTier;
pub use kit::actor::{Actor, ActorKind};
pub use kit::error::ErrorCode;
pub use kit::metadata::EventMetadata;
pub use kit::money::{Credits, Currency, Money};

//! What every context shares: actors and event metadata, error codes, how events are stored,
//! money and credits, time bounds, and the value objects commands are made of.

pub mod actor;
pub mod error;
pub mod event;
pub mod metadata;
pub mod money;
pub mod time;
pub mod values;

//! Pages of the event store itself.

pub mod system;

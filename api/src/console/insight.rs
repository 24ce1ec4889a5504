//! Pages of the `insight` context.

pub mod dashboard;

//! Pages of the `audit` context.

pub mod trail;

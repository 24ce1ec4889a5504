//! Pages of the `identity` context.

pub mod staff;

//! Pages of the `identity` context.

pub mod staff;
pub mod users;

//! Pages of the `audit` context.

pub mod timeline;
pub mod trail;

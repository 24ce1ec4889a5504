//! Pages of the `tenancy` context.

pub mod accounts;

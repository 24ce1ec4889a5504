//! Pages of the `operations` context.

pub mod jobs;

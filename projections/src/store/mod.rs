//! The event-store machinery, apart from the read models: the command bus (the one write path)
//! with its warm aggregates, the gap-safe log reader, the projector engine, and the database
//! connection and migrations.

pub mod bus;
pub mod db;
pub mod engine;
pub mod key_file;
pub mod log;
mod warm;

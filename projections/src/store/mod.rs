//! The event-store machinery, apart from the read models: the command bus (the one write path)
//! with its warm aggregates, turns and group commit, the gap-safe log reader, the projector
//! engine, and the database connection and migrations.

pub mod bus;
pub mod db;
pub mod engine;
mod group_commit;
pub mod key_file;
pub mod log;
pub mod solo;
mod turns;
mod warm;

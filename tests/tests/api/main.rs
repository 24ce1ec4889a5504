//! Integration tests: a real PostgreSQL, real HTTP, real GraphQL. One binary, shared helpers,
//! a fresh database per test.

mod accounts;
mod command_bus;
mod event_store;
mod fixtures;
mod graphql;
mod helpers;
mod payments;
mod projector;
mod rebuild;

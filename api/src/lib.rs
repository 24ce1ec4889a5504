//! The igny8-admin server: HTTP and GraphQL over the domain and its projections, plus the CLI.

pub mod ai_config;
pub mod auth;
pub mod bench;
pub mod billing;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod error;
pub mod export;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod ingest;
pub mod insight;
pub mod metrics;
pub mod operations;
pub mod startup;
pub mod tenancy;

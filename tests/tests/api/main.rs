//! Integration tests: a real PostgreSQL, real HTTP, real GraphQL. One binary, shared helpers,
//! a fresh database per test.

mod access_matrix;
mod account_scope;
mod accounts;
mod activity;
mod ai_config;
mod authorization;
mod bulk;
mod bulk_jobs;
mod catalog;
mod command_bus;
mod dashboard;
mod demo;
mod event_store;
mod export;
mod fixtures;
mod graphql;
mod helpers;
mod history;
mod invoices;
mod ledger;
mod migrations;
mod payments;
mod permissions;
mod platform_users;
mod poison;
mod projector;
mod prompts;
mod rebuild;
mod reports;
mod requests;
mod revenue;
mod schema_docs;
mod seals;
mod subscriptions;
mod templates;

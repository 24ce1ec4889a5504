//! The GraphQL schema. Axum only wires it (see `http`); everything a resolver needs arrives
//! through the schema's data (`Services`) and the request's data (`Principal`, `RequestMeta`).

mod accounts;
mod audit;
mod ledger;
mod lists;
mod operators;
pub mod page;
mod payments;
mod projections_status;

use crate::auth::Principal;
use crate::error::ApiError;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SimpleObject};
use projections::{Appended, CommandBus, CommandContext, Engine};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

pub use operators::TokensByOperator;

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted: enough for connection -> edge -> node -> nested lists.
pub const MAX_DEPTH: usize = 12;
/// Most fields one query may ask for (each field costs 1; lists count once per field).
pub const MAX_COMPLEXITY: usize = 1_000;

#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountQuery,
    ledger::LedgerQuery,
    payments::PaymentQuery,
    audit::AuditQuery,
    operators::OperatorQuery,
    projections_status::ProjectionQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    payments::PaymentMutation,
    operators::OperatorMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(projections_status::ProjectionSubscription);

/// What resolvers share for the life of the server.
pub struct Services {
    pub pool: PgPool,
    pub bus: CommandBus,
    pub engine: Arc<Engine>,
    pub read_your_writes_timeout: Duration,
}

/// Facts about the HTTP request, copied into the metadata of every event it causes.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: Option<String>,
}

pub fn build(services: Option<Services>) -> AppSchema {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(8);
    match services {
        Some(services) => builder.data(services).finish(),
        None => builder.finish(),
    }
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    build(None).sdl()
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// The authenticated caller. Transports refuse unauthenticated requests before execution;
/// this is the resolvers' own guard against a transport that forgot.
pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    ctx.data_opt::<Principal>()
        .ok_or_else(ApiError::unauthenticated)
}

pub(crate) fn require_superuser<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let principal = principal(ctx)?;
    if principal.superuser {
        Ok(principal)
    } else {
        Err(ApiError::forbidden("only a superuser may do this"))
    }
}

/// A person operating the backend: service principals may only report usage.
pub(crate) fn require_person<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let principal = principal(ctx)?;
    if principal.service {
        Err(ApiError::forbidden(
            "a service principal may only report credit usage",
        ))
    } else {
        Ok(principal)
    }
}

/// The platform's own principal: usage reports come only from it.
pub(crate) fn require_service<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let principal = principal(ctx)?;
    if principal.service {
        Ok(principal)
    } else {
        Err(ApiError::forbidden(
            "only the platform's service principal reports credit usage",
        ))
    }
}

pub(crate) fn parse_id(field: &str, id: &async_graphql::ID) -> Result<uuid::Uuid, ApiError> {
    id.trim()
        .parse()
        .map_err(|_| ApiError::validation(format!("`{field}` is not a valid id")))
}

/// The command context for a mutation by `principal` in this request.
pub(crate) fn command_context(
    ctx: &Context<'_>,
    principal: &Principal,
    idempotency_key: Option<String>,
    reason: Option<String>,
) -> CommandContext {
    let mut command = CommandContext::new(principal.actor());
    if let Some(meta) = ctx.data_opt::<RequestMeta>() {
        command.request_id = Some(meta.request_id.clone());
        command.client_addr = meta.client_addr.clone();
    }
    command.idempotency_key = idempotency_key;
    command.reason = reason;
    command
}

/// Where a mutation's events landed, and whether the read models already show them.
#[derive(SimpleObject, Debug, Clone)]
pub struct WriteReceipt {
    /// Global log position of the last event appended; null when nothing changed.
    pub position: Option<i64>,
    /// True when the affected read models had applied the change before this answer.
    pub caught_up: bool,
    /// True when an idempotency key matched an earlier request and nothing new was appended.
    pub replayed: bool,
}

/// Waits (bounded) until `projections` have applied what `appended` wrote: read-your-writes.
pub(crate) async fn settle(
    ctx: &Context<'_>,
    appended: &Appended,
    projections: &[&str],
) -> WriteReceipt {
    settle_after(ctx, appended, &[], projections).await
}

/// Read-your-writes through process managers: waits until `first` (projections and process
/// managers) have applied what `appended` wrote, then until `then` have applied everything
/// appended meanwhile, which includes the commands those process managers issued.
pub(crate) async fn settle_after(
    ctx: &Context<'_>,
    appended: &Appended,
    first: &[&str],
    then: &[&str],
) -> WriteReceipt {
    let services = services(ctx);
    let timeout = services.read_your_writes_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let caught_up = match appended.last.or(appended.observed) {
        None => true,
        Some(at) if first.is_empty() => services.engine.wait_for(then, at, timeout).await,
        Some(at) => {
            services.engine.wait_for(first, at, timeout).await
                && match services.engine.head().await {
                    Ok(head) => {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        services.engine.wait_for(then, head.max(at), left).await
                    }
                    Err(_) => false,
                }
        }
    };
    WriteReceipt {
        position: appended.last.map(|at| at.position),
        caught_up,
        replayed: appended.replayed,
    }
}

#[cfg(test)]
mod tests {
    /// The committed SDL is the API's contract; a change to the code must change it visibly.
    /// Regenerate with `cargo run -p api -- print-schema > api/schema.graphql`.
    #[test]
    fn the_committed_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::sdl(),
            "api/schema.graphql is out of date: run `cargo run -p api -- print-schema > api/schema.graphql`"
        );
    }
}

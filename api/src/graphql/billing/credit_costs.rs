//! Credit costs: every operation type's prices over time, setting a new one and withdrawing one
//! not yet in force. `consumeCredits` prices with them when the platform gives no credits.

use crate::error::ApiError;
use crate::graphql::{run_explained, services, Rule, WriteReceipt};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::billing::credit_cost::{CreditCost, CreditCostCommand};
use domain::identity::permission::Permission;
use domain::kit::money::Credits;
use domain::kit::values::OperationType;
use sqlx::PgPool;

/// One price of an operation type: credits per unit from `effectiveFrom` until the next
/// version takes effect.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct CreditCostVersion {
    /// e.g. `content_generation`.
    pub operation: String,
    pub version: i32,
    pub credits_per_unit: i64,
    pub effective_from: DateTime<Utc>,
    /// Withdrawn before it took effect: it never priced anything.
    pub withdrawn: bool,
    /// Whether this is the price in force now.
    pub in_force: bool,
    pub created_at: DateTime<Utc>,
    /// Who set it. Staff only.
    #[graphql(guard = "Rule::Staff")]
    pub created_by: String,
}

const COSTS: &str = "SELECT c.operation, c.version, c.credits_per_unit, c.effective_from, \
     c.withdrawn, c.created_at, c.created_by, \
     (NOT c.withdrawn AND c.version = (SELECT f.version FROM read.credit_costs f \
        WHERE f.operation = c.operation AND NOT f.withdrawn AND f.effective_from <= now() \
        ORDER BY f.effective_from DESC LIMIT 1)) AS in_force \
     FROM read.credit_costs c";

async fn costs_of(pool: &PgPool, operation: &str) -> Result<Vec<CreditCostVersion>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "{COSTS} WHERE c.operation = $1 ORDER BY c.version DESC"
    ))
    .bind(operation)
    .fetch_all(pool)
    .await?)
}

/// The price of `operation` in force at `at`: its version and credits per unit.
pub(crate) async fn price_at(
    pool: &PgPool,
    operation: &OperationType,
    at: DateTime<Utc>,
) -> Result<Option<(i32, i64)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT version, credits_per_unit FROM read.credit_costs \
         WHERE operation = $1 AND NOT withdrawn AND effective_from <= $2 \
         ORDER BY effective_from DESC LIMIT 1",
    )
    .bind(operation.as_str())
    .bind(at)
    .fetch_optional(pool)
    .await?)
}

#[derive(Default)]
pub struct CreditCostQuery;

#[Object]
impl CreditCostQuery {
    /// Every price of every operation type (or of one), by operation, newest version first.
    /// Tenants see them too: it is what their usage costs.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn credit_costs(
        &self,
        ctx: &Context<'_>,
        operation: Option<String>,
    ) -> Result<Vec<CreditCostVersion>, ApiError> {
        let pool = &services(ctx).pool;
        match operation {
            Some(operation) => costs_of(pool, OperationType::parse(&operation)?.as_str()).await,
            None => Ok(
                sqlx::query_as(&format!("{COSTS} ORDER BY c.operation, c.version DESC"))
                    .fetch_all(pool)
                    .await?,
            ),
        }
    }
}

#[derive(InputObject)]
pub struct SetCreditCostInput {
    /// e.g. `content_generation`; a new operation type gets its first price.
    pub operation: String,
    pub credits_per_unit: i64,
    /// When the price takes effect: after every other version of the operation, and a minute
    /// from now at the earliest (an operation's first price may take effect at once). As soon
    /// as allowed when left out.
    pub effective_from: Option<DateTime<Utc>>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct WithdrawCreditCostInput {
    pub operation: String,
    /// A version not yet in force.
    pub version: i32,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreditCostPayload {
    /// The operation's prices after the change, newest version first.
    pub costs: Vec<CreditCostVersion>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

async fn run(
    ctx: &Context<'_>,
    operation: OperationType,
    command: CreditCostCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<CreditCostPayload, ApiError> {
    let id = CreditCost::id_for(&operation);
    let receipt = run_explained::<CreditCost>(ctx, id, command, reason, idempotency_key).await?;
    Ok(CreditCostPayload {
        costs: costs_of(&services(ctx).pool, operation.as_str()).await?,
        receipt,
    })
}

#[derive(Default)]
pub struct CreditCostMutation;

#[Object]
impl CreditCostMutation {
    /// Sets a new price for an operation type, from a time on.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn set_credit_cost(
        &self,
        ctx: &Context<'_>,
        input: SetCreditCostInput,
    ) -> Result<CreditCostPayload, ApiError> {
        let operation = OperationType::parse(&input.operation)?;
        let command = CreditCostCommand::Schedule {
            operation: operation.clone(),
            credits_per_unit: Credits::new(input.credits_per_unit),
            effective_from: input.effective_from,
            now: Utc::now(),
        };
        run(
            ctx,
            operation,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Withdraws a price that has not taken effect yet.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn withdraw_credit_cost(
        &self,
        ctx: &Context<'_>,
        input: WithdrawCreditCostInput,
    ) -> Result<CreditCostPayload, ApiError> {
        let operation = OperationType::parse(&input.operation)?;
        let command = CreditCostCommand::Withdraw {
            version: input.version,
            now: Utc::now(),
        };
        run(
            ctx,
            operation,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }
}

//! Bootstrapping billing: the plans and the credit costs every installation starts with.

use domain::billing::credit_cost::{self, CreditCost, CreditCostCommand, CreditCostError};
use domain::billing::plan::{self, Plan, PlanCommand, PlanError};
use domain::Actor;
use projections::{CommandBus, CommandContext, CommandError};

/// The four tiers (`domain::billing::plan::builtin`), created as events by the system actor on
/// the first start; later starts append nothing, and a plan since revised keeps its versions.
pub async fn ensure_builtin_plans(bus: &CommandBus) -> anyhow::Result<()> {
    for (code, terms) in plan::builtin() {
        let id = Plan::id_for(&code);
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:plan:{id}"))
            .with_reason("a built-in plan");
        let create = PlanCommand::Create {
            code,
            terms,
            cloned_from: None,
        };
        match bus.execute::<Plan>(&id.to_string(), create, &context).await {
            Ok(_) | Err(CommandError::Rejected(PlanError::AlreadyExists)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The operation types' first prices (`domain::billing::credit_cost::builtin`), in force from
/// the beginning; later starts append nothing, and prices set since stay.
pub async fn ensure_builtin_credit_costs(bus: &CommandBus) -> anyhow::Result<()> {
    for (operation, credits_per_unit) in credit_cost::builtin() {
        let id = CreditCost::id_for(&operation);
        let context = CommandContext::new(Actor::system("bootstrap"))
            .with_idempotency_key(format!("bootstrap:credit-cost:{id}"))
            .with_reason("a built-in credit cost");
        let schedule = CreditCostCommand::Schedule {
            operation,
            credits_per_unit,
            effective_from: Some(domain::kit::time::earliest()),
            now: chrono::Utc::now(),
        };
        match bus
            .execute::<CreditCost>(&id.to_string(), schedule, &context)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(CreditCostError::Overlaps { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

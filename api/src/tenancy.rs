//! Account workflows that span more than one command.

use domain::billing::plan::PlanTier;
use domain::kit::values::{AccountName, Email, Slug};
use domain::tenancy::account::{Account, AccountCommand, SYSTEM_ACCOUNT_ID, SYSTEM_ACCOUNT_SLUG};
use domain::tenancy::slug_claim::{SlugClaim, SlugClaimCommand};
use domain::Actor;
use projections::{Appended, CommandBus, CommandContext};
use uuid::Uuid;

use crate::error::ApiError;

/// The id for a new account: derived from the idempotency key when there is one, so that a
/// retried open lands on the same account.
pub fn new_account_id(context: &CommandContext) -> Uuid {
    match &context.idempotency_key {
        Some(key) => Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("open-account:{key}").as_bytes(),
        ),
        None => Uuid::now_v7(),
    }
}

/// Opens an account under a slug no other account holds, even when two opens race: the slug is
/// claimed first (a `SlugClaim` aggregate per slug), then the account is opened. A failure
/// between the two leaves the slug claimed by `account_id`; a retry with the same idempotency
/// key completes the open.
pub async fn open(
    bus: &CommandBus,
    context: &CommandContext,
    account_id: Uuid,
    name: AccountName,
    slug: Slug,
    owner_email: Email,
    plan: PlanTier,
) -> Result<Appended, ApiError> {
    let step = |name: &str| {
        let mut step = context.clone();
        step.idempotency_key = context
            .idempotency_key
            .as_ref()
            .map(|k| format!("{k}:{name}"));
        step
    };
    bus.execute::<SlugClaim>(
        slug.as_str(),
        SlugClaimCommand::Claim { account_id },
        &step("claim"),
    )
    .await?;
    let appended = bus
        .execute::<Account>(
            &account_id.to_string(),
            AccountCommand::Open {
                name,
                slug,
                owner_email,
                plan,
            },
            &step("open"),
        )
        .await?;
    Ok(appended)
}

/// The system account exists from the first start; later starts find it and append nothing.
/// Returns what this call appended (nothing after the first start).
pub async fn ensure_system_account(bus: &CommandBus) -> Result<Appended, ApiError> {
    let context = CommandContext::new(Actor::system("bootstrap"))
        .with_idempotency_key("bootstrap:system-account");
    open(
        bus,
        &context,
        SYSTEM_ACCOUNT_ID,
        AccountName::parse("igny8 (system)")?,
        Slug::parse(SYSTEM_ACCOUNT_SLUG)?,
        Email::parse("admin@igny8.com")?,
        PlanTier::Scale,
    )
    .await
}

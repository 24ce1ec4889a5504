//! Plans: the catalogue of what accounts subscribe to, every version of each plan's terms, and
//! revising, activating, deactivating and cloning them.

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::page::Page;
use crate::graphql::operations::bulk::{self, BulkResult, Selection};
use crate::graphql::{parse_id, run_explained, services, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::plan::{
    Plan, PlanChanges, PlanCommand, PlanLimits, PlanTerms, PlanVersionRef,
};
use domain::identity::permission::Permission;
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{PlanName, Slug};
use sqlx::PgPool;
use uuid::Uuid;

/// A plan: its code, whether it takes new subscriptions, and its terms, version by version.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "PricingPlan")]
pub struct PlanNode {
    pub id: Uuid,
    /// Stable and unique: `free`, `starter`, `growth`, `scale`, or a clone's own.
    pub code: String,
    /// The name in the version in force.
    pub name: String,
    /// Inactive plans take no new subscriptions; existing ones keep their version.
    pub active: bool,
    pub current_version: i32,
    /// Set on a clone: the plan and version it was cloned from.
    pub cloned_from_plan_id: Option<Uuid>,
    pub cloned_from_version: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a plan allows per month.
#[derive(SimpleObject, Debug, Clone)]
pub struct PlanLimitSet {
    pub sites: i32,
    pub users: i32,
    pub keywords: i32,
    /// Words of generated content per month.
    pub monthly_words: i32,
    /// Generated images per month.
    pub monthly_images: i32,
}

/// One version of a plan's terms. Versions never change: a revision is a new version.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex)]
pub struct PlanVersion {
    pub plan_id: Uuid,
    pub version: i32,
    pub name: String,
    /// The monthly price in minor units (cents) of `currency`.
    pub price_minor: i64,
    pub currency: String,
    /// Credits granted at the start of every period.
    pub included_credits: i64,
    #[graphql(skip)]
    pub max_sites: i32,
    #[graphql(skip)]
    pub max_users: i32,
    #[graphql(skip)]
    pub max_keywords: i32,
    #[graphql(skip)]
    pub monthly_words: i32,
    #[graphql(skip)]
    pub monthly_images: i32,
    /// Whether accounts on this version may override the global AI settings.
    pub overrides_allowed: bool,
    /// When this version was made (business time).
    pub created_at: DateTime<Utc>,
    /// Who made it: a staff member, or `bootstrap` for the built-in plans. Staff only.
    #[graphql(guard = "Rule::Staff")]
    pub created_by: String,
}

#[ComplexObject]
impl PlanVersion {
    async fn limits(&self) -> PlanLimitSet {
        PlanLimitSet {
            sites: self.max_sites,
            users: self.max_users,
            keywords: self.max_keywords,
            monthly_words: self.monthly_words,
            monthly_images: self.monthly_images,
        }
    }
}

impl PlanVersion {
    fn terms(&self) -> Result<PlanTerms, ApiError> {
        Ok(PlanTerms {
            name: PlanName::parse(&self.name)?,
            monthly_price: Money::new(self.price_minor, Currency::parse(&self.currency)?),
            included_credits: Credits::new(self.included_credits),
            limits: PlanLimits {
                sites: self.max_sites,
                users: self.max_users,
                keywords: self.max_keywords,
                monthly_words: self.monthly_words,
                monthly_images: self.monthly_images,
            },
            overrides_allowed: self.overrides_allowed,
        })
    }
}

const PLANS: &str = "SELECT id, code, name, active, current_version, \
     cloned_from_plan AS cloned_from_plan_id, cloned_from_version, created_at, updated_at \
     FROM read.plans";

const VERSIONS: &str = "SELECT plan_id, version, name, price_minor, currency, included_credits, \
     max_sites, max_users, max_keywords, monthly_words, monthly_images, overrides_allowed, \
     created_at, created_by FROM read.plan_versions";

async fn find_plan(pool: &PgPool, id: Uuid) -> Result<Option<PlanNode>, ApiError> {
    Ok(sqlx::query_as(&format!("{PLANS} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

async fn find_version(
    pool: &PgPool,
    plan_id: Uuid,
    version: i32,
) -> Result<Option<PlanVersion>, ApiError> {
    Ok(
        sqlx::query_as(&format!("{VERSIONS} WHERE plan_id = $1 AND version = $2"))
            .bind(plan_id)
            .bind(version)
            .fetch_optional(pool)
            .await?,
    )
}

#[ComplexObject]
impl PlanNode {
    /// The terms in force: what a new subscription gets.
    async fn terms(&self, ctx: &Context<'_>) -> Result<PlanVersion, ApiError> {
        find_version(&services(ctx).pool, self.id, self.current_version)
            .await?
            .ok_or_else(|| {
                // Written in the same transaction as the plan's row: only a damaged read model.
                ApiError::new(
                    domain::ErrorCode::Internal,
                    "the plan's current version is missing from the catalogue",
                )
            })
    }

    /// Every version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<PlanVersion>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "{VERSIONS} WHERE plan_id = $1 ORDER BY version DESC"
        ))
        .bind(self.id)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    /// The plan's versions as events, oldest first: who changed what, when and why.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(ctx, Plan::TYPE, &self.id.to_string(), first, after, filter).await
    }

    /// The plan as it was at a version, a recording time or a business time.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Plan::TYPE, &self.id.to_string(), at).await
    }
}

#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// The plans, cheapest first (there are few: no paging). Tenants see them too: it is
    /// what they may subscribe to.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn plans(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only active plans (true) or only inactive ones (false).")] active: Option<
            bool,
        >,
    ) -> Result<Vec<PlanNode>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "{PLANS} p WHERE ($1::boolean IS NULL OR p.active = $1) \
             ORDER BY (SELECT v.price_minor FROM read.plan_versions v \
                       WHERE v.plan_id = p.id AND v.version = p.current_version), p.code"
        ))
        .bind(active)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    /// One plan, by id or by code.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn plan(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> Result<Option<PlanNode>, ApiError> {
        let id = match (id, code) {
            (Some(id), None) => parse_id("id", &id)?,
            (None, Some(code)) => Plan::id_for(&Slug::parse(code.trim())?),
            _ => return Err(ApiError::validation("give exactly one of `id` and `code`")),
        };
        find_plan(&services(ctx).pool, id).await
    }
}

/// Changes to a plan's terms; every field left out keeps its value.
#[derive(InputObject, Default)]
pub struct PlanTermsChanges {
    pub name: Option<String>,
    /// Monthly price in minor units (cents), 0 for a free plan.
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub included_credits: Option<i64>,
    pub sites: Option<i32>,
    pub users: Option<i32>,
    pub keywords: Option<i32>,
    pub monthly_words: Option<i32>,
    pub monthly_images: Option<i32>,
    /// Never on a free plan.
    pub overrides_allowed: Option<bool>,
}

impl PlanTermsChanges {
    fn parse(self) -> Result<PlanChanges, ApiError> {
        Ok(PlanChanges {
            name: self.name.as_deref().map(PlanName::parse).transpose()?,
            monthly_price_minor: self.price_minor,
            currency: self.currency.as_deref().map(Currency::parse).transpose()?,
            included_credits: self.included_credits.map(Credits::new),
            sites: self.sites,
            users: self.users,
            keywords: self.keywords,
            monthly_words: self.monthly_words,
            monthly_images: self.monthly_images,
            overrides_allowed: self.overrides_allowed,
        })
    }
}

#[derive(InputObject)]
pub struct RevisePlanInput {
    pub plan_id: ID,
    pub changes: PlanTermsChanges,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct PlanInput {
    pub plan_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ClonePlanInput {
    /// The plan to clone.
    pub plan_id: ID,
    /// The version to start from; the version in force when left out.
    pub version: Option<i32>,
    /// The new plan's code: lowercase letters, digits and hyphens.
    pub code: String,
    /// What differs from the version cloned (a clone usually changes at least its name).
    pub changes: Option<PlanTermsChanges>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct PlanPayload {
    pub plan: Option<PlanNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

/// Runs a plan command and answers with the plan as the catalogue shows it afterwards.
async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: PlanCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<PlanPayload, ApiError> {
    let receipt = run_explained::<Plan>(ctx, id, command, reason, idempotency_key).await?;
    Ok(PlanPayload {
        plan: find_plan(&services(ctx).pool, id).await?,
        receipt,
    })
}

/// What a bulk action does to each plan or credit package.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CatalogBulkAction {
    Activate,
    Deactivate,
}

/// A bulk action that activates or deactivates entries of a catalogue (plans, credit packages,
/// global prompts): the aggregate, the kind its jobs are stored as, the permission it needs, the
/// prefix of its name, and the aggregate's command type (with `Activate` and `Deactivate`).
macro_rules! catalog_bulk_action {
    ($(#[$doc:meta])* $action:ident {
        aggregate: $aggregate:ty,
        kind: $kind:literal,
        permission: $permission:ident,
        name: $prefix:literal,
        command: $command:ident $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
        pub struct $action(pub $crate::graphql::billing::plans::CatalogBulkAction);

        impl $crate::graphql::operations::bulk::BulkAction for $action {
            type Aggregate = $aggregate;
            const KIND: &'static str = $kind;
            const PERMISSION: domain::identity::permission::Permission =
                domain::identity::permission::Permission::$permission;

            fn name(&self) -> String {
                format!(concat!($prefix, "-{:?}"), self.0)
            }

            fn command(
                &self,
                _actor: &domain::kit::actor::Actor,
                _reason: &domain::kit::values::Reason,
                _at: chrono::DateTime<chrono::Utc>,
            ) -> $command {
                use $crate::graphql::billing::plans::CatalogBulkAction;
                match self.0 {
                    CatalogBulkAction::Activate => $command::Activate,
                    CatalogBulkAction::Deactivate => $command::Deactivate,
                }
            }
        }
    };
}
pub(crate) use catalog_bulk_action;

catalog_bulk_action!(
    /// A catalogue action on plans.
    PlanBulkAction {
        aggregate: Plan,
        kind: "plan",
        permission: BillingWrite,
        name: "plan",
        command: PlanCommand,
    }
);

#[derive(InputObject)]
pub struct BulkCatalogInput {
    pub action: CatalogBulkAction,
    pub ids: Vec<ID>,
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    /// Records new terms for a plan as its next version. Subscriptions on earlier versions keep
    /// them until their next period. Changing nothing records nothing.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn revise_plan(
        &self,
        ctx: &Context<'_>,
        input: RevisePlanInput,
    ) -> Result<PlanPayload, ApiError> {
        let id = parse_id("planId", &input.plan_id)?;
        let command = PlanCommand::Revise {
            changes: input.changes.parse()?,
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Lets a plan take new subscriptions again. Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn activate_plan(
        &self,
        ctx: &Context<'_>,
        input: PlanInput,
    ) -> Result<PlanPayload, ApiError> {
        let id = parse_id("planId", &input.plan_id)?;
        run(
            ctx,
            id,
            PlanCommand::Activate,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Stops a plan taking new subscriptions; existing ones keep it. Safe to repeat. The Free
    /// plan stays active.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn deactivate_plan(
        &self,
        ctx: &Context<'_>,
        input: PlanInput,
    ) -> Result<PlanPayload, ApiError> {
        let id = parse_id("planId", &input.plan_id)?;
        run(
            ctx,
            id,
            PlanCommand::Deactivate,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Activates or deactivates many plans, answered per plan.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn bulk_plan_action(
        &self,
        ctx: &Context<'_>,
        input: BulkCatalogInput,
    ) -> Result<BulkResult, ApiError> {
        let action = PlanBulkAction(input.action);
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }

    /// Creates a new plan from a version of another, with changes. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn clone_plan(
        &self,
        ctx: &Context<'_>,
        input: ClonePlanInput,
    ) -> Result<PlanPayload, ApiError> {
        let source_id = parse_id("planId", &input.plan_id)?;
        let code = Slug::parse(input.code.trim())?;
        let changes = input.changes.unwrap_or_default().parse()?;
        let pool = &services(ctx).pool;
        let source = find_plan(pool, source_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such plan to clone"))?;
        let version = input.version.unwrap_or(source.current_version);
        // Versions never change, so the catalogue's copy of one is exactly what was recorded.
        let terms = find_version(pool, source_id, version)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "plan `{}` has no version {version} (its latest is {})",
                    source.code, source.current_version
                ))
            })?
            .terms()?;
        let command = PlanCommand::Create {
            code: code.clone(),
            terms: changes.applied_to(&terms),
            cloned_from: Some(PlanVersionRef {
                plan_id: source_id,
                version,
            }),
        };
        let id = Plan::id_for(&code);
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }
}

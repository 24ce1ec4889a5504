//! Subscriptions: the list and its filters, and starting, activating, cancelling, renewing,
//! upgrading and downgrading them, one by one or in bulk.

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::{db_enum, ids_matching, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{
    command_context, confine, parse_id, principal, run_explained, services, settle, visible, Rule,
    WriteReceipt,
};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::plan::{Plan, PlanTier};
use domain::billing::subscription::{SubscribedPlan, Subscription, SubscriptionCommand};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{PlanName, Reason, Slug};
use domain::ErrorCode;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::billing::subscription::SubscriptionStatus")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    /// An invoice of the subscription is unpaid past its due date.
    PastDue,
    Cancelled,
    Expired,
}

db_enum!(SubscriptionStatus => domain::billing::subscription::SubscriptionStatus);

/// An account's subscription: the plan version it is on, its current period, and what the
/// period's end will bring.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "PlanSubscription")]
pub struct SubscriptionNode {
    pub id: Uuid,
    pub account_id: Uuid,
    pub plan_id: Uuid,
    pub plan_code: String,
    /// The plan version it is on until its next period, whatever the plan's latest.
    pub plan_version: i32,
    pub plan_name: String,
    /// The monthly price in minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    /// Credits granted at the start of every period; unused ones expire at its end.
    pub included_credits: i64,
    #[sqlx(try_from = "String")]
    pub status: SubscriptionStatus,
    pub period_start: DateTime<Utc>,
    /// When the subscription renews (or expires, when its cancellation is scheduled).
    pub period_end: DateTime<Utc>,
    pub cancels_at_period_end: bool,
    pub cancel_reason: Option<String>,
    /// The plan a scheduled downgrade moves to at the period's end.
    pub downgrade_plan_code: Option<String>,
    pub downgrade_plan_version: Option<i32>,
    pub started_at: DateTime<Utc>,
    /// When it was cancelled or expired; null while it is live.
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(SubscriptionNode);

pub(crate) const SUBSCRIPTION_COLUMNS: &str = "id, account_id, plan_id, plan_code, plan_version, \
     plan_name, price_minor, currency, included_credits, status, period_start, period_end, \
     cancels_at_period_end, cancel_reason, downgrade_plan_code, downgrade_plan_version, \
     started_at, ended_at, updated_at";

async fn find(pool: &PgPool, column: &str, id: Uuid) -> Result<Option<SubscriptionNode>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM read.subscriptions WHERE {column} = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The subscription of `account_id` (its latest, also when cancelled or expired), if it ever
/// had one.
pub(crate) async fn of_account(
    pool: &PgPool,
    account_id: Uuid,
) -> Result<Option<SubscriptionNode>, ApiError> {
    find(pool, "account_id", account_id).await
}

#[ComplexObject]
impl SubscriptionNode {
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        let id = self.id.to_string();
        versions(ctx, Subscription::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Subscription::TYPE, &self.id.to_string(), at).await
    }
}

#[derive(InputObject, Default)]
pub struct SubscriptionFilter {
    pub status: Option<Vec<SubscriptionStatus>>,
    /// Plan codes, e.g. `growth`.
    pub plan: Option<Vec<String>>,
    /// Renewing (the current period ending) within this range.
    pub renewing: Option<DateRange>,
    pub account_id: Option<ID>,
}

/// Plan codes as a filter names them, checked.
pub(crate) fn plan_codes(plans: &[String]) -> Result<Vec<String>, ApiError> {
    plans
        .iter()
        .map(|code| Ok(Slug::parse(code.trim())?.as_str().to_owned()))
        .collect()
}

impl SubscriptionFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(statuses) = &self.status {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
            qb.push(" AND status = ANY(").push_bind(statuses).push(")");
        }
        if let Some(plans) = &self.plan {
            qb.push(" AND plan_code = ANY(")
                .push_bind(plan_codes(plans)?)
                .push(")");
        }
        if let Some(renewing) = &self.renewing {
            renewing.push(qb, "period_end")?;
        }
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        Ok(())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SubscriptionSortField {
    /// The next renewal first.
    #[default]
    PeriodEnd,
    StartedAt,
    Price,
}

#[derive(InputObject, Default)]
pub struct SubscriptionSort {
    #[graphql(default)]
    pub field: SubscriptionSortField,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

impl SubscriptionSort {
    fn order(&self) -> Order {
        let (column, cast) = match self.field {
            SubscriptionSortField::PeriodEnd => ("period_end", "timestamptz"),
            SubscriptionSortField::StartedAt => ("started_at", "timestamptz"),
            SubscriptionSortField::Price => ("price_minor", "bigint"),
        };
        Order {
            column,
            cast,
            id: "id",
            id_cast: "uuid",
            direction: self.direction,
        }
    }
}

#[derive(Default)]
pub struct SubscriptionQuery;

#[Object]
impl SubscriptionQuery {
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<SubscriptionNode>, ApiError> {
        let found = find(&services(ctx).pool, "id", parse_id("id", &id)?).await?;
        Ok(found.filter(|subscription| visible(ctx, subscription.account_id)))
    }

    /// Subscriptions, the next renewal first by default.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<SubscriptionFilter>,
        sort: Option<SubscriptionSort>,
    ) -> Result<Page<Key, SubscriptionNode>, ApiError> {
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let sort = sort.unwrap_or(SubscriptionSort {
            field: SubscriptionSortField::PeriodEnd,
            direction: SortDirection::Asc,
        });
        let list = List {
            table: "read.subscriptions",
            columns: SUBSCRIPTION_COLUMNS,
            order: sort.order(),
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "account_id");
            filter.push(query)
        })
        .await
    }
}

/// The terms of `plan_id`'s version in force, as a subscription takes them on; refused when
/// the plan takes no new subscriptions.
pub(crate) async fn subscribed_plan(
    pool: &PgPool,
    plan_id: Uuid,
) -> Result<SubscribedPlan, ApiError> {
    // The tier is the root of the clone chain: every clone descends from a built-in tier.
    let row: Option<PlanInForce> = sqlx::query_as(
        "WITH RECURSIVE chain AS ( \
             SELECT id, code, cloned_from_plan, 0 AS depth FROM read.plans WHERE id = $1 \
             UNION ALL \
             SELECT p.id, p.code, p.cloned_from_plan, c.depth + 1 \
             FROM read.plans p JOIN chain c ON p.id = c.cloned_from_plan WHERE c.depth < 100) \
         SELECT p.code, p.current_version AS version, v.name, v.price_minor, v.currency, \
                v.included_credits, p.active, \
                (SELECT code FROM chain ORDER BY depth DESC LIMIT 1) AS root \
         FROM read.plans p JOIN read.plan_versions v \
           ON v.plan_id = p.id AND v.version = p.current_version \
         WHERE p.id = $1",
    )
    .bind(plan_id)
    .fetch_optional(pool)
    .await?;
    let Some(PlanInForce {
        code,
        version,
        name,
        price_minor,
        currency,
        included_credits,
        active,
        root,
    }) = row
    else {
        return Err(ApiError::not_found("no such plan"));
    };
    if !active {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("plan `{code}` is inactive and takes no new subscriptions"),
        ));
    }
    let tier = root.parse::<PlanTier>().map_err(|_| {
        ApiError::new(
            ErrorCode::Internal,
            format!("plan `{code}` descends from `{root}`, which is not a tier"),
        )
    })?;
    Ok(SubscribedPlan {
        plan_id,
        code: Slug::parse(&code)?,
        version,
        tier,
        name: PlanName::parse(&name)?,
        monthly_price: Money::new(price_minor, Currency::parse(&currency)?),
        included_credits: Credits::new(included_credits),
    })
}

/// A plan's version in force, and the code of the tier it descends from.
#[derive(sqlx::FromRow)]
struct PlanInForce {
    code: String,
    version: i32,
    name: String,
    price_minor: i64,
    currency: String,
    included_credits: i64,
    active: bool,
    root: String,
}

#[derive(InputObject)]
pub struct StartSubscriptionInput {
    pub account_id: ID,
    pub plan_id: ID,
    /// A trial of this many days (1 to 90) before the first paid period.
    pub trial_days: Option<i32>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct SubscriptionInput {
    pub subscription_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct CancelSubscriptionInput {
    pub subscription_id: ID,
    /// Why it is cancelled (kept on the subscription).
    pub reason: String,
    /// Keep it until the current period ends (true), or end it now (false, the default).
    #[graphql(default)]
    pub at_period_end: bool,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ChangeSubscriptionPlanInput {
    pub subscription_id: ID,
    pub plan_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct SubscriptionPayload {
    pub subscription: Option<SubscriptionNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: SubscriptionCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<SubscriptionPayload, ApiError> {
    let receipt = run_explained::<Subscription>(ctx, id, command, reason, idempotency_key).await?;
    Ok(SubscriptionPayload {
        subscription: find(&services(ctx).pool, "id", id).await?,
        receipt,
    })
}

/// Moves a live subscription of `account_id` to `tier`'s plan: an upgrade when it costs more,
/// a downgrade otherwise. `None` when the account has no live subscription.
pub(crate) async fn change_plan_of_account(
    ctx: &Context<'_>,
    account_id: Uuid,
    tier: PlanTier,
    reason: Option<String>,
    idempotency_key: Option<String>,
) -> Result<Option<WriteReceipt>, ApiError> {
    let pool = &services(ctx).pool;
    let live = of_account(pool, account_id).await?.filter(|s| {
        !matches!(
            s.status,
            SubscriptionStatus::Cancelled | SubscriptionStatus::Expired
        )
    });
    let Some(subscription) = live else {
        return Ok(None);
    };
    let plan = subscribed_plan(pool, Plan::id_for(&tier.code())).await?;
    let command = if plan.monthly_price.minor_units > subscription.price_minor {
        SubscriptionCommand::Upgrade {
            plan,
            at: Utc::now(),
        }
    } else {
        SubscriptionCommand::Downgrade { plan }
    };
    let me = principal(ctx)?;
    let context = command_context(ctx, me, idempotency_key, reason);
    let appended = services(ctx)
        .bus
        .execute::<Subscription>(&subscription.id.to_string(), command, &context)
        .await?;
    Ok(Some(settle(ctx, &appended, Subscription::TYPE).await))
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionBulkAction {
    Activate,
    /// Ends them now.
    Cancel,
    /// Keeps them until their periods end.
    CancelAtPeriodEnd,
    Renew,
    /// To `planId`, now, each with its prorated charge.
    Upgrade,
}

/// A bulk action on subscriptions, with the plan an upgrade goes to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum SubscriptionBulk {
    Activate,
    Cancel { at_period_end: bool },
    Renew,
    Upgrade(SubscribedPlan),
}

impl BulkAction for SubscriptionBulk {
    type Aggregate = Subscription;
    const KIND: &'static str = "subscription";
    const PERMISSION: Permission = Permission::BillingWrite;

    fn name(&self) -> String {
        let action = match self {
            Self::Activate => SubscriptionBulkAction::Activate,
            Self::Cancel {
                at_period_end: false,
            } => SubscriptionBulkAction::Cancel,
            Self::Cancel {
                at_period_end: true,
            } => SubscriptionBulkAction::CancelAtPeriodEnd,
            Self::Renew => SubscriptionBulkAction::Renew,
            Self::Upgrade(_) => SubscriptionBulkAction::Upgrade,
        };
        format!("subscription-{action:?}")
    }

    fn command(&self, _actor: &Actor, reason: &Reason, at: DateTime<Utc>) -> SubscriptionCommand {
        match self {
            Self::Activate => SubscriptionCommand::Activate { at },
            Self::Cancel { at_period_end } => SubscriptionCommand::Cancel {
                reason: reason.clone(),
                at_period_end: *at_period_end,
                at,
            },
            Self::Renew => SubscriptionCommand::Renew { at },
            Self::Upgrade(plan) => SubscriptionCommand::Upgrade {
                plan: plan.clone(),
                at,
            },
        }
    }
}

#[derive(InputObject)]
pub struct BulkSubscriptionInput {
    pub action: SubscriptionBulkAction,
    /// The subscriptions by id: up to 500 are answered at once, more (up to 50,000) run as a
    /// job.
    pub ids: Option<Vec<ID>>,
    /// Instead of `ids`: every subscription the list's filter lets through, as a job.
    pub filter: Option<SubscriptionFilter>,
    /// The plan to upgrade to (`UPGRADE` only).
    pub plan_id: Option<ID>,
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(Default)]
pub struct SubscriptionMutation;

#[Object]
impl SubscriptionMutation {
    /// Subscribes an account to a plan's version in force, now, with an optional trial. The
    /// period's included credits are granted and a paid plan's period invoiced.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn start_subscription(
        &self,
        ctx: &Context<'_>,
        input: StartSubscriptionInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let account_id = parse_id("accountId", &input.account_id)?;
        let pool = &services(ctx).pool;
        crate::graphql::tenancy::accounts::find_account(pool, account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such account"))?;
        let plan = subscribed_plan(pool, parse_id("planId", &input.plan_id)?).await?;
        let command = SubscriptionCommand::Start {
            account_id,
            plan,
            at: Utc::now(),
            trial_days: input.trial_days.map(i64::from),
        };
        let id = Subscription::id_for(account_id);
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Ends a trial into the first paid period, reinstates a past-due subscription, withdraws
    /// a scheduled cancellation, or starts a cancelled or expired one again. Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn activate_subscription(
        &self,
        ctx: &Context<'_>,
        input: SubscriptionInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let id = parse_id("subscriptionId", &input.subscription_id)?;
        let command = SubscriptionCommand::Activate { at: Utc::now() };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Cancels now (unused included credits expire) or at the period's end.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        input: CancelSubscriptionInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let id = parse_id("subscriptionId", &input.subscription_id)?;
        let command = SubscriptionCommand::Cancel {
            reason: Reason::parse(&input.reason)?,
            at_period_end: input.at_period_end,
            at: Utc::now(),
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Extends by a period: the next one starts when the current one ends, and is granted and
    /// invoiced now. Once renewed ahead, it can be renewed again only when that period starts.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn renew_subscription(
        &self,
        ctx: &Context<'_>,
        input: SubscriptionInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let id = parse_id("subscriptionId", &input.subscription_id)?;
        run(
            ctx,
            id,
            SubscriptionCommand::Renew { at: Utc::now() },
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Moves to a dearer plan now, with a prorated charge and prorated included credits for the
    /// rest of the period (half-even rounding).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn upgrade_subscription(
        &self,
        ctx: &Context<'_>,
        input: ChangeSubscriptionPlanInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let id = parse_id("subscriptionId", &input.subscription_id)?;
        let plan =
            subscribed_plan(&services(ctx).pool, parse_id("planId", &input.plan_id)?).await?;
        let command = SubscriptionCommand::Upgrade {
            plan,
            at: Utc::now(),
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Moves to a plan that costs no more, from the next period.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn downgrade_subscription(
        &self,
        ctx: &Context<'_>,
        input: ChangeSubscriptionPlanInput,
    ) -> Result<SubscriptionPayload, ApiError> {
        let id = parse_id("subscriptionId", &input.subscription_id)?;
        let plan =
            subscribed_plan(&services(ctx).pool, parse_id("planId", &input.plan_id)?).await?;
        let command = SubscriptionCommand::Downgrade { plan };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// One action on many subscriptions, answered per subscription (see `BulkResult`).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn bulk_subscription_action(
        &self,
        ctx: &Context<'_>,
        input: BulkSubscriptionInput,
    ) -> Result<BulkResult, ApiError> {
        use SubscriptionBulkAction as A;
        let pool = &services(ctx).pool;
        let action = match (input.action, &input.plan_id) {
            (A::Upgrade, Some(plan_id)) => SubscriptionBulk::Upgrade(
                subscribed_plan(pool, parse_id("planId", plan_id)?).await?,
            ),
            (A::Upgrade, None) => return Err(ApiError::validation("an upgrade needs `planId`")),
            (_, Some(_)) => return Err(ApiError::validation("only an upgrade takes `planId`")),
            (A::Activate, None) => SubscriptionBulk::Activate,
            (A::Cancel, None) => SubscriptionBulk::Cancel {
                at_period_end: false,
            },
            (A::CancelAtPeriodEnd, None) => SubscriptionBulk::Cancel {
                at_period_end: true,
            },
            (A::Renew, None) => SubscriptionBulk::Renew,
        };
        let selection = Selection::of(input.ids, input.filter, |filter, limit| {
            ids_matching(pool, "read.subscriptions", limit, move |query| {
                filter.push(query)
            })
        })
        .await?;
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }
}

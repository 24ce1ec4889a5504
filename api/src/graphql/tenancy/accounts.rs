//! Accounts: the list and one account, and every account command.

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::billing::credit_costs::price_at;
use crate::graphql::insight::health::{AccountHealth, HealthByAccount, HealthStatus};
use crate::graphql::kit::lists::{
    db_enum, filter_text, ids_matching, like_pattern, DateRange, List, Order, SortDirection,
};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{
    command_context, confine, parse_id, principal, services, settle, visible, Rule, WriteReceipt,
};
use crate::tenancy;
use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::money::Credits;
use domain::kit::values::{AccountName, Email, ModelName, OperationType, Reason, Slug};
use domain::tenancy::account::{Account, AccountCommand};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::billing::plan::PlanTier")]
pub enum Plan {
    Free,
    Starter,
    Growth,
    Scale,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::tenancy::account::AccountState")]
pub enum AccountStatus {
    Active,
    Suspended,
    /// Soft-deleted: kept with its history, and can be restored.
    Deleted,
}

db_enum!(
    Plan => domain::billing::plan::PlanTier,
    AccountStatus => domain::tenancy::account::AccountState,
);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "Account")]
pub struct AccountNode {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub owner_email: String,
    #[sqlx(try_from = "String")]
    pub plan: Plan,
    #[sqlx(try_from = "String")]
    pub status: AccountStatus,
    /// Credits available now.
    pub balance: i64,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(AccountNode);

#[ComplexObject]
impl AccountNode {
    /// The account's subscription (its latest, also when cancelled or expired); null if it
    /// never had one.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::graphql::billing::subscriptions::SubscriptionNode>, ApiError> {
        crate::graphql::billing::subscriptions::of_account(&services(ctx).pool, self.id).await
    }

    /// The account's versions, oldest first: who changed what, when and why, field by field,
    /// read from the event log.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(
            ctx,
            Account::TYPE,
            &self.id.to_string(),
            first,
            after,
            filter,
        )
        .await
    }

    /// The account's health now: a score, a status and the reasons, from its credit runway,
    /// overdue invoices, failure rates and activity trend. Null for a deleted account.
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn health(&self, ctx: &Context<'_>) -> Result<Option<AccountHealth>, ApiError> {
        let loader = ctx.data_unchecked::<DataLoader<HealthByAccount>>();
        loader.load_one(self.id).await
    }

    /// The account as it was at a version, a recording time or a business time.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Account::TYPE, &self.id.to_string(), at).await
    }

    /// Who changed this? Every change to one field, oldest first, with who made it and why.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        field: AccountField,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        let filter = HistoryFilter {
            field: Some(field.path().to_string()),
            ..HistoryFilter::default()
        };
        let mut page = versions(
            ctx,
            Account::TYPE,
            &self.id.to_string(),
            first,
            after,
            Some(filter),
        )
        .await?;
        // Only the chosen field's changes: the rest of each version is in `history`.
        for edge in &mut page.edges {
            edge.node
                .changes
                .retain(|c| projections::audit::diff::touches(&c.path, field.path()));
        }
        Ok(page)
    }
}

/// A field of an account whose changes can be listed.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AccountField {
    Balance,
    Status,
    Plan,
    Name,
    Slug,
    Deleted,
    /// The grants of approved payments (each reversed by a refund).
    Grants,
}

impl AccountField {
    /// Its path in the account's state.
    fn path(self) -> &'static str {
        match self {
            Self::Balance => "balance",
            Self::Status => "status",
            Self::Plan => "plan",
            Self::Name => "name",
            Self::Slug => "slug",
            Self::Deleted => "deleted",
            Self::Grants => "grants",
        }
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, name, slug, owner_email, plan, status, balance, created_at, last_activity_at";

pub(crate) async fn find_account(pool: &PgPool, id: Uuid) -> Result<Option<AccountNode>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM read.accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

#[derive(InputObject, Default)]
pub struct AccountFilter {
    /// Any of these statuses (all but deleted when omitted).
    pub status: Option<Vec<AccountStatus>>,
    pub plan: Option<Vec<Plan>>,
    pub balance_min: Option<i64>,
    pub balance_max: Option<i64>,
    pub created: Option<DateRange>,
    /// Case-insensitive substring of name, slug or owner e-mail.
    pub search: Option<String>,
    /// Any of these health statuses (deleted accounts have none).
    pub health: Option<Vec<HealthStatus>>,
}

impl AccountFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        match &self.status {
            Some(statuses) => {
                let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
                qb.push(" AND status = ANY(").push_bind(statuses).push(")");
            }
            None => {
                qb.push(" AND status <> ")
                    .push_bind(AccountStatus::Deleted.as_db());
            }
        }
        if let Some(plans) = &self.plan {
            let plans: Vec<&str> = plans.iter().map(|p| p.as_db()).collect();
            qb.push(" AND plan = ANY(").push_bind(plans).push(")");
        }
        if let (Some(min), Some(max)) = (self.balance_min, self.balance_max) {
            if min > max {
                return Err(ApiError::validation(
                    "`balanceMin` must not exceed `balanceMax`",
                ));
            }
        }
        if let Some(min) = self.balance_min {
            qb.push(" AND balance >= ").push_bind(min);
        }
        if let Some(max) = self.balance_max {
            qb.push(" AND balance <= ").push_bind(max);
        }
        if let Some(created) = &self.created {
            created.push(qb, "created_at")?;
        }
        if let Some(pattern) = like_pattern("search", self.search.as_deref().unwrap_or_default())? {
            qb.push(" AND (name || ' ' || slug || ' ' || owner_email) ILIKE ")
                .push_bind(pattern);
        }
        if let Some(statuses) = &self.health {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
            qb.push(" AND id IN (SELECT account_id FROM read.account_health WHERE status = ANY(")
                .push_bind(statuses)
                .push("))");
        }
        Ok(())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum AccountSortField {
    Name,
    #[default]
    CreatedAt,
    Balance,
    LastActivity,
}

#[derive(InputObject, Default)]
pub struct AccountSort {
    #[graphql(default)]
    pub field: AccountSortField,
    #[graphql(default)]
    pub direction: SortDirection,
}

impl AccountSort {
    fn order(&self) -> Order {
        let (column, cast) = match self.field {
            AccountSortField::Name => ("lower(name)", "text"),
            AccountSortField::CreatedAt => ("created_at", "timestamptz"),
            AccountSortField::Balance => ("balance", "bigint"),
            AccountSortField::LastActivity => ("last_activity_at", "timestamptz"),
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
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// One account, by id or by slug.
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn account(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<AccountNode>, ApiError> {
        let pool = &services(ctx).pool;
        let found = match (id, slug) {
            (Some(id), None) => find_account(pool, parse_id("id", &id)?).await,
            (None, Some(slug)) => Ok(sqlx::query_as(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM read.accounts WHERE slug = $1"
            ))
            .bind(
                filter_text("slug", &slug)?
                    .unwrap_or_default()
                    .to_lowercase(),
            )
            .fetch_optional(pool)
            .await?),
            _ => Err(ApiError::validation("give exactly one of `id` and `slug`")),
        }?;
        Ok(found.filter(|account| visible(ctx, account.id)))
    }

    /// Accounts, filtered and sorted (newest first by default).
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AccountFilter>,
        sort: Option<AccountSort>,
    ) -> Result<Page<Key, AccountNode>, ApiError> {
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.accounts",
            columns: ACCOUNT_COLUMNS,
            order: sort.unwrap_or_default().order(),
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "id");
            filter.push(query)
        })
        .await
    }
}

#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account as the read model shows it after this change.
    pub account: Option<AccountNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(InputObject)]
pub struct OpenAccountInput {
    pub name: String,
    pub slug: String,
    pub owner_email: String,
    pub plan: Plan,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct RenameAccountInput {
    pub account_id: ID,
    pub name: String,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ChangeAccountPlanInput {
    pub account_id: ID,
    pub plan: Plan,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

/// For commands whose reason is required (suspend, delete).
#[derive(InputObject)]
pub struct AccountReasonInput {
    pub account_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

/// For commands whose reason is optional (activate, restore).
#[derive(InputObject)]
pub struct AccountInput {
    pub account_id: ID,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct AdjustCreditsInput {
    pub account_id: ID,
    /// Signed: positive adds credits, negative takes them away. Never zero.
    pub amount: i64,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ConsumeCreditsInput {
    pub account_id: ID,
    /// What the credits paid for, e.g. `content_generation`.
    pub operation: String,
    pub units: i64,
    pub model: Option<String>,
    /// The credits to debit. Left out, the service prices the operation: `units` times the
    /// credits per unit of the operation's credit cost in force at `occurredAt` (see
    /// `creditCosts`), and the ledger line records which version priced it.
    pub credits: Option<i64>,
    /// When the platform used the credits, if not now (reports may arrive late).
    pub occurred_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountBulkAction {
    Activate,
    Suspend,
    /// Soft delete.
    Delete,
    Restore,
}

impl BulkAction for AccountBulkAction {
    type Aggregate = Account;
    const KIND: &'static str = "account";
    const PERMISSION: Permission = Permission::AccountsWrite;

    fn name(&self) -> String {
        format!("account-{self:?}")
    }

    fn command(&self, _actor: &Actor, reason: &Reason, _at: DateTime<Utc>) -> AccountCommand {
        match self {
            Self::Activate => AccountCommand::Activate,
            Self::Suspend => AccountCommand::Suspend {
                reason: reason.clone(),
            },
            Self::Delete => AccountCommand::Delete {
                reason: reason.clone(),
            },
            Self::Restore => AccountCommand::Restore,
        }
    }
}

/// The same credits added to (or taken from) every account of a bulk request.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct AdjustCredits {
    amount: Credits,
}

impl BulkAction for AdjustCredits {
    type Aggregate = Account;
    const KIND: &'static str = "account_credits";
    const PERMISSION: Permission = Permission::CreditsAdjust;

    fn name(&self) -> String {
        "account-adjust".into()
    }

    fn command(&self, _actor: &Actor, reason: &Reason, _at: DateTime<Utc>) -> AccountCommand {
        AccountCommand::AdjustCredits {
            amount: self.amount,
            reason: reason.clone(),
        }
    }
}

#[derive(InputObject)]
pub struct BulkAccountInput {
    pub action: AccountBulkAction,
    /// The accounts by id: up to 500 are answered at once, more (up to 50,000) run as a job.
    pub ids: Option<Vec<ID>>,
    /// Instead of `ids`: every account the list's filter lets through, as a job.
    pub filter: Option<AccountFilter>,
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(InputObject)]
pub struct BulkAdjustCreditsInput {
    /// The accounts by id: up to 500 are answered at once, more (up to 50,000) run as a job.
    pub ids: Option<Vec<ID>>,
    /// Instead of `ids`: every account the list's filter lets through, as a job.
    pub filter: Option<AccountFilter>,
    /// Added to each account (negative subtracts).
    pub amount: i64,
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(Default)]
pub struct AccountMutation;

/// Runs one account command and answers with the account after it.
async fn run(
    ctx: &Context<'_>,
    account_id: &ID,
    command: AccountCommand,
    reason: Option<String>,
    idempotency_key: Option<String>,
) -> Result<AccountPayload, ApiError> {
    let me = principal(ctx)?;
    let id = parse_id("accountId", account_id)?;
    let context = command_context(ctx, me, idempotency_key, reason);
    execute(ctx, id, command, context).await
}

async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: AccountCommand,
    context: projections::CommandContext,
) -> Result<AccountPayload, ApiError> {
    let services = services(ctx);
    let appended = services
        .bus
        .execute::<Account>(&id.to_string(), command, &context)
        .await?;
    let receipt = settle(ctx, &appended, Account::TYPE).await;
    Ok(AccountPayload {
        account: find_account(&services.pool, id).await?,
        receipt,
    })
}

/// The accounts a bulk request names, or those its filter lets through.
async fn select(
    ctx: &Context<'_>,
    ids: Option<Vec<ID>>,
    filter: Option<AccountFilter>,
) -> Result<Selection, ApiError> {
    let pool = &services(ctx).pool;
    Selection::of(ids, filter, |filter, limit| {
        ids_matching(pool, "read.accounts", limit, move |query| {
            filter.push(query)
        })
    })
    .await
}

fn reason(text: &str) -> Result<Reason, ApiError> {
    Ok(Reason::parse(text)?)
}

#[Object]
impl AccountMutation {
    /// Opens an account. The slug must be free: two accounts never share one.
    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn open_account(
        &self,
        ctx: &Context<'_>,
        input: OpenAccountInput,
    ) -> Result<AccountPayload, ApiError> {
        let me = principal(ctx)?;
        let name = AccountName::parse(&input.name)?;
        let slug = Slug::parse(&input.slug)?;
        let owner = Email::parse(&input.owner_email)?;
        let context = command_context(ctx, me, input.idempotency_key, None);
        let services = services(ctx);
        let id = tenancy::new_account_id(&context);
        let appended = tenancy::open(
            &services.bus,
            &context,
            id,
            name,
            slug,
            owner,
            input.plan.into(),
        )
        .await?;
        let receipt = settle(ctx, &appended, Account::TYPE).await;
        Ok(AccountPayload {
            account: find_account(&services.pool, id).await?,
            receipt,
        })
    }

    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn rename_account(
        &self,
        ctx: &Context<'_>,
        input: RenameAccountInput,
    ) -> Result<AccountPayload, ApiError> {
        let command = AccountCommand::Rename {
            name: AccountName::parse(&input.name)?,
        };
        run(
            ctx,
            &input.account_id,
            command,
            input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Moves the account to the tier's plan. With a live subscription this is a subscription
    /// change: an upgrade (a dearer plan) now with a prorated charge, a downgrade at the
    /// period's end, and the account's plan follows the subscription's. An account without a
    /// subscription only changes its plan label (`startSubscription` puts it under billing).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn change_account_plan(
        &self,
        ctx: &Context<'_>,
        input: ChangeAccountPlanInput,
    ) -> Result<AccountPayload, ApiError> {
        use crate::graphql::billing::subscriptions::change_plan_of_account;
        let account_id = parse_id("accountId", &input.account_id)?;
        let tier = input.plan.into();
        let reason = input.reason.clone();
        let key = input.idempotency_key.clone();
        match change_plan_of_account(ctx, account_id, tier, reason, key).await? {
            Some(receipt) => Ok(AccountPayload {
                account: find_account(&services(ctx).pool, account_id).await?,
                receipt,
            }),
            None => {
                let command = AccountCommand::ChangePlan { plan: tier };
                run(
                    ctx,
                    &input.account_id,
                    command,
                    input.reason,
                    input.idempotency_key,
                )
                .await
            }
        }
    }

    /// Suspends an account; it can no longer consume credits. Not the system account.
    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn suspend_account(
        &self,
        ctx: &Context<'_>,
        input: AccountReasonInput,
    ) -> Result<AccountPayload, ApiError> {
        let reason = reason(&input.reason)?;
        let command = AccountCommand::Suspend {
            reason: reason.clone(),
        };
        run(
            ctx,
            &input.account_id,
            command,
            Some(reason.to_string()),
            input.idempotency_key,
        )
        .await
    }

    /// Activates a suspended account (activating an active one changes nothing).
    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn activate_account(
        &self,
        ctx: &Context<'_>,
        input: AccountInput,
    ) -> Result<AccountPayload, ApiError> {
        run(
            ctx,
            &input.account_id,
            AccountCommand::Activate,
            input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Soft-deletes an account: it refuses everything but `restoreAccount`. Not the system account.
    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        input: AccountReasonInput,
    ) -> Result<AccountPayload, ApiError> {
        let reason = reason(&input.reason)?;
        let command = AccountCommand::Delete {
            reason: reason.clone(),
        };
        run(
            ctx,
            &input.account_id,
            command,
            Some(reason.to_string()),
            input.idempotency_key,
        )
        .await
    }

    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn restore_account(
        &self,
        ctx: &Context<'_>,
        input: AccountInput,
    ) -> Result<AccountPayload, ApiError> {
        run(
            ctx,
            &input.account_id,
            AccountCommand::Restore,
            input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Activates, suspends, deletes or restores many accounts, answered per account.
    #[graphql(guard = "Rule::Can(Permission::AccountsWrite)")]
    async fn bulk_account_action(
        &self,
        ctx: &Context<'_>,
        input: BulkAccountInput,
    ) -> Result<BulkResult, ApiError> {
        let selection = select(ctx, input.ids, input.filter).await?;
        bulk::run(ctx, input.action, &input.bulk_key, &input.reason, selection).await
    }

    /// Adds (or subtracts) the same credits on many accounts, answered per account.
    #[graphql(guard = "Rule::Can(Permission::CreditsAdjust)")]
    async fn bulk_adjust_credits(
        &self,
        ctx: &Context<'_>,
        input: BulkAdjustCreditsInput,
    ) -> Result<BulkResult, ApiError> {
        let action = AdjustCredits {
            amount: Credits::signed(input.amount)?,
        };
        let selection = select(ctx, input.ids, input.filter).await?;
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }

    /// A manual correction of the balance, with the reason auditors will read.
    #[graphql(guard = "Rule::Can(Permission::CreditsAdjust)")]
    async fn adjust_credits(
        &self,
        ctx: &Context<'_>,
        input: AdjustCreditsInput,
    ) -> Result<AccountPayload, ApiError> {
        let reason = reason(&input.reason)?;
        let command = AccountCommand::AdjustCredits {
            amount: Credits::signed(input.amount)?,
            reason: reason.clone(),
        };
        run(
            ctx,
            &input.account_id,
            command,
            Some(reason.to_string()),
            input.idempotency_key,
        )
        .await
    }

    /// Usage reported by the platform. Service principals only.
    #[graphql(guard = "Rule::Platform")]
    async fn consume_credits(
        &self,
        ctx: &Context<'_>,
        input: ConsumeCreditsInput,
    ) -> Result<AccountPayload, ApiError> {
        let platform = principal(ctx)?;
        let id = parse_id("accountId", &input.account_id)?;
        if input.units < 1 {
            return Err(ApiError::validation("`units` must be at least 1"));
        }
        let operation = OperationType::parse(&input.operation)?;
        let (credits, cost_version) = match input.credits {
            Some(credits) => (Credits::positive(credits)?, None),
            None => {
                let now = Utc::now();
                let at = domain::kit::time::business_time(input.occurred_at.unwrap_or(now), now)?;
                let (version, per_unit) = price_at(&services(ctx).pool, &operation, at)
                    .await?
                    .ok_or_else(|| {
                        ApiError::validation(format!(
                            "`{operation}` has no credit cost in force at {at}; give `credits`"
                        ))
                    })?;
                let credits = per_unit.checked_mul(input.units).ok_or_else(|| {
                    ApiError::validation("`units` times the credit cost is out of range")
                })?;
                (Credits::positive(credits)?, Some(version))
            }
        };
        let command = AccountCommand::ConsumeCredits {
            operation,
            units: input.units,
            model: input.model.as_deref().map(ModelName::parse).transpose()?,
            credits,
            cost_version,
        };
        let mut context = command_context(ctx, platform, input.idempotency_key, None);
        context.occurred_at = input.occurred_at;
        execute(ctx, id, command, context).await
    }
}

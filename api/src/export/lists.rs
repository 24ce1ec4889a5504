//! Exports of the lists, with the same filters as their GraphQL fields:
//!
//! `GET /export/<list>?format=csv|xlsx&filter=<the list's GraphQL filter, as JSON>`
//!
//! for `accounts`, `credit-ledger`, `payments`, `invoices`, `subscriptions`, `plans`,
//! `ai-providers` (staff only), `ai-overrides`, `prompts`, `account-prompts`, `author-profiles`
//! and `content-strategies`. The filter is parsed by
//! the GraphQL input type itself, so an export holds exactly the rows the list shows (all of
//! them, in the list's stable order, not a page). Who may read the list may export it; a
//! tenant's export is confined to their account, as their list is.

use super::{refuse, stream, Format};
use crate::error::ApiError;
use crate::graphql::ai_config::providers::AiProvider;
use crate::graphql::ai_config::templates::TemplateFilter;
use crate::graphql::billing::invoices::InvoiceFilter;
use crate::graphql::billing::payments::PaymentFilter;
use crate::graphql::billing::subscriptions::SubscriptionFilter;
use crate::graphql::tenancy::accounts::AccountFilter;
use crate::graphql::tenancy::credit_ledger::LedgerFilter;
use crate::http::{reader_of, AppState};
use async_graphql::InputType;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::identity::permission::Permission;
use futures::TryStreamExt;
use serde::Deserialize;
use sqlx::{Postgres, QueryBuilder, Row};
use tokio::sync::mpsc;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    format: Format,
    /// The list's GraphQL filter as JSON, e.g. `{"status":["PENDING"]}`.
    filter: Option<String>,
}

/// A list's filter: its GraphQL input type and the SQL it adds.
pub trait ListFilter: InputType + Default + Send + 'static {
    fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError>;
}

macro_rules! list_filters {
    ($($filter:ty),* $(,)?) => {$(
        impl ListFilter for $filter {
            fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
                self.push(qb)
            }
        }
    )*};
}

list_filters!(
    AccountFilter,
    LedgerFilter,
    PaymentFilter,
    InvoiceFilter,
    SubscriptionFilter,
);

list_filters!(TemplateFilter);

/// The filter of the catalogue-like exports (plans, prompts): active or not.
#[derive(async_graphql::InputObject, Default)]
pub struct ActiveExportFilter {
    pub active: Option<bool>,
}

impl ListFilter for ActiveExportFilter {
    fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(active) = self.active {
            qb.push(" AND p.active = ").push_bind(active);
        }
        Ok(())
    }
}

/// The AI providers export's filter.
#[derive(async_graphql::InputObject, Default)]
pub struct AiProviderExportFilter {
    pub enabled: Option<bool>,
}

impl ListFilter for AiProviderExportFilter {
    fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(enabled) = self.enabled {
            qb.push(" AND enabled = ").push_bind(enabled);
        }
        Ok(())
    }
}

/// The AI overrides export's filter: one account's, or one provider's.
#[derive(async_graphql::InputObject, Default)]
pub struct AiOverrideExportFilter {
    pub account_id: Option<async_graphql::ID>,
    pub provider: Option<AiProvider>,
}

impl ListFilter for AiOverrideExportFilter {
    fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        push_account(qb, self.account_id.as_ref())?;
        if let Some(provider) = self.provider {
            let provider = domain::ai_config::provider::Provider::from(provider);
            qb.push(" AND provider = ").push_bind(provider.as_str());
        }
        Ok(())
    }
}

/// The customized prompts export's filter: one account's, or one prompt type's.
#[derive(async_graphql::InputObject, Default)]
pub struct AccountPromptExportFilter {
    pub account_id: Option<async_graphql::ID>,
    pub prompt_type: Option<String>,
}

impl ListFilter for AccountPromptExportFilter {
    fn push_to(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        push_account(qb, self.account_id.as_ref())?;
        if let Some(kind) = &self.prompt_type {
            let kind = crate::graphql::kit::lists::filter_text("filter.promptType", kind)?;
            qb.push(" AND prompt_type = ")
                .push_bind(kind.unwrap_or_default());
        }
        Ok(())
    }
}

fn push_account(
    qb: &mut QueryBuilder<'_, Postgres>,
    account: Option<&async_graphql::ID>,
) -> Result<(), ApiError> {
    if let Some(account) = account {
        let account = crate::graphql::parse_id("filter.accountId", account)?;
        qb.push(" AND account_id = ").push_bind(account);
    }
    Ok(())
}

/// What one list's export reads.
struct ListExport {
    name: &'static str,
    /// A table, or tables joined.
    from: &'static str,
    /// Each is read as text; the header names them.
    columns: &'static [&'static str],
    order: &'static str,
    permission: Permission,
    /// The column naming the account, for a tenant's confinement; `None` for lists that are
    /// not an account's (the plans).
    account_column: Option<&'static str>,
    /// Staff only (no platform user), whatever their role holds.
    staff_only: bool,
}

const ACCOUNTS: ListExport = ListExport {
    name: "accounts",
    from: "read.accounts",
    columns: &[
        "id",
        "name",
        "slug",
        "owner_email",
        "plan",
        "status",
        "balance",
        "created_at",
        "last_activity_at",
    ],
    order: "created_at, id",
    permission: Permission::AccountsRead,
    account_column: Some("id"),
    staff_only: false,
};

const CREDIT_LEDGER: ListExport = ListExport {
    name: "credit-ledger",
    from: "read.credit_ledger",
    columns: &[
        "position",
        "account_id",
        "kind",
        "amount",
        "balance_after",
        "reason",
        "actor_id",
        "actor_kind",
        "payment_id",
        "operation",
        "model",
        "units",
        "shortfall",
        "cost_version",
        "occurred_at",
        "recorded_at",
    ],
    order: "position",
    permission: Permission::BillingRead,
    account_column: Some("account_id"),
    staff_only: false,
};

const PAYMENTS: ListExport = ListExport {
    name: "payments",
    from: "read.payments",
    columns: &[
        "id",
        "account_id",
        "amount_minor",
        "currency",
        "credits",
        "method",
        "reference",
        "note",
        "status",
        "recorded_by",
        "recorded_at",
        "approved_by",
        "approved_at",
        "rejected_reason",
        "refund_reason",
        "invoice_id",
        "package_id",
        "package_version",
    ],
    order: "recorded_at, id",
    permission: Permission::BillingRead,
    account_column: Some("account_id"),
    staff_only: false,
};

const INVOICES: ListExport = ListExport {
    name: "invoices",
    from: "read.invoices",
    columns: &[
        "id",
        "account_id",
        "number",
        "status",
        "currency",
        "total_minor",
        "subject_kind",
        "subject_id",
        "issued_at",
        "due_at",
        "paid_at",
        "payment_id",
        "reminders_sent",
        "last_reminder_on",
        "late_fees",
        "dunning_stage",
        "created_at",
    ],
    order: "created_at, id",
    permission: Permission::BillingRead,
    account_column: Some("account_id"),
    staff_only: false,
};

const SUBSCRIPTIONS: ListExport = ListExport {
    name: "subscriptions",
    from: "read.subscriptions",
    columns: &[
        "id",
        "account_id",
        "plan_code",
        "plan_version",
        "plan_name",
        "price_minor",
        "currency",
        "included_credits",
        "status",
        "period_start",
        "period_end",
        "cancels_at_period_end",
        "cancel_reason",
        "downgrade_plan_code",
        "downgrade_plan_version",
        "started_at",
        "ended_at",
    ],
    order: "period_end, id",
    permission: Permission::BillingRead,
    account_column: Some("account_id"),
    staff_only: false,
};

const PLANS: ListExport = ListExport {
    name: "plans",
    from: "read.plans p JOIN read.plan_versions v \
           ON v.plan_id = p.id AND v.version = p.current_version",
    columns: &[
        "p.id",
        "p.code",
        "v.name",
        "p.active",
        "v.version",
        "v.price_minor",
        "v.currency",
        "v.included_credits",
        "v.max_sites",
        "v.max_users",
        "v.max_keywords",
        "v.monthly_words",
        "v.monthly_images",
        "v.overrides_allowed",
        "p.cloned_from_plan",
        "p.cloned_from_version",
    ],
    order: "v.price_minor, p.code",
    permission: Permission::BillingRead,
    account_column: None,
    staff_only: false,
};

const AI_PROVIDERS: ListExport = ListExport {
    name: "ai-providers",
    from: "read.ai_providers",
    columns: &[
        "provider",
        "enabled",
        "settings",
        "key_last4",
        "key_set_at",
        "key_set_by",
        "updated_at",
    ],
    // As `aiProviders` lists them.
    order: "array_position(ARRAY['openai', 'dalle', 'anthropic', 'runware'], provider)",
    permission: Permission::AccountsRead,
    account_column: None,
    staff_only: true,
};

const AI_OVERRIDES: ListExport = ListExport {
    name: "ai-overrides",
    from: "read.ai_overrides",
    columns: &[
        "account_id",
        "provider",
        "settings",
        "updated_at",
        "updated_by",
    ],
    order: "account_id, provider",
    permission: Permission::AccountsRead,
    account_column: Some("account_id"),
    staff_only: false,
};

const PROMPTS: ListExport = ListExport {
    name: "prompts",
    from: "read.prompts p JOIN read.prompt_versions v \
           ON v.prompt_id = p.id AND v.version = p.published_version",
    columns: &[
        "p.id",
        "p.prompt_type",
        "p.description",
        "p.variables",
        "p.published_version",
        "p.latest_version",
        "p.active",
        "v.text",
        "p.updated_at",
    ],
    order: "p.prompt_type",
    permission: Permission::AccountsRead,
    account_column: None,
    staff_only: false,
};

const ACCOUNT_PROMPTS: ListExport = ListExport {
    name: "account-prompts",
    from: "read.account_prompts",
    columns: &[
        "account_id",
        "prompt_type",
        "based_on_version",
        "text",
        "customized_at",
        "customized_by",
    ],
    order: "account_id, prompt_type",
    permission: Permission::AccountsRead,
    account_column: Some("account_id"),
    staff_only: false,
};

/// Both kinds of templates share a table; each export reads its kind's fields as columns.
macro_rules! template_export {
    ($name:literal, $kind:literal, $details:literal, [$($detail:literal),*]) => {
        ListExport {
            name: $name,
            from: concat!(
                "(SELECT id, account_id, name, description, category, ",
                $details,
                ", version, active, deleted, cloned_from_id, cloned_from_version, created_at, \
                 updated_at FROM read.templates WHERE kind = '",
                $kind,
                "') t"
            ),
            columns: &[
                "id", "account_id", "name", "description", "category", $($detail,)* "version",
                "active", "deleted", "cloned_from_id", "cloned_from_version", "created_at",
                "updated_at",
            ],
            order: "name, id",
            permission: Permission::AccountsRead,
            account_column: Some("account_id"),
            staff_only: false,
        }
    };
}

const AUTHOR_PROFILES: ListExport = template_export!(
    "author-profiles",
    "author_profile",
    "details ->> 'tone' AS tone, details ->> 'language' AS language, \
     details -> 'structure' AS structure",
    ["tone", "language", "structure"]
);

const CONTENT_STRATEGIES: ListExport = template_export!(
    "content-strategies",
    "strategy",
    "details -> 'prompt_types' AS prompt_types, details -> 'sections' AS sections",
    ["prompt_types", "sections"]
);

/// Parses `filter` (JSON) with the list's GraphQL input type.
fn parse_filter<F: ListFilter>(filter: Option<&str>) -> Result<F, ApiError> {
    let Some(text) = filter else {
        return Ok(F::default());
    };
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::validation(format!("`filter` is not JSON: {e}")))?;
    let value = async_graphql::Value::from_json(json)
        .map_err(|e| ApiError::validation(format!("`filter` is not a filter: {e}")))?;
    F::parse(Some(value)).map_err(|e| {
        ApiError::validation(format!(
            "`filter` is not a valid {}: {}",
            F::type_name(),
            e.into_server_error(Default::default()).message
        ))
    })
}

fn query<F: ListFilter>(
    list: &ListExport,
    filter: &F,
    confined_to: Option<Uuid>,
) -> Result<QueryBuilder<'static, Postgres>, ApiError> {
    let columns: Vec<String> = list.columns.iter().map(|c| format!("{c}::text")).collect();
    let mut qb = QueryBuilder::new(format!(
        "SELECT {} FROM {} WHERE true",
        columns.join(", "),
        list.from
    ));
    filter.push_to(&mut qb)?;
    if let (Some(account), Some(column)) = (confined_to, list.account_column) {
        qb.push(format!(" AND {column} = ")).push_bind(account);
    }
    qb.push(format!(" ORDER BY {}", list.order));
    Ok(qb)
}

async fn export<F: ListFilter>(
    state: AppState,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
    list: &'static ListExport,
) -> Response {
    let principal = match reader_of(&state, &headers).await {
        Ok(principal) => principal,
        Err((refused, _)) => return refused,
    };
    if list.staff_only && !principal.is_staff() {
        return refuse(
            StatusCode::FORBIDDEN,
            ApiError::forbidden(format!("exporting {} is for the staff only", list.name)),
        );
    }
    if !principal.can_within_account(list.permission) {
        return refuse(
            StatusCode::FORBIDDEN,
            ApiError::forbidden(format!(
                "exporting {} needs the `{}` permission",
                list.name, list.permission
            )),
        );
    }
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ApiError::validation(format!(
                    "the export's parameters are not valid: {}",
                    rejection.body_text()
                )),
            )
        }
    };
    let confined_to = principal.confined_to();
    // Checked here, so a bad filter is a 400 before any byte of the file goes out.
    let filter = match parse_filter::<F>(params.filter.as_deref())
        .and_then(|filter| query(list, &filter, confined_to).map(|_| filter))
    {
        Ok(filter) => filter,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error),
    };
    let pool = state.pool.clone();
    let rows = move |out: mpsc::Sender<Vec<String>>| async move {
        let mut qb = query(list, &filter, confined_to).map_err(|e| e.message)?;
        let mut rows = qb.build().fetch(&pool);
        while let Some(row) = rows.try_next().await.map_err(|e| e.to_string())? {
            let cells = (0..list.columns.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(Option::unwrap_or_default)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            if out.send(cells).await.is_err() {
                break;
            }
        }
        Ok(())
    };
    let header: Vec<&str> = list
        .columns
        .iter()
        .map(|c| c.rsplit('.').next().unwrap_or(c))
        .collect();
    stream(params.format, list.name, &header, rows).await
}

macro_rules! export_routes {
    ($($handler:ident => ($list:ident, $filter:ty)),* $(,)?) => {$(
        pub async fn $handler(
            State(state): State<AppState>,
            headers: HeaderMap,
            params: Result<Query<ListParams>, QueryRejection>,
        ) -> Response {
            export::<$filter>(state, headers, params, &$list).await
        }
    )*};
}

export_routes!(
    accounts => (ACCOUNTS, AccountFilter),
    credit_ledger => (CREDIT_LEDGER, LedgerFilter),
    payments => (PAYMENTS, PaymentFilter),
    invoices => (INVOICES, InvoiceFilter),
    subscriptions => (SUBSCRIPTIONS, SubscriptionFilter),
    plans => (PLANS, ActiveExportFilter),
    ai_providers => (AI_PROVIDERS, AiProviderExportFilter),
    ai_overrides => (AI_OVERRIDES, AiOverrideExportFilter),
    prompts => (PROMPTS, ActiveExportFilter),
    account_prompts => (ACCOUNT_PROMPTS, AccountPromptExportFilter),
    author_profiles => (AUTHOR_PROFILES, TemplateFilter),
    content_strategies => (CONTENT_STRATEGIES, TemplateFilter),
);

//! An account's AI settings: its overrides of the platform's models and parameters (where its
//! plan allows them) and the effective configuration, per provider and per setting with where
//! each value comes from, now or as of any past time.
//!
//! Whether overrides apply is the account's plan's to say at the moment asked about: the plan
//! the account is on then, at the version of that plan in force then. Overrides kept on a
//! plan that forbids them are shown as suspended, and apply again once the plan allows them.

use super::providers::{stored_provider, AiProvider, AiSetting, AiSettings, AiSettingsInput};
use super::{own_account, recorded_as_of};
use crate::error::ApiError;
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{run_explained, services, Rule, WriteReceipt};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::ai_config::account_ai_settings::{
    AccountAiSettings, AccountAiSettingsCommand, PlanGate,
};
use domain::ai_config::integration_settings::{IntegrationSettings, GLOBAL_ID};
use domain::ai_config::provider::{Provider, Setting, Settings};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::values::Reason;
use domain::tenancy::account::Account;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AiSettingSource {
    /// The account's own override.
    AccountOverride,
    /// The platform's default.
    GlobalDefault,
}

/// One setting's value in force, and where it comes from.
#[derive(SimpleObject, Debug, Clone)]
pub struct EffectiveAiSetting {
    pub setting: AiSetting,
    pub value: async_graphql::Json<Value>,
    pub source: AiSettingSource,
}

/// One provider as the account uses it.
#[derive(SimpleObject, Debug, Clone)]
pub struct EffectiveAiProvider {
    pub provider: AiProvider,
    pub enabled: bool,
    /// Whether the platform's key for it is set (the key is never shown).
    pub key_set: bool,
    /// The account's own overrides, kept whether or not they apply.
    pub overrides: AiSettings,
    /// True when the account has overrides its plan does not allow: they do not apply.
    pub overrides_suspended: bool,
    /// Every setting the provider takes, as in force.
    pub settings: Vec<EffectiveAiSetting>,
}

/// An account's AI configuration, now or as of a moment.
#[derive(SimpleObject, Debug, Clone)]
pub struct AccountAiSettingsNode {
    pub account_id: Uuid,
    /// The account's plan (its code) at that moment.
    pub plan: String,
    /// Whether that plan lets the account's overrides apply.
    pub overrides_allowed: bool,
    /// The moment asked about; null: now.
    pub as_of: Option<DateTime<Utc>>,
    pub providers: Vec<EffectiveAiProvider>,
}

/// A provider as the platform has it.
struct PlatformProvider {
    provider: Provider,
    enabled: bool,
    defaults: Settings,
    key_set: bool,
}

/// A provider as the read models hold it, with the account's overrides of it.
#[derive(sqlx::FromRow)]
struct ProviderRow {
    provider: String,
    enabled: bool,
    defaults: Json<Settings>,
    key_set: bool,
    overrides: Option<Json<Settings>>,
}

/// What the effective configuration is computed from.
struct Sources {
    plan: PlanGate,
    platform: Vec<PlatformProvider>,
    overrides: BTreeMap<Provider, Settings>,
}

impl Sources {
    fn effective(self, account_id: Uuid, as_of: Option<DateTime<Utc>>) -> AccountAiSettingsNode {
        let allowed = self.plan.overrides_allowed;
        let providers = self
            .platform
            .into_iter()
            .map(|platform| {
                let PlatformProvider {
                    provider,
                    enabled,
                    defaults,
                    key_set,
                } = platform;
                let own = self.overrides.get(&provider).cloned().unwrap_or_default();
                let settings = provider
                    .settings()
                    .iter()
                    .filter_map(|setting| {
                        let (value, source) = match own.get(setting) {
                            Some(value) if allowed => (value, AiSettingSource::AccountOverride),
                            _ => (defaults.get(setting)?, AiSettingSource::GlobalDefault),
                        };
                        Some(EffectiveAiSetting {
                            setting: (*setting).into(),
                            value: async_graphql::Json(value.clone()),
                            source,
                        })
                    })
                    .collect();
                EffectiveAiProvider {
                    provider: provider.into(),
                    enabled,
                    key_set,
                    overrides: AiSettings::from(&own),
                    overrides_suspended: !allowed && !own.is_empty(),
                    settings,
                }
            })
            .collect();
        AccountAiSettingsNode {
            account_id,
            plan: self.plan.plan,
            overrides_allowed: allowed,
            as_of,
            providers,
        }
    }
}

/// The account's plan now, and whether its version in force allows overrides.
pub(crate) async fn plan_gate(pool: &PgPool, account_id: Uuid) -> Result<PlanGate, ApiError> {
    let row: Option<(String, Option<bool>)> = sqlx::query_as(
        "SELECT a.plan, v.overrides_allowed FROM read.accounts a \
         LEFT JOIN read.plans p ON p.code = a.plan \
         LEFT JOIN read.plan_versions v ON v.plan_id = p.id AND v.version = p.current_version \
         WHERE a.id = $1",
    )
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    let (plan, allowed) = row.ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(PlanGate {
        plan,
        overrides_allowed: allowed.unwrap_or(false),
    })
}

async fn now(pool: &PgPool, account_id: Uuid) -> Result<Sources, ApiError> {
    let plan = plan_gate(pool, account_id).await?;
    let rows: Vec<ProviderRow> = sqlx::query_as(
        "SELECT p.provider, p.enabled, p.settings AS defaults, \
                p.key_last4 IS NOT NULL AS key_set, o.settings AS overrides \
         FROM read.ai_providers p \
         LEFT JOIN read.ai_overrides o ON o.account_id = $1 AND o.provider = p.provider",
    )
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    let mut platform = Vec::with_capacity(rows.len());
    let mut overrides = BTreeMap::new();
    for row in rows {
        let provider = stored_provider(&row.provider)?;
        platform.push(PlatformProvider {
            provider,
            enabled: row.enabled,
            defaults: row.defaults.0,
            key_set: row.key_set,
        });
        if let Some(own) = row.overrides {
            overrides.insert(provider, own.0);
        }
    }
    platform.sort_by_key(|p| p.provider);
    Ok(Sources {
        plan,
        platform,
        overrides,
    })
}

async fn recorded_at(
    pool: &PgPool,
    account_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Sources, ApiError> {
    let id = account_id.to_string();
    let account = recorded_as_of::<Account>(pool, &id, at)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the account did not exist yet at {at}")))?;
    let plan = account.plan().as_str().to_string();
    // Plan versions never change once made: the one in force then is the latest made by then.
    let allowed: Option<bool> = sqlx::query_scalar(
        "SELECT v.overrides_allowed FROM read.plans p \
         JOIN read.plan_versions v ON v.plan_id = p.id \
         WHERE p.code = $1 AND v.created_at <= $2 ORDER BY v.version DESC LIMIT 1",
    )
    .bind(&plan)
    .bind(at)
    .fetch_optional(pool)
    .await?;
    let settings = recorded_as_of::<IntegrationSettings>(pool, GLOBAL_ID, at)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("the platform had no AI settings yet at {at}"))
        })?;
    let platform = settings
        .providers()
        .iter()
        .map(|(provider, state)| PlatformProvider {
            provider: *provider,
            enabled: state.enabled,
            defaults: state.settings.clone(),
            key_set: state.key.is_some(),
        })
        .collect();
    let overrides = recorded_as_of::<AccountAiSettings>(pool, &id, at)
        .await?
        .map(|own| own.overrides().clone())
        .unwrap_or_default();
    Ok(Sources {
        plan: PlanGate {
            plan,
            overrides_allowed: allowed.unwrap_or(false),
        },
        platform,
        overrides,
    })
}

#[derive(Default)]
pub struct OverrideQuery;

#[Object]
impl OverrideQuery {
    /// An account's AI configuration: per provider, every setting in force with its source
    /// (the account's override or the platform's default), and the account's own overrides.
    /// `asOf`: as the store had recorded everything at that moment (a future time is
    /// `VALIDATION`; a time before the account existed, `NOT_FOUND`).
    #[graphql(guard = "Rule::ScopedOrPlatform(Permission::AccountsRead)")]
    async fn account_ai_settings(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<AccountAiSettingsNode, ApiError> {
        let account_id = own_account(ctx, &account_id)?;
        let pool = &services(ctx).pool;
        let sources = match as_of {
            None => now(pool, account_id).await?,
            // A future time is refused by the first fold (`state_as_of`).
            Some(at) => recorded_at(pool, account_id, at).await?,
        };
        Ok(sources.effective(account_id, as_of))
    }
}

#[derive(InputObject)]
pub struct OverrideAiSettingsInput {
    pub account_id: ID,
    pub provider: AiProvider,
    /// Settings to override (those left out keep their override, or the default).
    pub settings: Option<AiSettingsInput>,
    /// Overrides to remove: those settings follow the platform's default again.
    #[graphql(default)]
    pub clear: Vec<AiSetting>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ResetAiSettingsInput {
    pub account_id: ID,
    pub provider: AiProvider,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct AccountAiSettingsPayload {
    pub settings: AccountAiSettingsNode,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

async fn run(
    ctx: &Context<'_>,
    account_id: Uuid,
    command: AccountAiSettingsCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<AccountAiSettingsPayload, ApiError> {
    let receipt =
        run_explained::<AccountAiSettings>(ctx, account_id, command, reason, idempotency_key)
            .await?;
    let settings = now(&services(ctx).pool, account_id)
        .await?
        .effective(account_id, None);
    Ok(AccountAiSettingsPayload { settings, receipt })
}

#[derive(InputObject)]
pub struct BulkResetAiSettingsInput {
    /// The accounts whose overrides of `provider` are removed.
    pub ids: Vec<ID>,
    pub provider: AiProvider,
    pub reason: String,
    pub bulk_key: String,
}

/// Accounts' overrides of one provider, removed.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ResetAiSettingsBulk {
    pub provider: Provider,
}

impl BulkAction for ResetAiSettingsBulk {
    type Aggregate = AccountAiSettings;
    const KIND: &'static str = "account_ai_settings";
    const PERMISSION: Permission = Permission::AiSettingsWrite;

    fn name(&self) -> String {
        format!("ai-reset-{}", self.provider)
    }

    fn command(
        &self,
        _actor: &Actor,
        _reason: &Reason,
        _at: DateTime<Utc>,
    ) -> AccountAiSettingsCommand {
        AccountAiSettingsCommand::Reset {
            provider: self.provider,
        }
    }
}

#[derive(Default)]
pub struct OverrideMutation;

#[Object]
impl OverrideMutation {
    /// Overrides a provider's model and parameters for one account (never its key). Only a
    /// plan that allows overrides may set them (never Free): otherwise `PLAN_FORBIDS`.
    #[graphql(guard = "Rule::Scoped(Permission::AiSettingsWrite)")]
    async fn override_ai_settings(
        &self,
        ctx: &Context<'_>,
        input: OverrideAiSettingsInput,
    ) -> Result<AccountAiSettingsPayload, ApiError> {
        let account_id = own_account(ctx, &input.account_id)?;
        let provider = Provider::from(input.provider);
        let set = input.settings.unwrap_or_default().checked(provider)?;
        let plan = plan_gate(&services(ctx).pool, account_id).await?;
        let command = AccountAiSettingsCommand::Override {
            provider,
            set,
            clear: input.clear.into_iter().map(Setting::from).collect(),
            plan,
        };
        run(
            ctx,
            account_id,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Removes every override of a provider for one account: it follows the platform's
    /// settings again. Safe to repeat.
    #[graphql(guard = "Rule::Scoped(Permission::AiSettingsWrite)")]
    async fn reset_ai_settings(
        &self,
        ctx: &Context<'_>,
        input: ResetAiSettingsInput,
    ) -> Result<AccountAiSettingsPayload, ApiError> {
        let account_id = own_account(ctx, &input.account_id)?;
        let command = AccountAiSettingsCommand::Reset {
            provider: input.provider.into(),
        };
        run(
            ctx,
            account_id,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Removes many accounts' overrides of a provider (staff), answered per account.
    #[graphql(guard = "Rule::Can(Permission::AiSettingsWrite)")]
    async fn bulk_reset_ai_settings(
        &self,
        ctx: &Context<'_>,
        input: BulkResetAiSettingsInput,
    ) -> Result<BulkResult, ApiError> {
        let action = ResetAiSettingsBulk {
            provider: input.provider.into(),
        };
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }
}

//! The platform's AI providers: default models and parameters, whether each is enabled, and
//! its API key, which only superusers set, rotate or remove, and which no answer ever holds
//! (only that it is set, its last four characters, when and by whom).

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::page::Page;
use crate::graphql::{command_context, principal, services, settle, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::ai_config::integration_settings::{
    IntegrationSettings, IntegrationSettingsCommand, SealedApiKey, GLOBAL_ID,
};
use domain::ai_config::provider::{Provider, Setting, Settings};
use domain::identity::permission::Permission;
use domain::kit::values::Reason;
use serde_json::Value;
use sqlx::types::Json;

/// Also read from JSON lines (activity ingestion), spelled as in GraphQL.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[graphql(remote = "domain::ai_config::provider::Provider")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AiProvider {
    Openai,
    Dalle,
    Anthropic,
    Runware,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::ai_config::provider::Setting")]
pub enum AiSetting {
    Model,
    Temperature,
    MaxTokens,
    ImageSize,
    ImageQuality,
    ImageStyle,
}

/// A provider's settings; a setting the provider does not take, or that is not set, is null.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct AiSettings {
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub image_size: Option<String>,
    pub image_quality: Option<String>,
    pub image_style: Option<String>,
}

impl From<&Settings> for AiSettings {
    fn from(settings: &Settings) -> Self {
        let text = |s: Setting| settings.get(&s).and_then(Value::as_str).map(String::from);
        Self {
            model: text(Setting::Model),
            temperature: settings.get(&Setting::Temperature).and_then(Value::as_f64),
            max_tokens: settings.get(&Setting::MaxTokens).and_then(Value::as_i64),
            image_size: text(Setting::ImageSize),
            image_quality: text(Setting::ImageQuality),
            image_style: text(Setting::ImageStyle),
        }
    }
}

/// Settings to set; those left out are not changed. Each is checked against the provider.
#[derive(InputObject, Debug, Clone, Default)]
pub struct AiSettingsInput {
    pub model: Option<String>,
    /// Up to two decimals: 0 to 2 (OpenAI), 0 to 1 (Anthropic).
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    /// `WIDTHxHEIGHT`, one the provider offers.
    pub image_size: Option<String>,
    /// `standard` or `hd`.
    pub image_quality: Option<String>,
    /// `vivid` or `natural`.
    pub image_style: Option<String>,
}

impl AiSettingsInput {
    /// The settings named, checked against `provider`.
    pub fn checked(&self, provider: Provider) -> Result<Settings, ApiError> {
        let given: [(Setting, Option<Value>); 6] = [
            (Setting::Model, self.model.clone().map(Value::from)),
            (Setting::Temperature, self.temperature.map(Value::from)),
            (Setting::MaxTokens, self.max_tokens.map(Value::from)),
            (Setting::ImageSize, self.image_size.clone().map(Value::from)),
            (
                Setting::ImageQuality,
                self.image_quality.clone().map(Value::from),
            ),
            (
                Setting::ImageStyle,
                self.image_style.clone().map(Value::from),
            ),
        ];
        given
            .into_iter()
            .filter_map(|(setting, value)| value.map(|value| (setting, value)))
            .map(|(setting, value)| {
                provider
                    .check(setting, &value)
                    .map(|value| (setting, value))
                    .map_err(|e| ApiError::validation(e.0))
            })
            .collect()
    }
}

/// Whether a provider's API key is set; never the key.
#[derive(SimpleObject, Debug, Clone)]
pub struct ApiKeyStatus {
    pub set: bool,
    /// The key's last four characters.
    pub last4: Option<String>,
    /// When the key in use was set (its last rotation).
    pub set_at: Option<DateTime<Utc>>,
    /// Who set it. Staff only.
    #[graphql(guard = "Rule::Staff")]
    pub set_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    provider: String,
    enabled: bool,
    settings: Json<Settings>,
    key_last4: Option<String>,
    key_set_at: Option<DateTime<Utc>>,
    key_set_by: Option<String>,
    updated_at: DateTime<Utc>,
}

/// One provider as the platform's settings stand.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct AiProviderNode {
    pub provider: AiProvider,
    /// Disabled providers are not called.
    pub enabled: bool,
    /// The platform's defaults: what every account without an override uses.
    pub settings: AiSettings,
    pub key: ApiKeyStatus,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<ProviderRow> for AiProviderNode {
    type Error = ApiError;

    fn try_from(row: ProviderRow) -> Result<Self, ApiError> {
        let provider = stored_provider(&row.provider)?;
        Ok(Self {
            provider: provider.into(),
            enabled: row.enabled,
            settings: AiSettings::from(&row.settings.0),
            key: ApiKeyStatus {
                set: row.key_last4.is_some(),
                last4: row.key_last4,
                set_at: row.key_set_at,
                set_by: row.key_set_by,
            },
            updated_at: row.updated_at,
        })
    }
}

/// A provider as a read model holds it (a CHECK constraint keeps it one of ours).
pub(super) fn stored_provider(text: &str) -> Result<Provider, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            domain::ErrorCode::Internal,
            format!("unknown provider `{text}` in the read model"),
        )
    })
}

#[ComplexObject]
impl AiProviderNode {
    /// The history of the platform's integration settings (every provider's changes).
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
            IntegrationSettings::TYPE,
            GLOBAL_ID,
            first,
            after,
            filter,
        )
        .await
    }

    /// The integration settings as of a moment (keys redacted).
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, IntegrationSettings::TYPE, GLOBAL_ID, at).await
    }
}

/// Every provider, in a fixed order.
pub(crate) async fn providers(pool: &sqlx::PgPool) -> Result<Vec<AiProviderNode>, ApiError> {
    let rows: Vec<ProviderRow> = sqlx::query_as(
        "SELECT provider, enabled, settings, key_last4, key_set_at, key_set_by, updated_at \
         FROM read.ai_providers",
    )
    .fetch_all(pool)
    .await?;
    let mut nodes = rows
        .into_iter()
        .map(AiProviderNode::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    nodes.sort_by_key(|node| Provider::from(node.provider));
    Ok(nodes)
}

async fn provider(
    ctx: &Context<'_>,
    provider: Provider,
) -> Result<Option<AiProviderNode>, ApiError> {
    Ok(providers(&services(ctx).pool)
        .await?
        .into_iter()
        .find(|node| Provider::from(node.provider) == provider))
}

#[derive(Default)]
pub struct ProviderQuery;

#[Object]
impl ProviderQuery {
    /// The platform's AI providers: defaults every account uses unless its plan lets it
    /// override them, and whether each key is set. Staff only.
    #[graphql(guard = "Rule::Staff")]
    async fn ai_providers(&self, ctx: &Context<'_>) -> Result<Vec<AiProviderNode>, ApiError> {
        providers(&services(ctx).pool).await
    }
}

#[derive(InputObject)]
pub struct ConfigureAiProviderInput {
    pub provider: AiProvider,
    pub enabled: Option<bool>,
    pub settings: Option<AiSettingsInput>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct SetAiProviderKeyInput {
    pub provider: AiProvider,
    /// The key itself: stored encrypted, never shown again, never logged.
    #[graphql(secret)]
    pub api_key: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct AiProviderInput {
    pub provider: AiProvider,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct AiProviderPayload {
    pub provider: Option<AiProviderNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

/// Runs a command on the integration settings as the caller, then reads the provider back.
async fn run(
    ctx: &Context<'_>,
    provider: Provider,
    command: IntegrationSettingsCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<(AiProviderPayload, bool), ApiError> {
    let me = principal(ctx)?;
    let reason = Reason::parse(reason)?;
    let context = command_context(ctx, me, idempotency_key, Some(reason.to_string()));
    let appended = services(ctx)
        .bus
        .execute::<IntegrationSettings>(GLOBAL_ID, command, &context)
        .await?;
    let appended_events = appended.events > 0 && !appended.replayed;
    let receipt = settle(ctx, &appended, IntegrationSettings::TYPE).await;
    let payload = AiProviderPayload {
        provider: self::provider(ctx, provider).await?,
        receipt,
    };
    Ok((payload, appended_events))
}

/// What the ciphertext of `provider`'s key is bound to: it opens for nothing else.
pub fn key_purpose(provider: Provider) -> String {
    format!("integration_settings:{provider}:api_key")
}

/// A key as a person may give one: 8 to 500 printable ASCII characters, no spaces. The
/// message never repeats it.
fn checked_key(key: &str) -> Result<&str, ApiError> {
    let key = key.trim();
    if !(8..=500).contains(&key.len()) || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::validation(
            "`apiKey` must be 8 to 500 printable ASCII characters without spaces",
        ));
    }
    Ok(key)
}

#[derive(Default)]
pub struct ProviderMutation;

#[Object]
impl ProviderMutation {
    /// Sets a provider's default settings (those given) and whether it is enabled.
    /// Superusers only; changing nothing records nothing.
    #[graphql(guard = "Rule::Can(Permission::SettingsGlobal)")]
    async fn configure_ai_provider(
        &self,
        ctx: &Context<'_>,
        input: ConfigureAiProviderInput,
    ) -> Result<AiProviderPayload, ApiError> {
        let provider = Provider::from(input.provider);
        let settings = input.settings.unwrap_or_default().checked(provider)?;
        let command = IntegrationSettingsCommand::Configure {
            provider,
            enabled: input.enabled,
            settings,
        };
        let (payload, _) =
            run(ctx, provider, command, &input.reason, input.idempotency_key).await?;
        Ok(payload)
    }

    /// Sets or rotates a provider's API key. Superusers only. The key is encrypted under a
    /// data key of its own before it is recorded; the key it replaces can never be decrypted
    /// again.
    #[graphql(guard = "Rule::Can(Permission::SettingsGlobal)")]
    async fn set_ai_provider_key(
        &self,
        ctx: &Context<'_>,
        input: SetAiProviderKeyInput,
    ) -> Result<AiProviderPayload, ApiError> {
        let provider = Provider::from(input.provider);
        let key = checked_key(&input.api_key)?;
        Reason::parse(&input.reason)?;
        let keyring = &services(ctx).keyring;
        let sealed = keyring
            .seal(&key_purpose(provider), key)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let last4: String = key.chars().skip(key.chars().count() - 4).collect();
        let command = IntegrationSettingsCommand::SetKey {
            provider,
            key: SealedApiKey {
                data_key_id: sealed.data_key_id,
                encrypted_key: sealed.encrypted,
                last4,
            },
        };
        let outcome = run(ctx, provider, command, &input.reason, input.idempotency_key).await;
        // A refused or replayed request recorded nothing: its data key seals nothing.
        if !matches!(outcome, Ok((_, true))) {
            keyring
                .destroy(sealed.data_key_id)
                .await
                .map_err(|e| ApiError::internal(&e))?;
        }
        outcome.map(|(payload, _)| payload)
    }

    /// Removes a provider's API key and destroys it: it cannot be decrypted from the log
    /// afterwards. Superusers only; safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::SettingsGlobal)")]
    async fn remove_ai_provider_key(
        &self,
        ctx: &Context<'_>,
        input: AiProviderInput,
    ) -> Result<AiProviderPayload, ApiError> {
        let provider = Provider::from(input.provider);
        let command = IntegrationSettingsCommand::RemoveKey { provider };
        let (payload, _) =
            run(ctx, provider, command, &input.reason, input.idempotency_key).await?;
        Ok(payload)
    }
}

//! The prompt library: global prompts with their versions (saved, published, rolled back,
//! compared), each account's customized prompts, and the effective prompt an account uses for
//! a type, now or as of any past time, with where it comes from.

use super::{existing_account, own_account, recorded_as_of};
use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::billing::plans::{catalog_bulk_action, BulkCatalogInput};
use crate::graphql::kit::page::Page;
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{run_explained, services, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::ai_config::account_prompts::{AccountPrompts, AccountPromptsCommand};
use domain::ai_config::prompt::{GlobalPrompt, PromptCommand, PromptType};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::values::Reason;
use projections::audit::history;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// A global prompt: one per type.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex)]
pub struct PromptNode {
    pub id: Uuid,
    pub prompt_type: String,
    pub description: String,
    /// The variables every text of this type keeps (`keyword` for `{keyword}`).
    #[graphql(skip)]
    pub variables: Json<Vec<String>>,
    /// The version accounts that have not customized the type use.
    pub published_version: i32,
    pub latest_version: i32,
    /// Inactive prompts are not used by the platform.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct PromptVersionNode {
    pub version: i32,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Who saved it. Staff only.
    #[graphql(guard = "Rule::Staff")]
    pub created_by: String,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// In both versions.
    Same,
    /// Only in the later one (`to`).
    Added,
    /// Only in the earlier one (`from`).
    Removed,
}

/// One line of a comparison of two versions.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

const PROMPTS: &str = "SELECT id, prompt_type, description, variables, published_version, \
     latest_version, active, created_at, updated_at FROM read.prompts";

async fn version_text(pool: &PgPool, prompt: Uuid, version: i32) -> Result<String, ApiError> {
    sqlx::query_scalar(
        "SELECT text FROM read.prompt_versions WHERE prompt_id = $1 AND version = $2",
    )
    .bind(prompt)
    .bind(version)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("this prompt has no version {version}")))
}

#[ComplexObject]
impl PromptNode {
    async fn variables(&self) -> &[String] {
        &self.variables.0
    }

    /// The published version's text.
    async fn published(&self, ctx: &Context<'_>) -> Result<String, ApiError> {
        version_text(&services(ctx).pool, self.id, self.published_version).await
    }

    /// Every version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<PromptVersionNode>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT version, text, created_at, created_by FROM read.prompt_versions \
             WHERE prompt_id = $1 ORDER BY version DESC",
        )
        .bind(self.id)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    /// Two versions compared line by line: what `to` keeps, adds and removes of `from`.
    async fn diff(&self, ctx: &Context<'_>, from: i32, to: i32) -> Result<Vec<DiffLine>, ApiError> {
        let pool = &services(ctx).pool;
        let before = version_text(pool, self.id, from).await?;
        let after = version_text(pool, self.id, to).await?;
        Ok(line_diff(&before, &after))
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        let id = self.id.to_string();
        versions(ctx, GlobalPrompt::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, GlobalPrompt::TYPE, &self.id.to_string(), at).await
    }
}

/// The lines of `after` against those of `before`, by their longest common subsequence.
fn line_diff(before: &str, after: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    // lengths[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lengths = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lengths[i][j] = if a[i] == b[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_string(),
    };
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(line(DiffKind::Same, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lengths[i + 1][j] >= lengths[i][j + 1]) {
            // Removals before additions, as diffs read.
            lines.push(line(DiffKind::Removed, a[i]));
            i += 1;
        } else {
            lines.push(line(DiffKind::Added, b[j]));
            j += 1;
        }
    }
    lines
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PromptSource {
    /// The account's own text.
    AccountCustomization,
    /// The published global version.
    GlobalDefault,
}

/// The prompt an account uses for a type.
#[derive(SimpleObject, Debug, Clone)]
pub struct EffectivePrompt {
    pub prompt_type: String,
    pub text: String,
    pub source: PromptSource,
    /// The global version: the published one, or the one a customization started from.
    pub version: i32,
    /// The global version published at that moment.
    pub published_version: i32,
    /// True when the account customized it and the published global version has moved on
    /// since (the customization may lack what the new default brings).
    pub behind_default: bool,
    /// Whether the global prompt is active (the platform uses only active prompts).
    pub active: bool,
}

/// One global prompt and what an account made of it, as read or folded.
struct PromptSources {
    prompt_type: String,
    published_version: i32,
    published_text: String,
    active: bool,
    customized: Option<(String, i32)>,
}

impl From<PromptSources> for EffectivePrompt {
    fn from(p: PromptSources) -> Self {
        match p.customized {
            Some((text, based_on)) => Self {
                prompt_type: p.prompt_type,
                text,
                source: PromptSource::AccountCustomization,
                version: based_on,
                published_version: p.published_version,
                behind_default: based_on != p.published_version,
                active: p.active,
            },
            None => Self {
                prompt_type: p.prompt_type,
                text: p.published_text,
                source: PromptSource::GlobalDefault,
                version: p.published_version,
                published_version: p.published_version,
                behind_default: false,
                active: p.active,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
struct EffectiveRow {
    prompt_type: String,
    published_version: i32,
    published_text: String,
    active: bool,
    custom_text: Option<String>,
    based_on_version: Option<i32>,
}

/// The account's effective prompts now (of one type, or all), from the read models.
async fn effective_now(
    pool: &PgPool,
    account_id: Uuid,
    prompt_type: Option<&str>,
) -> Result<Vec<EffectivePrompt>, ApiError> {
    let rows: Vec<EffectiveRow> = sqlx::query_as(
        "SELECT p.prompt_type, p.published_version, v.text AS published_text, p.active, \
                c.text AS custom_text, c.based_on_version \
         FROM read.prompts p \
         JOIN read.prompt_versions v ON v.prompt_id = p.id AND v.version = p.published_version \
         LEFT JOIN read.account_prompts c \
           ON c.account_id = $1 AND c.prompt_type = p.prompt_type \
         WHERE ($2::text IS NULL OR p.prompt_type = $2) ORDER BY p.prompt_type",
    )
    .bind(account_id)
    .bind(prompt_type)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            PromptSources {
                prompt_type: row.prompt_type,
                published_version: row.published_version,
                published_text: row.published_text,
                active: row.active,
                customized: row.custom_text.zip(row.based_on_version),
            }
            .into()
        })
        .collect())
}

/// The account's effective prompts (of one type, or all) as the store had recorded them at
/// `at`, folded from the log.
async fn effective_as_of(
    pool: &PgPool,
    account_id: Uuid,
    prompt_type: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<EffectivePrompt>, ApiError> {
    let id = account_id.to_string();
    // The account must have existed: the same answer as every other time travel (a future
    // time included, refused as `VALIDATION`).
    let account = domain::tenancy::account::Account::TYPE;
    if !history::recorded_by(pool, account, &id, at).await? {
        return Err(ApiError::not_found(format!(
            "the account did not exist yet at {at}"
        )));
    }
    let types: Vec<String> = match prompt_type {
        Some(kind) => vec![kind.to_string()],
        None => {
            sqlx::query_scalar("SELECT prompt_type FROM read.prompts ORDER BY prompt_type")
                .fetch_all(pool)
                .await?
        }
    };
    let own = recorded_as_of::<AccountPrompts>(pool, &id, at).await?;
    let mut prompts = Vec::with_capacity(types.len());
    for kind in types {
        let kind = PromptType::parse(&kind).map_err(|e| ApiError::validation(e.0))?;
        let global_id = GlobalPrompt::id_for(&kind).to_string();
        let Some(global) = recorded_as_of::<GlobalPrompt>(pool, &global_id, at).await? else {
            continue;
        };
        let Some((version, text)) = global.published() else {
            continue;
        };
        prompts.push(
            PromptSources {
                prompt_type: kind.to_string(),
                published_version: version,
                published_text: text.to_string(),
                active: global.is_active(),
                customized: own
                    .as_ref()
                    .and_then(|own| own.customization(&kind))
                    .map(|c| (c.text.clone(), c.based_on_version)),
            }
            .into(),
        );
    }
    Ok(prompts)
}

async fn effective(
    ctx: &Context<'_>,
    account_id: &ID,
    prompt_type: Option<&str>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<EffectivePrompt>, ApiError> {
    let account_id = own_account(ctx, account_id)?;
    let pool = &services(ctx).pool;
    existing_account(pool, account_id).await?;
    match as_of {
        None => effective_now(pool, account_id, prompt_type).await,
        Some(at) => effective_as_of(pool, account_id, prompt_type, at).await,
    }
}

#[derive(Default)]
pub struct PromptQuery;

#[Object]
impl PromptQuery {
    /// The prompt library, by type. Tenants see it too: it is what they customize.
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn prompts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only active prompts (true) or only inactive ones (false).")]
        active: Option<bool>,
    ) -> Result<Vec<PromptNode>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "{PROMPTS} WHERE ($1::boolean IS NULL OR active = $1) ORDER BY prompt_type"
        ))
        .bind(active)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn prompt(
        &self,
        ctx: &Context<'_>,
        prompt_type: String,
    ) -> Result<Option<PromptNode>, ApiError> {
        let kind = self::prompt_type(&prompt_type)?;
        Ok(sqlx::query_as(&format!("{PROMPTS} WHERE prompt_type = $1"))
            .bind(kind.as_str())
            .fetch_optional(&services(ctx).pool)
            .await?)
    }

    /// The prompt an account uses for each type: its customization or the published global
    /// version, flagged when the default has moved on since it was customized. `asOf`: as the
    /// store had recorded everything at that moment.
    #[graphql(guard = "Rule::ScopedOrPlatform(Permission::AccountsRead)")]
    async fn account_prompts(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<EffectivePrompt>, ApiError> {
        effective(ctx, &account_id, None, as_of).await
    }

    /// The prompt an account uses for one type (see `accountPrompts`).
    #[graphql(guard = "Rule::ScopedOrPlatform(Permission::AccountsRead)")]
    async fn effective_prompt(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        prompt_type: String,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<EffectivePrompt, ApiError> {
        let kind = PromptType::parse(&prompt_type).map_err(|e| ApiError::validation(e.0))?;
        effective(ctx, &account_id, Some(kind.as_str()), as_of)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found(format!("no prompt of type `{kind}`")))
    }
}

#[derive(InputObject)]
pub struct CreatePromptInput {
    pub prompt_type: String,
    pub description: String,
    /// The variables every text of the type must keep (`keyword` for `{keyword}`).
    pub variables: Vec<String>,
    pub text: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct SavePromptVersionInput {
    pub prompt_type: String,
    pub text: String,
    /// Publish the new version at once.
    #[graphql(default)]
    pub publish: bool,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct PublishPromptVersionInput {
    pub prompt_type: String,
    pub version: i32,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct CustomizePromptInput {
    pub account_id: ID,
    pub prompt_type: String,
    pub text: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ResetPromptInput {
    pub account_id: ID,
    pub prompt_type: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct BulkResetPromptsInput {
    /// The accounts whose prompt of `promptType` follows the published version again.
    pub ids: Vec<ID>,
    pub prompt_type: String,
    pub reason: String,
    pub bulk_key: String,
}

#[derive(SimpleObject)]
pub struct PromptPayload {
    pub prompt: Option<PromptNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(SimpleObject)]
pub struct EffectivePromptPayload {
    pub prompt: EffectivePrompt,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

fn prompt_type(value: &str) -> Result<PromptType, ApiError> {
    PromptType::parse(value).map_err(|e| ApiError::validation(e.0))
}

async fn run_global(
    ctx: &Context<'_>,
    kind: &PromptType,
    command: PromptCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<PromptPayload, ApiError> {
    let id = GlobalPrompt::id_for(kind);
    let receipt = run_explained::<GlobalPrompt>(ctx, id, command, reason, idempotency_key).await?;
    let prompt = sqlx::query_as(&format!("{PROMPTS} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&services(ctx).pool)
        .await?;
    Ok(PromptPayload { prompt, receipt })
}

async fn run_account(
    ctx: &Context<'_>,
    account_id: Uuid,
    kind: &PromptType,
    command: AccountPromptsCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<EffectivePromptPayload, ApiError> {
    let receipt =
        run_explained::<AccountPrompts>(ctx, account_id, command, reason, idempotency_key).await?;
    let prompt = effective_now(&services(ctx).pool, account_id, Some(kind.as_str()))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("no prompt of type `{kind}`")))?;
    Ok(EffectivePromptPayload { prompt, receipt })
}

/// An account's prompts: reset one type to the published version.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ResetPromptsBulk {
    pub prompt_type: PromptType,
}

impl BulkAction for ResetPromptsBulk {
    type Aggregate = AccountPrompts;
    const KIND: &'static str = "account_prompts";
    const PERMISSION: Permission = Permission::PromptsWrite;

    fn name(&self) -> String {
        format!("prompt-reset-{}", self.prompt_type)
    }

    fn command(
        &self,
        _actor: &Actor,
        _reason: &Reason,
        _at: DateTime<Utc>,
    ) -> AccountPromptsCommand {
        AccountPromptsCommand::ResetToDefault {
            prompt_type: self.prompt_type.clone(),
        }
    }
}

catalog_bulk_action!(
    /// Activates or deactivates global prompts.
    PromptBulkAction {
        aggregate: GlobalPrompt,
        kind: "global_prompt",
        permission: PromptsWrite,
        name: "prompt",
        command: PromptCommand,
    }
);

#[derive(Default)]
pub struct PromptMutation;

#[Object]
impl PromptMutation {
    /// A new prompt type in the library, its first version published.
    #[graphql(guard = "Rule::Can(Permission::PromptsWrite)")]
    async fn create_prompt(
        &self,
        ctx: &Context<'_>,
        input: CreatePromptInput,
    ) -> Result<PromptPayload, ApiError> {
        let kind = prompt_type(&input.prompt_type)?;
        let command = PromptCommand::Create {
            prompt_type: kind.clone(),
            description: input.description,
            variables: input.variables,
            text: input.text,
        };
        run_global(ctx, &kind, command, &input.reason, input.idempotency_key).await
    }

    /// Saves a new version of a global prompt (immutable), published at once if asked.
    #[graphql(guard = "Rule::Can(Permission::PromptsWrite)")]
    async fn save_prompt_version(
        &self,
        ctx: &Context<'_>,
        input: SavePromptVersionInput,
    ) -> Result<PromptPayload, ApiError> {
        let kind = prompt_type(&input.prompt_type)?;
        let command = PromptCommand::SaveVersion {
            text: input.text,
            publish: input.publish,
        };
        run_global(ctx, &kind, command, &input.reason, input.idempotency_key).await
    }

    /// Publishes a version of a global prompt; an earlier one rolls back.
    #[graphql(guard = "Rule::Can(Permission::PromptsWrite)")]
    async fn publish_prompt_version(
        &self,
        ctx: &Context<'_>,
        input: PublishPromptVersionInput,
    ) -> Result<PromptPayload, ApiError> {
        let kind = prompt_type(&input.prompt_type)?;
        let command = PromptCommand::Publish {
            version: input.version,
        };
        run_global(ctx, &kind, command, &input.reason, input.idempotency_key).await
    }

    /// Activates or deactivates global prompts (by id), answered per prompt.
    #[graphql(guard = "Rule::Can(Permission::PromptsWrite)")]
    async fn bulk_prompt_action(
        &self,
        ctx: &Context<'_>,
        input: BulkCatalogInput,
    ) -> Result<BulkResult, ApiError> {
        let action = PromptBulkAction(input.action);
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }

    /// Customizes an account's prompt of a type, starting from the published global version
    /// (which it remembers). The text must keep the type's variables.
    #[graphql(guard = "Rule::Scoped(Permission::PromptsWrite)")]
    async fn customize_prompt(
        &self,
        ctx: &Context<'_>,
        input: CustomizePromptInput,
    ) -> Result<EffectivePromptPayload, ApiError> {
        let account_id = own_account(ctx, &input.account_id)?;
        let kind = prompt_type(&input.prompt_type)?;
        let global = services(ctx)
            .bus
            .read::<GlobalPrompt>(&GlobalPrompt::id_for(&kind).to_string())
            .await?;
        let (Some((version, _)), Some(variables)) = (global.published(), global.variables()) else {
            return Err(ApiError::not_found(format!("no prompt of type `{kind}`")));
        };
        existing_account(&services(ctx).pool, account_id).await?;
        let command = AccountPromptsCommand::Customize {
            prompt_type: kind.clone(),
            text: input.text,
            based_on_version: version,
            variables: variables.clone(),
        };
        run_account(
            ctx,
            account_id,
            &kind,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Resets an account's prompt of a type to the default: it follows the published global
    /// version from now on, later ones included. Safe to repeat.
    #[graphql(guard = "Rule::Scoped(Permission::PromptsWrite)")]
    async fn reset_prompt_to_default(
        &self,
        ctx: &Context<'_>,
        input: ResetPromptInput,
    ) -> Result<EffectivePromptPayload, ApiError> {
        let account_id = own_account(ctx, &input.account_id)?;
        let kind = prompt_type(&input.prompt_type)?;
        existing_account(&services(ctx).pool, account_id).await?;
        let command = AccountPromptsCommand::ResetToDefault {
            prompt_type: kind.clone(),
        };
        run_account(
            ctx,
            account_id,
            &kind,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Resets one prompt type to the default for many accounts, answered per account.
    #[graphql(guard = "Rule::Can(Permission::PromptsWrite)")]
    async fn bulk_reset_prompts_to_default(
        &self,
        ctx: &Context<'_>,
        input: BulkResetPromptsInput,
    ) -> Result<BulkResult, ApiError> {
        let action = ResetPromptsBulk {
            prompt_type: prompt_type(&input.prompt_type)?,
        };
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(lines: &[DiffLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let mark = match l.kind {
                    DiffKind::Same => ' ',
                    DiffKind::Added => '+',
                    DiffKind::Removed => '-',
                };
                format!("{mark}{}", l.text)
            })
            .collect()
    }

    #[test]
    fn a_diff_keeps_common_lines_and_marks_the_rest() {
        let diff = line_diff("a\nb\nc\nd", "a\nc\nd\ne");
        assert_eq!(render(&diff), [" a", "-b", " c", " d", "+e"]);
        assert!(line_diff("same", "same")
            .iter()
            .all(|l| l.kind == DiffKind::Same));
        assert_eq!(render(&line_diff("", "x")), ["+x"]);
        assert_eq!(render(&line_diff("x", "")), ["-x"]);
    }
}

//! Author profiles and content strategies: the platform's library (staff with `content.write`)
//! and accounts' own (their owners, admins and editors too), cloned from the library or
//! written from scratch; revised, activated, deactivated, deleted softly and restored.

use super::{existing_account, own_account};
use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::{db_enum, like_pattern, listed, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{confined_to, parse_id, run_explained, services, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::ai_config::prompt::PromptType;
use domain::ai_config::template::{
    Template, TemplateCategory as Category, TemplateCommand, TemplateDetails, TemplateKind,
    TemplateRef, TemplateTerms,
};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::values::Reason;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::ai_config::template::TemplateCategory")]
pub enum TemplateCategory {
    Saas,
    Ecommerce,
    Blog,
    Technical,
    Creative,
    General,
}

db_enum!(TemplateCategory => Category);

/// What a clone copied: the library template and its version then.
#[derive(SimpleObject, Debug, Clone)]
pub struct TemplateOrigin {
    pub template_id: Uuid,
    pub version: i32,
}

const COLUMNS: &str = "id, account_id, name, description, category, details, version, active, \
     deleted, cloned_from_id, cloned_from_version, created_at, updated_at";

macro_rules! template_node {
    ($(#[$doc:meta])* $node:ident) => {
        $(#[$doc])*
        #[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
        #[graphql(complex)]
        pub struct $node {
            pub id: Uuid,
            /// The account it belongs to; null: the platform's library.
            pub account_id: Option<Uuid>,
            pub name: String,
            pub description: String,
            #[sqlx(try_from = "String")]
            pub category: TemplateCategory,
            #[graphql(skip)]
            pub details: Json<Value>,
            pub version: i32,
            pub active: bool,
            pub deleted: bool,
            #[graphql(skip)]
            pub cloned_from_id: Option<Uuid>,
            #[graphql(skip)]
            pub cloned_from_version: Option<i32>,
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
            #[graphql(skip)]
            #[sqlx(default)]
            pub sort_value: Option<String>,
            #[graphql(skip)]
            #[sqlx(default)]
            pub sort_id: Option<String>,
        }

        impl $node {
            fn origin(&self) -> Option<TemplateOrigin> {
                Some(TemplateOrigin {
                    template_id: self.cloned_from_id?,
                    version: self.cloned_from_version?,
                })
            }

            fn detail(&self, field: &str) -> Value {
                self.details.0.get(field).cloned().unwrap_or(Value::Null)
            }

            #[allow(dead_code)] // Strategies have no text details.
            fn text(&self, field: &str) -> String {
                self.detail(field).as_str().unwrap_or_default().to_string()
            }
        }

        listed!($node);
    };
}

template_node!(
    /// An author profile: a persona the platform writes as.
    AuthorProfileNode
);
template_node!(
    /// A content strategy: which prompts run, and how sections are built.
    ContentStrategyNode
);

#[ComplexObject]
impl AuthorProfileNode {
    async fn tone(&self) -> String {
        self.text("tone")
    }

    /// A language tag, e.g. `en`.
    async fn language(&self) -> String {
        self.text("language")
    }

    /// How an article by this persona is laid out.
    async fn structure(&self) -> async_graphql::Json<Value> {
        async_graphql::Json(self.detail("structure"))
    }

    /// The template it was cloned from, at the version copied.
    async fn cloned_from(&self) -> Option<TemplateOrigin> {
        self.origin()
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
        versions(ctx, Template::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Template::TYPE, &self.id.to_string(), at).await
    }
}

#[ComplexObject]
impl ContentStrategyNode {
    /// The prompt types it runs, in order.
    async fn prompt_types(&self) -> Vec<String> {
        self.detail("prompt_types")
            .as_array()
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How each section is built.
    async fn sections(&self) -> async_graphql::Json<Value> {
        async_graphql::Json(self.detail("sections"))
    }

    /// The template it was cloned from, at the version copied.
    async fn cloned_from(&self) -> Option<TemplateOrigin> {
        self.origin()
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
        versions(ctx, Template::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Template::TYPE, &self.id.to_string(), at).await
    }
}

#[derive(InputObject, Default)]
pub struct TemplateFilter {
    /// One account's templates.
    pub account_id: Option<ID>,
    /// Only the platform's library (true) or only accounts' templates (false).
    pub library: Option<bool>,
    pub active: Option<bool>,
    /// Deleted templates are left out unless asked for.
    #[graphql(default)]
    pub deleted: bool,
    pub category: Option<TemplateCategory>,
    /// Part of the name, any case.
    pub search: Option<String>,
}

/// A platform user sees the library and their own account's templates.
fn confine_to_library_and_own(ctx: &Context<'_>, query: &mut QueryBuilder<'_, Postgres>) {
    if let Some(own) = confined_to(ctx) {
        query
            .push(" AND (account_id IS NULL OR account_id = ")
            .push_bind(own)
            .push(")");
    }
}

impl TemplateFilter {
    /// The filter's conditions (the list adds the kind and the caller's confinement).
    pub(crate) fn push(&self, query: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(account) = &self.account_id {
            query
                .push(" AND account_id = ")
                .push_bind(parse_id("filter.accountId", account)?);
        }
        match self.library {
            Some(true) => query.push(" AND account_id IS NULL"),
            Some(false) => query.push(" AND account_id IS NOT NULL"),
            None => query,
        };
        if let Some(active) = self.active {
            query.push(" AND active = ").push_bind(active);
        }
        query.push(" AND deleted = ").push_bind(self.deleted);
        if let Some(category) = self.category {
            query.push(" AND category = ").push_bind(category.as_db());
        }
        if let Some(pattern) = self
            .search
            .as_deref()
            .map(|s| like_pattern("filter.search", s))
            .transpose()?
            .flatten()
        {
            query.push(" AND name ILIKE ").push_bind(pattern);
        }
        Ok(())
    }
}

fn by_name() -> Order {
    Order {
        column: "name",
        cast: "text",
        id: "id",
        id_cast: "uuid",
        direction: SortDirection::Asc,
    }
}

async fn list<T>(
    ctx: &Context<'_>,
    kind: TemplateKind,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<TemplateFilter>,
) -> Result<Page<Key, T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + async_graphql::OutputType
        + crate::graphql::kit::lists::Listed
        + Send
        + Unpin,
{
    let page = PageRequest::<Key>::parse(first, after)?;
    let filter = filter.unwrap_or_default();
    let list = List {
        table: "read.templates",
        columns: COLUMNS,
        order: by_name(),
    };
    list.page(ctx, page, |query| {
        query.push(" AND kind = ").push_bind(kind.as_str());
        confine_to_library_and_own(ctx, query);
        filter.push(query)
    })
    .await
}

async fn find<T>(ctx: &Context<'_>, id: Uuid, kind: TemplateKind) -> Result<Option<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM read.templates WHERE id = "));
    query
        .push_bind(id)
        .push(" AND kind = ")
        .push_bind(kind.as_str());
    confine_to_library_and_own(ctx, &mut query);
    Ok(query
        .build_query_as()
        .fetch_optional(&services(ctx).pool)
        .await?)
}

#[derive(Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// Author profiles by name: the library and accounts' own (a platform user sees the
    /// library and their account's).
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn author_profiles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TemplateFilter>,
    ) -> Result<Page<Key, AuthorProfileNode>, ApiError> {
        list(ctx, TemplateKind::AuthorProfile, first, after, filter).await
    }

    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn author_profile(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<AuthorProfileNode>, ApiError> {
        find(ctx, parse_id("id", &id)?, TemplateKind::AuthorProfile).await
    }

    /// Content strategies by name (see `authorProfiles`).
    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn content_strategies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TemplateFilter>,
    ) -> Result<Page<Key, ContentStrategyNode>, ApiError> {
        list(ctx, TemplateKind::Strategy, first, after, filter).await
    }

    #[graphql(guard = "Rule::Scoped(Permission::AccountsRead)")]
    async fn content_strategy(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<ContentStrategyNode>, ApiError> {
        find(ctx, parse_id("id", &id)?, TemplateKind::Strategy).await
    }
}

#[derive(InputObject)]
pub struct AuthorProfileInput {
    /// The account it is for; null: the platform's library (staff only).
    pub account_id: Option<ID>,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub category: TemplateCategory,
    pub tone: String,
    #[graphql(default_with = "String::from(\"en\")")]
    pub language: String,
    /// A JSON object; `{}` when left out.
    pub structure: Option<async_graphql::Json<Value>>,
    pub reason: String,
    /// Also names the template: the same key creates it once.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ContentStrategyInput {
    /// The account it is for; null: the platform's library (staff only).
    pub account_id: Option<ID>,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub category: TemplateCategory,
    pub prompt_types: Vec<String>,
    /// A JSON object; `{}` when left out.
    pub sections: Option<async_graphql::Json<Value>>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ReviseAuthorProfileInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<TemplateCategory>,
    pub tone: Option<String>,
    pub language: Option<String>,
    pub structure: Option<async_graphql::Json<Value>>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ReviseContentStrategyInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<TemplateCategory>,
    pub prompt_types: Option<Vec<String>>,
    pub sections: Option<async_graphql::Json<Value>>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct CloneTemplateInput {
    /// The library template to copy (an author profile or a content strategy).
    pub template_id: ID,
    pub account_id: ID,
    /// The copy's name; the original's when left out.
    pub name: Option<String>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TemplateAction {
    Activate,
    Deactivate,
    /// Soft: an account's templates only; restore brings it back.
    Delete,
    Restore,
}

impl TemplateAction {
    fn command(self) -> TemplateCommand {
        match self {
            Self::Activate => TemplateCommand::Activate,
            Self::Deactivate => TemplateCommand::Deactivate,
            Self::Delete => TemplateCommand::Delete,
            Self::Restore => TemplateCommand::Restore,
        }
    }
}

#[derive(InputObject)]
pub struct TemplateActionInput {
    pub id: ID,
    pub action: TemplateAction,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct BulkTemplateInput {
    pub action: TemplateAction,
    pub ids: Vec<ID>,
    pub reason: String,
    pub bulk_key: String,
}

/// The template a mutation touched, as the list shows it (one of the two, by its kind).
#[derive(SimpleObject)]
pub struct TemplatePayload {
    pub author_profile: Option<AuthorProfileNode>,
    pub content_strategy: Option<ContentStrategyNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

/// An action on templates, many at once.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct TemplateBulkAction(pub TemplateAction);

impl BulkAction for TemplateBulkAction {
    type Aggregate = Template;
    const KIND: &'static str = "template";
    const PERMISSION: Permission = Permission::ContentWrite;

    fn name(&self) -> String {
        format!("template-{:?}", self.0)
    }

    fn command(&self, _actor: &Actor, _reason: &Reason, _at: DateTime<Utc>) -> TemplateCommand {
        self.0.command()
    }
}

/// The account a new template is for, when the caller may write there (none: the library,
/// which only staff change).
async fn owner(ctx: &Context<'_>, account_id: Option<&ID>) -> Result<Option<Uuid>, ApiError> {
    match account_id {
        None if confined_to(ctx).is_some() => Err(library_is_staffs()),
        None => Ok(None),
        Some(id) => {
            let account = own_account(ctx, id)?;
            existing_account(&services(ctx).pool, account).await?;
            Ok(Some(account))
        }
    }
}

fn library_is_staffs() -> ApiError {
    ApiError::forbidden("the platform's library is changed by its staff only")
}

/// The template, as its events leave it, when the caller may change it.
async fn writable(ctx: &Context<'_>, id: Uuid) -> Result<TemplateTerms, ApiError> {
    let template = services(ctx).bus.read::<Template>(&id.to_string()).await?;
    let Some((terms, _, account)) = template.terms() else {
        return Err(ApiError::not_found("no such template"));
    };
    match (account, confined_to(ctx)) {
        (None, Some(_)) => Err(library_is_staffs()),
        (Some(account), Some(own)) if account != own => {
            Err(ApiError::not_found("no such template"))
        }
        _ => Ok(terms.clone()),
    }
}

fn prompt_types(types: &[String]) -> Result<Vec<PromptType>, ApiError> {
    types
        .iter()
        .map(|t| PromptType::parse(t).map_err(|e| ApiError::validation(e.0)))
        .collect()
}

fn json_or_empty(value: Option<async_graphql::Json<Value>>) -> Value {
    value.map_or_else(|| Value::Object(Default::default()), |v| v.0)
}

/// Runs a command on a template of `kind`, then reads it back as its list shows it.
async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    kind: TemplateKind,
    command: TemplateCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<TemplatePayload, ApiError> {
    let receipt = run_explained::<Template>(ctx, id, command, reason, idempotency_key).await?;
    let mut payload = TemplatePayload {
        author_profile: None,
        content_strategy: None,
        receipt,
    };
    match kind {
        TemplateKind::AuthorProfile => payload.author_profile = find(ctx, id, kind).await?,
        TemplateKind::Strategy => payload.content_strategy = find(ctx, id, kind).await?,
    }
    Ok(payload)
}

/// A new template's id: named by the idempotency key when there is one.
fn new_id(kind: &str, idempotency_key: Option<&str>) -> Uuid {
    match idempotency_key {
        Some(key) => Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("create-template:{kind}:{key}").as_bytes(),
        ),
        None => Uuid::now_v7(),
    }
}

#[derive(Default)]
pub struct TemplateMutation;

#[Object]
impl TemplateMutation {
    /// A new author profile, in the library (staff) or for an account.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn create_author_profile(
        &self,
        ctx: &Context<'_>,
        input: AuthorProfileInput,
    ) -> Result<TemplatePayload, ApiError> {
        let account_id = owner(ctx, input.account_id.as_ref()).await?;
        let terms = TemplateTerms {
            name: input.name,
            description: input.description,
            category: input.category.into(),
            details: TemplateDetails::AuthorProfile {
                tone: input.tone,
                language: input.language,
                structure: json_or_empty(input.structure),
            },
        };
        let id = new_id("author-profile", input.idempotency_key.as_deref());
        let command = TemplateCommand::Create {
            account_id,
            terms,
            cloned_from: None,
        };
        run(
            ctx,
            id,
            TemplateKind::AuthorProfile,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// A new content strategy, in the library (staff) or for an account.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn create_content_strategy(
        &self,
        ctx: &Context<'_>,
        input: ContentStrategyInput,
    ) -> Result<TemplatePayload, ApiError> {
        let account_id = owner(ctx, input.account_id.as_ref()).await?;
        let terms = TemplateTerms {
            name: input.name,
            description: input.description,
            category: input.category.into(),
            details: TemplateDetails::Strategy {
                prompt_types: prompt_types(&input.prompt_types)?,
                sections: json_or_empty(input.sections),
            },
        };
        let id = new_id("strategy", input.idempotency_key.as_deref());
        let command = TemplateCommand::Create {
            account_id,
            terms,
            cloned_from: None,
        };
        run(
            ctx,
            id,
            TemplateKind::Strategy,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Copies a library template into an account, remembering which one and its version.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn clone_template(
        &self,
        ctx: &Context<'_>,
        input: CloneTemplateInput,
    ) -> Result<TemplatePayload, ApiError> {
        let source = parse_id("templateId", &input.template_id)?;
        let template = services(ctx)
            .bus
            .read::<Template>(&source.to_string())
            .await?;
        let Some((terms, version, None)) = template.terms() else {
            return Err(ApiError::not_found("no such template in the library"));
        };
        let account_id = owner(ctx, Some(&input.account_id)).await?;
        let mut terms = terms.clone();
        if let Some(name) = input.name {
            terms.name = name;
        }
        let id = new_id("clone", input.idempotency_key.as_deref());
        let kind = terms.details.kind();
        let command = TemplateCommand::Create {
            account_id,
            terms,
            cloned_from: Some(TemplateRef {
                template_id: source,
                version,
            }),
        };
        run(ctx, id, kind, command, &input.reason, input.idempotency_key).await
    }

    /// New terms for an author profile (those given), as its next version.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn revise_author_profile(
        &self,
        ctx: &Context<'_>,
        input: ReviseAuthorProfileInput,
    ) -> Result<TemplatePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        let mut terms = writable(ctx, id).await?;
        let TemplateDetails::AuthorProfile {
            tone,
            language,
            structure,
        } = &mut terms.details
        else {
            return Err(ApiError::not_found("no such author profile"));
        };
        *tone = input.tone.unwrap_or_else(|| tone.clone());
        *language = input.language.unwrap_or_else(|| language.clone());
        if let Some(new) = input.structure {
            *structure = new.0;
        }
        terms.name = input.name.unwrap_or(terms.name);
        terms.description = input.description.unwrap_or(terms.description);
        terms.category = input.category.map_or(terms.category, Into::into);
        let command = TemplateCommand::Revise { terms };
        run(
            ctx,
            id,
            TemplateKind::AuthorProfile,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// New terms for a content strategy (those given), as its next version.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn revise_content_strategy(
        &self,
        ctx: &Context<'_>,
        input: ReviseContentStrategyInput,
    ) -> Result<TemplatePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        let mut terms = writable(ctx, id).await?;
        let TemplateDetails::Strategy {
            prompt_types: types,
            sections,
        } = &mut terms.details
        else {
            return Err(ApiError::not_found("no such content strategy"));
        };
        if let Some(new) = &input.prompt_types {
            *types = prompt_types(new)?;
        }
        if let Some(new) = input.sections {
            *sections = new.0;
        }
        terms.name = input.name.unwrap_or(terms.name);
        terms.description = input.description.unwrap_or(terms.description);
        terms.category = input.category.map_or(terms.category, Into::into);
        let command = TemplateCommand::Revise { terms };
        run(
            ctx,
            id,
            TemplateKind::Strategy,
            command,
            &input.reason,
            input.idempotency_key,
        )
        .await
    }

    /// Activates, deactivates, deletes (an account's, softly) or restores a template.
    #[graphql(guard = "Rule::Scoped(Permission::ContentWrite)")]
    async fn change_template_status(
        &self,
        ctx: &Context<'_>,
        input: TemplateActionInput,
    ) -> Result<TemplatePayload, ApiError> {
        let id = parse_id("id", &input.id)?;
        let kind = writable(ctx, id).await?.details.kind();
        let command = input.action.command();
        run(ctx, id, kind, command, &input.reason, input.idempotency_key).await
    }

    /// The same for many templates (staff), answered per template.
    #[graphql(guard = "Rule::Can(Permission::ContentWrite)")]
    async fn bulk_template_action(
        &self,
        ctx: &Context<'_>,
        input: BulkTemplateInput,
    ) -> Result<BulkResult, ApiError> {
        let action = TemplateBulkAction(input.action);
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }
}

//! Operators and their API tokens.

use super::groups::{groups_of, PermissionGroup};
use crate::auth;
use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::like_pattern;
use crate::graphql::kit::page::{Page, PageRequest};
use crate::graphql::{command_context, parse_id, principal, services, settle, Rule, WriteReceipt};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::identity::operator::{Operator, OperatorCommand};
use domain::identity::permission::Permission;
use domain::kit::values::{DisplayName, Email, Label};
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "Operator")]
pub struct OperatorNode {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub superuser: bool,
    pub service: bool,
    pub created_at: DateTime<Utc>,
}

#[ComplexObject]
impl OperatorNode {
    /// The operator's versions, oldest first, field by field, read from the event log.
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
            Operator::TYPE,
            &self.id.to_string(),
            first,
            after,
            filter,
        )
        .await
    }

    /// The operator as it was at a version, a recording time or a business time.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Operator::TYPE, &self.id.to_string(), at).await
    }

    /// The permission groups the operator is in, by name.
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<PermissionGroup>, ApiError> {
        groups_of(&services(ctx).pool, self.id).await
    }

    /// What the operator may do: every permission for a superuser, none for the platform's
    /// service principal (it may only report usage), otherwise what their groups grant.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<Vec<String>, ApiError> {
        let held: Vec<String> = if self.service {
            Vec::new()
        } else if self.superuser {
            Permission::ALL
                .iter()
                .map(|p| p.as_str().to_string())
                .collect()
        } else {
            let mut held: Vec<String> = groups_of(&services(ctx).pool, self.id)
                .await?
                .into_iter()
                .flat_map(|g| g.permissions)
                .collect();
            held.sort();
            held.dedup();
            held
        };
        Ok(held)
    }

    /// The operator's tokens, newest first. Only labels and dates: a token is shown once, when issued.
    async fn tokens(&self, ctx: &Context<'_>) -> Result<Vec<TokenNode>, ApiError> {
        let loader = ctx.data_unchecked::<DataLoader<TokensByOperator>>();
        Ok(loader.load_one(self.id).await?.unwrap_or_default())
    }
}

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(name = "OperatorToken")]
pub struct TokenNode {
    pub token_id: Uuid,
    #[graphql(skip)]
    pub operator_id: Uuid,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Batches the `tokens` of every operator on a page into one query.
pub struct TokensByOperator(pub PgPool);

impl Loader<Uuid> for TokensByOperator {
    type Value = Vec<TokenNode>;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows: Vec<TokenNode> = sqlx::query_as(
            "SELECT token_id, operator_id, label, created_at, revoked_at \
             FROM read.operator_tokens WHERE operator_id = ANY($1) \
             ORDER BY created_at DESC, token_id",
        )
        .bind(keys)
        .fetch_all(&self.0)
        .await?;
        let mut by_operator: HashMap<Uuid, Vec<TokenNode>> = HashMap::new();
        for row in rows {
            by_operator.entry(row.operator_id).or_default().push(row);
        }
        Ok(by_operator)
    }
}

async fn find_operator(pool: &PgPool, id: Uuid) -> Result<Option<OperatorNode>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT id, email, display_name, superuser, service, created_at FROM read.operators WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

#[derive(InputObject, Default)]
pub struct OperatorFilter {
    /// Case-insensitive match on e-mail or display name.
    pub search: Option<String>,
    pub superuser: Option<bool>,
}

#[derive(Default)]
pub struct OperatorQuery;

#[Object]
impl OperatorQuery {
    /// The operator making this request.
    #[graphql(guard = "Rule::Staff")]
    async fn me(&self, ctx: &Context<'_>) -> Result<OperatorNode, ApiError> {
        let me = principal(ctx)?;
        find_operator(&services(ctx).pool, me.id)
            .await?
            .ok_or_else(|| ApiError::not_found("your operator record is gone"))
    }

    #[graphql(guard = "Rule::Can(Permission::OperatorsRead)")]
    async fn operator(&self, ctx: &Context<'_>, id: ID) -> Result<Option<OperatorNode>, ApiError> {
        find_operator(&services(ctx).pool, parse_id("id", &id)?).await
    }

    /// Operators, oldest first.
    #[graphql(guard = "Rule::Can(Permission::OperatorsRead)")]
    async fn operators(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OperatorFilter>,
    ) -> Result<Page<(DateTime<Utc>, Uuid), OperatorNode>, ApiError> {
        let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let search = like_pattern("search", filter.search.as_deref().unwrap_or_default())?;
        let pool = &services(ctx).pool;
        const FILTER: &str = "($1::text IS NULL OR email ILIKE $1 OR display_name ILIKE $1) \
                              AND ($2::boolean IS NULL OR superuser = $2)";
        let (after_at, after_id) = page.after.unzip();
        let rows: Vec<OperatorNode> = sqlx::query_as(&format!(
            "SELECT id, email, display_name, superuser, service, created_at FROM read.operators \
             WHERE {FILTER} AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4)) \
             ORDER BY created_at, id LIMIT $5"
        ))
        .bind(&search)
        .bind(filter.superuser)
        .bind(after_at)
        .bind(after_id)
        .bind(page.fetch())
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM read.operators WHERE {FILTER}"
        ))
        .bind(&search)
        .bind(filter.superuser)
        .fetch_one(pool)
        .await?;
        Ok(page.finish(rows, total, |o| (o.created_at, o.id)))
    }
}

#[derive(InputObject)]
pub struct RegisterOperatorInput {
    pub email: String,
    pub display_name: String,
    #[graphql(default)]
    pub superuser: bool,
    /// A service principal for the platform: it may only report credit usage and activity.
    #[graphql(default)]
    pub service: bool,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct RegisterOperatorPayload {
    pub operator: Option<OperatorNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(InputObject)]
pub struct IssueOperatorTokenInput {
    pub operator_id: ID,
    pub label: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct IssueOperatorTokenPayload {
    pub token_id: Uuid,
    /// The bearer token. Shown this once and never again; null when the request was a replay.
    pub token: Option<String>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(InputObject)]
pub struct RevokeOperatorTokenInput {
    pub operator_id: ID,
    pub token_id: ID,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct RevokeOperatorTokenPayload {
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(Default)]
pub struct OperatorMutation;

#[Object]
impl OperatorMutation {
    /// Registers an operator of this backend. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn register_operator(
        &self,
        ctx: &Context<'_>,
        input: RegisterOperatorInput,
    ) -> Result<RegisterOperatorPayload, ApiError> {
        let me = principal(ctx)?;
        let email = Email::parse(&input.email)?;
        let command = OperatorCommand::Register {
            display_name: DisplayName::parse(&input.display_name)?,
            superuser: input.superuser,
            service: input.service,
            email: email.clone(),
        };
        let id = Operator::id_for(&email);
        let context = command_context(ctx, me, input.idempotency_key, None);
        let services = services(ctx);
        let appended = services
            .bus
            .execute::<Operator>(&id.to_string(), command, &context)
            .await?;
        let receipt = settle(ctx, &appended, Operator::TYPE).await;
        Ok(RegisterOperatorPayload {
            operator: find_operator(&services.pool, id).await?,
            receipt,
        })
    }

    /// Issues a bearer token to an operator: to yourself, or to anyone if you are a superuser.
    #[graphql(guard = "Rule::Staff")]
    async fn issue_operator_token(
        &self,
        ctx: &Context<'_>,
        input: IssueOperatorTokenInput,
    ) -> Result<IssueOperatorTokenPayload, ApiError> {
        let me = principal(ctx)?;
        let operator_id = parse_id("operatorId", &input.operator_id)?;
        if operator_id != me.id && !me.superuser {
            return Err(ApiError::forbidden(
                "only a superuser may issue tokens to others",
            ));
        }
        let (token, token_hash) = auth::new_token();
        let token_id = Uuid::now_v7();
        let command = OperatorCommand::IssueToken {
            token_id,
            token_hash,
            label: Label::parse(&input.label)?,
        };
        let context = command_context(ctx, me, input.idempotency_key, None);
        let appended = services(ctx)
            .bus
            .execute::<Operator>(&operator_id.to_string(), command, &context)
            .await?;
        let receipt = settle(ctx, &appended, Operator::TYPE).await;
        Ok(IssueOperatorTokenPayload {
            token_id,
            token: (!appended.replayed).then_some(token),
            receipt,
        })
    }

    /// Revokes a token at once: your own, or anyone's if you are a superuser.
    #[graphql(guard = "Rule::Staff")]
    async fn revoke_operator_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeOperatorTokenInput,
    ) -> Result<RevokeOperatorTokenPayload, ApiError> {
        let me = principal(ctx)?;
        let operator_id = parse_id("operatorId", &input.operator_id)?;
        let token_id = parse_id("tokenId", &input.token_id)?;
        if operator_id != me.id && !me.superuser {
            return Err(ApiError::forbidden(
                "only a superuser may revoke others' tokens",
            ));
        }
        let context = command_context(ctx, me, input.idempotency_key, input.reason);
        let appended = services(ctx)
            .bus
            .execute::<Operator>(
                &operator_id.to_string(),
                OperatorCommand::RevokeToken { token_id },
                &context,
            )
            .await?;
        Ok(RevokeOperatorTokenPayload {
            receipt: settle(ctx, &appended, Operator::TYPE).await,
        })
    }
}

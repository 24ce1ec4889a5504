//! The people of tenant accounts: the list with the seeds' filters, and their lifecycle.

use crate::error::ApiError;
use crate::graphql::kit::lists::{db_enum, like_pattern, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::{
    command_context, confine, parse_id, principal, services, settle, visible, Rule, WriteReceipt,
};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::identity::account_users::{AccountUsers, AccountUsersCommand, UserAction};
use domain::identity::permission::Permission;
use domain::identity::user_email_claim::{user_id_for, UserEmailClaim, UserEmailClaimCommand};
use domain::kit::error::ErrorCode;
use domain::kit::values::{DisplayName, Email, Label, Reason};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::identity::account_users::UserRole")]
pub enum UserRole {
    /// Everything within the account; exactly one per account.
    Owner,
    /// Manages the account and its users.
    Admin,
    Editor,
    Viewer,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::identity::account_users::UserStatus")]
pub enum UserStatus {
    /// Asked to join, not yet active.
    Invited,
    Active,
    Inactive,
}

db_enum!(
    UserRole => domain::identity::account_users::UserRole,
    UserStatus => domain::identity::account_users::UserStatus,
);

/// A person of a tenant account.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct PlatformUser {
    pub id: Uuid,
    pub account_id: Uuid,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: UserRole,
    #[sqlx(try_from = "String")]
    pub status: UserStatus,
    pub email_verified: bool,
    /// Soft-deleted: kept, and can be restored.
    pub deleted: bool,
    pub joined_at: DateTime<Utc>,
    /// When a password reset was last asked for (the platform sends the e-mail).
    pub password_reset_requested_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(PlatformUser);

const COLUMNS: &str = "id, account_id, email, name, role, status, email_verified, deleted, \
     joined_at, password_reset_requested_at";

async fn find_user(pool: &PgPool, id: Uuid) -> Result<Option<PlatformUser>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM read.platform_users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The seeds' filters; every condition given must hold.
#[derive(InputObject, Default)]
pub struct PlatformUserFilter {
    pub account_id: Option<ID>,
    pub role: Option<Vec<UserRole>>,
    pub status: Option<Vec<UserStatus>>,
    pub email_verified: Option<bool>,
    /// Deleted users are left out unless this is true.
    #[graphql(default)]
    pub deleted: bool,
    /// Date joined.
    pub joined: Option<DateRange>,
    /// Case-insensitive substring of name or e-mail.
    pub search: Option<String>,
}

impl PlatformUserFilter {
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        if let Some(roles) = &self.role {
            let roles: Vec<&str> = roles.iter().map(|r| r.as_db()).collect();
            qb.push(" AND role = ANY(").push_bind(roles).push(")");
        }
        if let Some(statuses) = &self.status {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
            qb.push(" AND status = ANY(").push_bind(statuses).push(")");
        }
        if let Some(verified) = self.email_verified {
            qb.push(" AND email_verified = ").push_bind(verified);
        }
        qb.push(" AND deleted = ").push_bind(self.deleted);
        if let Some(joined) = &self.joined {
            joined.push(qb, "joined_at")?;
        }
        if let Some(pattern) = like_pattern("search", self.search.as_deref().unwrap_or_default())? {
            qb.push(" AND (name || ' ' || email) ILIKE ")
                .push_bind(pattern);
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct PlatformUserQuery;

#[Object]
impl PlatformUserQuery {
    #[graphql(guard = "Rule::Scoped(Permission::UsersRead)")]
    async fn platform_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<PlatformUser>, ApiError> {
        let found = find_user(&services(ctx).pool, parse_id("id", &id)?).await?;
        Ok(found.filter(|user| visible(ctx, user.account_id)))
    }

    /// The people of tenant accounts, newest first.
    #[graphql(guard = "Rule::Scoped(Permission::UsersRead)")]
    async fn platform_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<PlatformUserFilter>,
    ) -> Result<Page<Key, PlatformUser>, ApiError> {
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.platform_users",
            columns: COLUMNS,
            order: Order {
                column: "joined_at",
                cast: "timestamptz",
                id: "id",
                id_cast: "uuid",
                direction: SortDirection::Desc,
            },
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "account_id");
            filter.push(query)
        })
        .await
    }
}

#[derive(InputObject)]
pub struct AddPlatformUserInput {
    pub account_id: ID,
    pub email: String,
    pub name: String,
    /// An account's first user is its owner; after that, any role but owner.
    pub role: UserRole,
    /// Invited users are active once activated; others at once.
    #[graphql(default)]
    pub invite: bool,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct PlatformUserInput {
    pub user_id: ID,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ChangePlatformUserRoleInput {
    pub user_id: ID,
    pub role: UserRole,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct IssuePlatformUserTokenInput {
    pub user_id: ID,
    pub label: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct RevokePlatformUserTokenInput {
    pub user_id: ID,
    pub token_id: ID,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct IssuePlatformUserTokenPayload {
    pub token_id: Uuid,
    /// The bearer token: it acts as the user, within their account and role. Shown this once
    /// and never again; null when the request was a replay.
    pub token: Option<String>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

#[derive(SimpleObject)]
pub struct PlatformUserPayload {
    /// The user as the read model shows it after this change.
    pub user: Option<PlatformUser>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

fn reason(reason: &Option<String>) -> Result<Option<String>, ApiError> {
    Ok(match reason {
        Some(reason) => Some(Reason::parse(reason)?.as_str().to_string()),
        None => None,
    })
}

/// Runs `command` on the users of `account_id`, answering with `user_id` as the read model
/// shows it afterwards.
async fn execute(
    ctx: &Context<'_>,
    account_id: Uuid,
    user_id: Uuid,
    command: AccountUsersCommand,
    reason: Option<String>,
    idempotency_key: Option<String>,
) -> Result<PlatformUserPayload, ApiError> {
    let context = command_context(ctx, principal(ctx)?, idempotency_key, reason);
    let services = services(ctx);
    let appended = services
        .bus
        .execute::<AccountUsers>(&account_id.to_string(), command, &context)
        .await?;
    let receipt = settle(ctx, &appended, AccountUsers::TYPE).await;
    Ok(PlatformUserPayload {
        user: find_user(&services.pool, user_id).await?,
        receipt,
    })
}

/// The account a known user belongs to. A user of another account than a confined caller's is
/// not known to them: the same answer as for no user at all.
async fn account_of(ctx: &Context<'_>, user_id: Uuid) -> Result<Uuid, ApiError> {
    let account: Option<Uuid> =
        sqlx::query_scalar("SELECT account_id FROM read.platform_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&services(ctx).pool)
            .await?;
    account
        .filter(|account| visible(ctx, *account))
        .ok_or_else(|| ApiError::not_found("there is no platform user with this id"))
}

/// A platform user's token may do to users what the staff does, but to themselves only when
/// it comes to tokens (a token for a colleague would act as that colleague).
fn own_tokens_only(ctx: &Context<'_>, user_id: Uuid) -> Result<(), ApiError> {
    match principal(ctx)? {
        me if me.account.is_some() && me.id != user_id => Err(ApiError::forbidden(
            "a platform user issues and revokes only their own tokens",
        )),
        _ => Ok(()),
    }
}

/// Something done to one user, found by id.
async fn act(
    ctx: &Context<'_>,
    input: PlatformUserInput,
    action: UserAction,
) -> Result<PlatformUserPayload, ApiError> {
    let user_id = parse_id("userId", &input.user_id)?;
    let account_id = account_of(ctx, user_id).await?;
    let command = AccountUsersCommand::User { user_id, action };
    let reason = reason(&input.reason)?;
    execute(
        ctx,
        account_id,
        user_id,
        command,
        reason,
        input.idempotency_key,
    )
    .await
}

#[derive(Default)]
pub struct PlatformUserMutation;

#[Object]
impl PlatformUserMutation {
    /// Creates or invites a user of an account. The address must be new to the platform.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn add_platform_user(
        &self,
        ctx: &Context<'_>,
        input: AddPlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        let me = principal(ctx)?;
        let account_id = parse_id("accountId", &input.account_id)?;
        if !visible(ctx, account_id) {
            return Err(ApiError::forbidden(
                "a platform user acts only within their own account",
            ));
        }
        let email = Email::parse(&input.email)?;
        let name = DisplayName::parse(&input.name)?;
        let services = services(ctx);
        let open: Option<bool> =
            sqlx::query_scalar("SELECT status <> 'deleted' FROM read.accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&services.pool)
                .await?;
        match open {
            None => return Err(ApiError::not_found("there is no account with this id")),
            Some(false) => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the account is deleted; restore it first",
                ))
            }
            Some(true) => {}
        }
        // The account's rule on owners, said before anything is written (the aggregate
        // decides again, for a concurrent addition).
        let has_owner: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM read.platform_users \
             WHERE account_id = $1 AND role = 'owner')",
        )
        .bind(account_id)
        .fetch_one(&services.pool)
        .await?;
        match (has_owner, input.role) {
            (false, role) if role != UserRole::Owner => {
                return Err(ApiError::validation(
                    "an account's first user is its owner (role OWNER)",
                ))
            }
            (true, UserRole::Owner) => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the account already has an owner; transfer ownership instead",
                ))
            }
            _ => {}
        }
        let user_id = user_id_for(&email);
        let claim_id = user_id.to_string();
        // The address first: it belongs to one person on the whole platform.
        let claim_context = command_context(ctx, me, None, None);
        let claim = |command| {
            services
                .bus
                .execute::<UserEmailClaim>(&claim_id, command, &claim_context)
        };
        let claimed = claim(UserEmailClaimCommand::Claim { account_id }).await?;
        let command = AccountUsersCommand::Add {
            user_id,
            email,
            name,
            role: input.role.into(),
            invite: input.invite,
        };
        let added = execute(
            ctx,
            account_id,
            user_id,
            command,
            None,
            input.idempotency_key,
        )
        .await;
        if added.is_err() && claimed.last.is_some() {
            // Refused after all: the address goes back, so nothing is left half done.
            claim(UserEmailClaimCommand::Release { account_id }).await?;
        }
        added
    }

    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn activate_platform_user(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::Activate).await
    }

    /// The account's owner cannot be deactivated until ownership is transferred.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn deactivate_platform_user(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::Deactivate).await
    }

    /// Any role but owner (see `transferAccountOwnership`); the owner's role stays.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn change_platform_user_role(
        &self,
        ctx: &Context<'_>,
        input: ChangePlatformUserRoleInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        let role = input.role.into();
        let input = PlatformUserInput {
            user_id: input.user_id,
            reason: input.reason,
            idempotency_key: input.idempotency_key,
        };
        act(ctx, input, UserAction::ChangeRole { role }).await
    }

    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn verify_platform_user_email(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::VerifyEmail).await
    }

    /// Records that the user's password should be reset; the platform sends the e-mail (this
    /// service holds no passwords).
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn request_platform_user_password_reset(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::RequestPasswordReset).await
    }

    /// Soft delete; the account's owner cannot be deleted until ownership is transferred.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn delete_platform_user(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::Delete).await
    }

    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn restore_platform_user(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        act(ctx, input, UserAction::Restore).await
    }

    /// Issues a bearer token acting as an active user, within their account and role.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn issue_platform_user_token(
        &self,
        ctx: &Context<'_>,
        input: IssuePlatformUserTokenInput,
    ) -> Result<IssuePlatformUserTokenPayload, ApiError> {
        let user_id = parse_id("userId", &input.user_id)?;
        let label = Label::parse(&input.label)?;
        let services = services(ctx);
        let account_id = account_of(ctx, user_id).await?;
        own_tokens_only(ctx, user_id)?;
        let (token, token_hash) = crate::auth::new_token();
        let token_id = Uuid::now_v7();
        let command = AccountUsersCommand::User {
            user_id,
            action: UserAction::IssueToken {
                token_id,
                token_hash,
                label,
            },
        };
        let context = command_context(ctx, principal(ctx)?, input.idempotency_key, None);
        let appended = services
            .bus
            .execute::<AccountUsers>(&account_id.to_string(), command, &context)
            .await?;
        Ok(IssuePlatformUserTokenPayload {
            token_id,
            token: (!appended.replayed).then_some(token),
            receipt: settle(ctx, &appended, AccountUsers::TYPE).await,
        })
    }

    /// Revokes a user's token at once.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn revoke_platform_user_token(
        &self,
        ctx: &Context<'_>,
        input: RevokePlatformUserTokenInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        let token_id = parse_id("tokenId", &input.token_id)?;
        own_tokens_only(ctx, parse_id("userId", &input.user_id)?)?;
        let action = UserAction::RevokeToken { token_id };
        let input = PlatformUserInput {
            user_id: input.user_id,
            reason: input.reason,
            idempotency_key: input.idempotency_key,
        };
        act(ctx, input, action).await
    }

    /// Makes an active user the owner of their account; the owner before becomes an admin.
    #[graphql(guard = "Rule::Scoped(Permission::UsersWrite)")]
    async fn transfer_account_ownership(
        &self,
        ctx: &Context<'_>,
        input: PlatformUserInput,
    ) -> Result<PlatformUserPayload, ApiError> {
        let to = parse_id("userId", &input.user_id)?;
        let account_id = account_of(ctx, to).await?;
        if principal(ctx)?
            .account
            .is_some_and(|scope| scope.role != domain::identity::account_users::UserRole::Owner)
        {
            return Err(ApiError::forbidden(
                "only the account's owner transfers its ownership",
            ));
        }
        let reason = reason(&input.reason)?;
        let command = AccountUsersCommand::TransferOwnership { to };
        execute(ctx, account_id, to, command, reason, input.idempotency_key).await
    }
}

//! Permission groups: what each grants and who is in it. Superusers manage them; a change
//! takes effect on the members' next request.

use crate::error::ApiError;
use crate::graphql::{parse_id, run_explained, services, Rule, WriteReceipt};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::identity::group::{Group, GroupCommand};
use domain::identity::permission::Permission;
use domain::kit::values::GroupName;
use sqlx::PgPool;
use std::collections::BTreeSet;
use uuid::Uuid;

/// A named set of permissions and the operators it grants them to.
#[derive(SimpleObject, Debug, Clone)]
pub struct PermissionGroup {
    pub id: Uuid,
    pub name: String,
    /// Permission names, e.g. `payments.approve`, in order.
    pub permissions: Vec<String>,
    /// The ids of its operators (see `operator(id)`).
    pub member_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// One permission: its name and what it allows.
#[derive(SimpleObject, Debug, Clone)]
pub struct PermissionInfo {
    pub name: String,
    /// Held by superusers alone; never granted to a group.
    pub superuser_only: bool,
}

const GROUPS: &str = "SELECT g.id, g.name, g.created_at, \
        ARRAY(SELECT p.permission FROM read.group_permissions p \
              WHERE p.group_id = g.id ORDER BY p.permission), \
        ARRAY(SELECT m.operator_id FROM read.group_members m \
              WHERE m.group_id = g.id ORDER BY m.added_at, m.operator_id) \
     FROM read.permission_groups g";

type GroupRow = (Uuid, String, DateTime<Utc>, Vec<String>, Vec<Uuid>);

fn group_of((id, name, created_at, permissions, member_ids): GroupRow) -> PermissionGroup {
    PermissionGroup {
        id,
        name,
        permissions,
        member_ids,
        created_at,
    }
}

async fn find_group(pool: &PgPool, id: Uuid) -> Result<Option<PermissionGroup>, ApiError> {
    let row: Option<GroupRow> = sqlx::query_as(&format!("{GROUPS} WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(group_of))
}

/// The groups `operator_id` is in, by name.
pub(super) async fn groups_of(
    pool: &PgPool,
    operator_id: Uuid,
) -> Result<Vec<PermissionGroup>, ApiError> {
    let rows: Vec<GroupRow> = sqlx::query_as(&format!(
        "{GROUPS} WHERE g.id IN (SELECT group_id FROM read.group_members WHERE operator_id = $1) \
         ORDER BY g.name"
    ))
    .bind(operator_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(group_of).collect())
}

#[derive(Default)]
pub struct GroupQuery;

#[Object]
impl GroupQuery {
    /// Every permission there is.
    #[graphql(guard = "Rule::Can(Permission::OperatorsRead)")]
    async fn permissions(&self) -> Vec<PermissionInfo> {
        Permission::ALL
            .iter()
            .map(|p| PermissionInfo {
                name: p.as_str().to_string(),
                superuser_only: p.superuser_only(),
            })
            .collect()
    }

    /// The permission groups, by name (there are few: no paging).
    #[graphql(guard = "Rule::Can(Permission::OperatorsRead)")]
    async fn permission_groups(&self, ctx: &Context<'_>) -> Result<Vec<PermissionGroup>, ApiError> {
        let rows: Vec<GroupRow> = sqlx::query_as(&format!("{GROUPS} ORDER BY g.name"))
            .fetch_all(&services(ctx).pool)
            .await?;
        Ok(rows.into_iter().map(group_of).collect())
    }
}

#[derive(InputObject)]
pub struct CreatePermissionGroupInput {
    pub name: String,
    /// Permission names, e.g. `["payments.approve", "billing.read"]`.
    pub permissions: Vec<String>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct GroupPermissionInput {
    pub group_id: ID,
    pub permission: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct GroupMemberInput {
    pub group_id: ID,
    pub operator_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct PermissionGroupPayload {
    pub group: Option<PermissionGroup>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

fn permission(name: &str) -> Result<Permission, ApiError> {
    Permission::parse(name.trim()).ok_or_else(|| {
        let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::validation(format!(
            "there is no permission `{}`; the permissions are {}",
            name.chars().take(64).collect::<String>(),
            known.join(", ")
        ))
    })
}

/// Runs a group command and answers with the group as the read model shows it afterwards.
async fn change(
    ctx: &Context<'_>,
    group_id: Uuid,
    command: GroupCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<PermissionGroupPayload, ApiError> {
    let receipt = run_explained::<Group>(ctx, group_id, command, reason, idempotency_key).await?;
    Ok(PermissionGroupPayload {
        group: find_group(&services(ctx).pool, group_id).await?,
        receipt,
    })
}

#[derive(Default)]
pub struct GroupMutation;

#[Object]
impl GroupMutation {
    /// Creates a permission group. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn create_permission_group(
        &self,
        ctx: &Context<'_>,
        input: CreatePermissionGroupInput,
    ) -> Result<PermissionGroupPayload, ApiError> {
        let name = GroupName::parse(&input.name)?;
        let permissions = input
            .permissions
            .iter()
            .map(|name| permission(name))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let id = Group::id_for(&name);
        let command = GroupCommand::Create { name, permissions };
        change(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Grants a permission to everyone in a group. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn grant_group_permission(
        &self,
        ctx: &Context<'_>,
        input: GroupPermissionInput,
    ) -> Result<PermissionGroupPayload, ApiError> {
        let id = parse_id("groupId", &input.group_id)?;
        let command = GroupCommand::Grant {
            permission: permission(&input.permission)?,
        };
        change(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Takes a permission back from a group. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn revoke_group_permission(
        &self,
        ctx: &Context<'_>,
        input: GroupPermissionInput,
    ) -> Result<PermissionGroupPayload, ApiError> {
        let id = parse_id("groupId", &input.group_id)?;
        let command = GroupCommand::Revoke {
            permission: permission(&input.permission)?,
        };
        change(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Puts an operator (a person, not the service principal) in a group. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn add_group_member(
        &self,
        ctx: &Context<'_>,
        input: GroupMemberInput,
    ) -> Result<PermissionGroupPayload, ApiError> {
        let id = parse_id("groupId", &input.group_id)?;
        let operator_id = parse_id("operatorId", &input.operator_id)?;
        let service: Option<bool> =
            sqlx::query_scalar("SELECT service FROM read.operators WHERE id = $1")
                .bind(operator_id)
                .fetch_optional(&services(ctx).pool)
                .await?;
        match service {
            None => return Err(ApiError::not_found("there is no operator with this id")),
            Some(true) => return Err(ApiError::validation(
                "a service principal is in no group: it may only report credit usage and activity",
            )),
            Some(false) => {}
        }
        let command = GroupCommand::AddMember { operator_id };
        change(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Takes an operator out of a group. Superusers only.
    #[graphql(guard = "Rule::Superuser")]
    async fn remove_group_member(
        &self,
        ctx: &Context<'_>,
        input: GroupMemberInput,
    ) -> Result<PermissionGroupPayload, ApiError> {
        let id = parse_id("groupId", &input.group_id)?;
        let command = GroupCommand::RemoveMember {
            operator_id: parse_id("operatorId", &input.operator_id)?,
        };
        change(ctx, id, command, &input.reason, input.idempotency_key).await
    }
}

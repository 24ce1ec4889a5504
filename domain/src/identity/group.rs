//! Permission groups: named sets of permissions, and the operators in them. Groups are data, so
//! every grant, revoke and membership change is an event with its actor and reason, and takes
//! effect on the next request.
//!
//! A group's id is derived from its name (case-insensitively), so two groups cannot share a name,
//! even when created concurrently. The staff roles the platform starts with are [`builtin`].

use super::permission::Permission;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::{GroupName, InvalidValue};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

const GROUP_NAMESPACE: Uuid = Uuid::from_u128(0x2b7e_41d9_8c0a_4f63_b5e1_9d2c_6a84_f017);

/// The staff roles every installation starts with (created at start-up when missing).
pub fn builtin() -> Vec<(GroupName, BTreeSet<Permission>)> {
    use Permission::*;
    let group = |name: &str, permissions: &[Permission]| {
        (
            GroupName::parse(name).expect("a valid built-in name"),
            permissions.iter().copied().collect(),
        )
    };
    vec![
        group(
            "Billing Administrator",
            &[
                AccountsRead,
                BillingRead,
                BillingWrite,
                PaymentsApprove,
                CreditsAdjust,
                OperatorsRead,
            ],
        ),
        group(
            "Content Manager",
            &[AccountsRead, ContentWrite, PromptsWrite, OperatorsRead],
        ),
        group(
            "Support Agent",
            &[
                AccountsRead,
                UsersRead,
                BillingRead,
                AuditRead,
                OperatorsRead,
            ],
        ),
        group(
            "Analyst",
            &[AccountsRead, BillingRead, InsightRead, OperatorsRead],
        ),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupCommand {
    Create {
        name: GroupName,
        permissions: BTreeSet<Permission>,
    },
    Grant {
        permission: Permission,
    },
    Revoke {
        permission: Permission,
    },
    AddMember {
        operator_id: Uuid,
    },
    RemoveMember {
        operator_id: Uuid,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum GroupEvent {
    GroupCreated {
        name: GroupName,
        permissions: BTreeSet<Permission>,
    },
    GroupPermissionGranted {
        permission: Permission,
    },
    GroupPermissionRevoked {
        permission: Permission,
    },
    GroupMemberAdded {
        operator_id: Uuid,
    },
    GroupMemberRemoved {
        operator_id: Uuid,
    },
}

crate::stored_event!(GroupEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `VALIDATION`
    #[error("`{0}` is held by superusers alone and is never granted to a group")]
    SuperuserOnly(Permission),
    /// `CONFLICT`
    #[error("a group with this name already exists")]
    AlreadyExists,
    /// `NOT_FOUND`
    #[error("no such group")]
    NotFound,
    /// `CONFLICT`
    #[error("the group already grants `{0}`")]
    AlreadyGranted(Permission),
    /// `CONFLICT`
    #[error("the group does not grant `{0}`")]
    NotGranted(Permission),
    /// `CONFLICT`
    #[error("the operator is already in the group")]
    AlreadyMember,
    /// `CONFLICT`
    #[error("the operator is not in the group")]
    NotMember,
}

impl From<InvalidValue> for GroupError {
    fn from(e: InvalidValue) -> Self {
        Self::Invalid(e.0)
    }
}

impl Coded for GroupError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::SuperuserOnly(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyExists
            | Self::AlreadyGranted(_)
            | Self::NotGranted(_)
            | Self::AlreadyMember
            | Self::NotMember => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    created: bool,
    name: Option<GroupName>,
    permissions: BTreeSet<Permission>,
    members: BTreeSet<Uuid>,
}

impl Group {
    /// The aggregate id of the group with this name.
    pub fn id_for(name: &GroupName) -> Uuid {
        Uuid::new_v5(&GROUP_NAMESPACE, name.as_str().to_lowercase().as_bytes())
    }

    fn decide(&self, command: GroupCommand) -> Result<GroupEvent, GroupError> {
        use GroupCommand as C;
        let grantable = |permission: Permission| {
            if permission.superuser_only() {
                Err(GroupError::SuperuserOnly(permission))
            } else {
                Ok(permission)
            }
        };
        match command {
            C::Create { .. } if self.created => Err(GroupError::AlreadyExists),
            C::Create { name, permissions } => {
                for permission in &permissions {
                    grantable(*permission)?;
                }
                Ok(GroupEvent::GroupCreated { name, permissions })
            }
            _ if !self.created => Err(GroupError::NotFound),
            C::Grant { permission } if self.permissions.contains(&permission) => {
                Err(GroupError::AlreadyGranted(permission))
            }
            C::Grant { permission } => Ok(GroupEvent::GroupPermissionGranted {
                permission: grantable(permission)?,
            }),
            C::Revoke { permission } if !self.permissions.contains(&permission) => {
                Err(GroupError::NotGranted(permission))
            }
            C::Revoke { permission } => Ok(GroupEvent::GroupPermissionRevoked { permission }),
            C::AddMember { operator_id } if self.members.contains(&operator_id) => {
                Err(GroupError::AlreadyMember)
            }
            C::AddMember { operator_id } => Ok(GroupEvent::GroupMemberAdded { operator_id }),
            C::RemoveMember { operator_id } if !self.members.contains(&operator_id) => {
                Err(GroupError::NotMember)
            }
            C::RemoveMember { operator_id } => Ok(GroupEvent::GroupMemberRemoved { operator_id }),
        }
    }
}

impl crate::kit::event::StoredAggregate for Group {}

impl Aggregate for Group {
    const TYPE: &'static str = "group";
    type Command = GroupCommand;
    type Event = GroupEvent;
    type Error = GroupError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            GroupEvent::GroupCreated { name, permissions } => {
                self.created = true;
                self.name = Some(name);
                self.permissions = permissions;
            }
            GroupEvent::GroupPermissionGranted { permission } => {
                self.permissions.insert(permission);
            }
            GroupEvent::GroupPermissionRevoked { permission } => {
                self.permissions.remove(&permission);
            }
            GroupEvent::GroupMemberAdded { operator_id } => {
                self.members.insert(operator_id);
            }
            GroupEvent::GroupMemberRemoved { operator_id } => {
                self.members.remove(&operator_id);
            }
        }
    }
}

#[cfg(test)]
mod aggregate_tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type GroupTest = TestFramework<Group>;

    fn created() -> GroupEvent {
        GroupEvent::GroupCreated {
            name: GroupName::parse("Refunds").unwrap(),
            permissions: [Permission::PaymentsApprove].into(),
        }
    }

    #[tokio::test]
    async fn a_group_is_created_once_with_grantable_permissions() {
        GroupTest::with(())
            .given_no_previous_events()
            .when_async(GroupCommand::Create {
                name: GroupName::parse("Refunds").unwrap(),
                permissions: [Permission::PaymentsApprove].into(),
            })
            .await
            .then_expect_events(vec![created()]);
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::Create {
                name: GroupName::parse("refunds").unwrap(),
                permissions: BTreeSet::new(),
            })
            .await
            .then_expect_error(GroupError::AlreadyExists);
        GroupTest::with(())
            .given_no_previous_events()
            .when_async(GroupCommand::Create {
                name: GroupName::parse("Admins").unwrap(),
                permissions: [Permission::OperatorsManage].into(),
            })
            .await
            .then_expect_error(GroupError::SuperuserOnly(Permission::OperatorsManage));
    }

    #[tokio::test]
    async fn permissions_are_granted_and_revoked_once() {
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::Grant {
                permission: Permission::PaymentsApprove,
            })
            .await
            .then_expect_error(GroupError::AlreadyGranted(Permission::PaymentsApprove));
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::Grant {
                permission: Permission::SettingsGlobal,
            })
            .await
            .then_expect_error(GroupError::SuperuserOnly(Permission::SettingsGlobal));
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::Revoke {
                permission: Permission::PaymentsApprove,
            })
            .await
            .then_expect_events(vec![GroupEvent::GroupPermissionRevoked {
                permission: Permission::PaymentsApprove,
            }]);
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::Revoke {
                permission: Permission::AuditRead,
            })
            .await
            .then_expect_error(GroupError::NotGranted(Permission::AuditRead));
    }

    #[tokio::test]
    async fn members_join_and_leave_once() {
        let ada = Uuid::from_u128(1);
        let joined = GroupEvent::GroupMemberAdded { operator_id: ada };
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::AddMember { operator_id: ada })
            .await
            .then_expect_events(vec![joined.clone()]);
        GroupTest::with(())
            .given(vec![created(), joined.clone()])
            .when_async(GroupCommand::AddMember { operator_id: ada })
            .await
            .then_expect_error(GroupError::AlreadyMember);
        GroupTest::with(())
            .given(vec![created()])
            .when_async(GroupCommand::RemoveMember { operator_id: ada })
            .await
            .then_expect_error(GroupError::NotMember);
        GroupTest::with(())
            .given_no_previous_events()
            .when_async(GroupCommand::AddMember { operator_id: ada })
            .await
            .then_expect_error(GroupError::NotFound);
    }

    #[test]
    fn built_in_groups_grant_nothing_superusers_alone_hold() {
        let groups = builtin();
        assert_eq!(groups.len(), 4);
        for (name, permissions) in groups {
            assert!(!permissions.is_empty(), "{name}");
            assert!(permissions.iter().all(|p| !p.superuser_only()), "{name}");
        }
    }
}

//! The people of one tenant account (platform users): who they are, their role, whether they
//! may sign in. One aggregate per account (its id is the account's), so the account's rules
//! about its people hold in one place: exactly one owner once it has people, and the owner
//! cannot be deactivated, deleted or demoted until ownership is transferred.
//!
//! An address belongs to one person on the whole platform: it is claimed first
//! (`UserEmailClaim`, keyed by the user's id, which is derived from the address).
//! This service stores no passwords: a password reset is recorded for the platform to act on.

use super::operator::{TokenHash, MAX_ACTIVE_TOKENS};
use super::permission::Permission;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::text_enum;
use crate::kit::values::{DisplayName, Email, Label};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

text_enum! {
    /// What a platform user may do within their account.
    pub enum UserRole {
        /// Everything within the account, and the only one who transfers ownership.
        Owner,
        /// Manages the account and its users.
        Admin,
        /// Works on content.
        Editor,
        /// Reads.
        Viewer,
    }
}

impl UserRole {
    /// What a user's token may do within their own account. Never anything about another
    /// account, nor the staff's business (operators, groups, the seal, global settings).
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Self::Owner | Self::Admin => &[
                AccountsRead,
                BillingRead,
                UsersRead,
                UsersWrite,
                AiSettingsWrite,
                PromptsWrite,
                ContentWrite,
            ],
            Self::Editor => &[
                AccountsRead,
                BillingRead,
                UsersRead,
                ContentWrite,
                PromptsWrite,
            ],
            Self::Viewer => &[AccountsRead, BillingRead, UsersRead],
        }
    }
}

text_enum! {
    /// Whether a platform user may sign in.
    pub enum UserStatus {
        /// Asked to join, not yet active.
        Invited,
        Active,
        Inactive,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountUsersCommand {
    /// Creates a user (active at once) or invites one (active once activated).
    Add {
        user_id: Uuid,
        email: Email,
        name: DisplayName,
        role: UserRole,
        invite: bool,
    },
    /// Something done to one user of the account.
    User { user_id: Uuid, action: UserAction },
    /// Makes `to` the owner; the owner before becomes an admin.
    TransferOwnership { to: Uuid },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserAction {
    Activate,
    Deactivate,
    ChangeRole {
        role: UserRole,
    },
    VerifyEmail,
    RequestPasswordReset,
    Delete,
    Restore,
    /// A bearer token that acts as this user, within their account and role (only its hash is
    /// recorded; the token is shown once).
    IssueToken {
        token_id: Uuid,
        token_hash: TokenHash,
        label: Label,
    },
    RevokeToken {
        token_id: Uuid,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AccountUsersEvent {
    UserAdded {
        user_id: Uuid,
        email: Email,
        name: DisplayName,
        role: UserRole,
        status: UserStatus,
    },
    UserActivated {
        user_id: Uuid,
    },
    UserDeactivated {
        user_id: Uuid,
    },
    UserRoleChanged {
        user_id: Uuid,
        role: UserRole,
    },
    UserEmailVerified {
        user_id: Uuid,
    },
    UserPasswordResetRequested {
        user_id: Uuid,
    },
    UserDeleted {
        user_id: Uuid,
    },
    UserRestored {
        user_id: Uuid,
    },
    OwnershipTransferred {
        from: Uuid,
        to: Uuid,
    },
    UserTokenIssued {
        user_id: Uuid,
        token_id: Uuid,
        token_hash: TokenHash,
        label: Label,
    },
    UserTokenRevoked {
        user_id: Uuid,
        token_id: Uuid,
    },
}

crate::stored_event!(AccountUsersEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountUsersError {
    /// `CONFLICT`
    #[error("{0}")]
    Conflict(String),
    /// `NOT_FOUND`
    #[error("this account has no user {0}")]
    UnknownUser(Uuid),
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
}

impl Coded for AccountUsersError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::UnknownUser(_) => ErrorCode::NotFound,
            Self::Invalid(_) => ErrorCode::Validation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    role: UserRole,
    status: UserStatus,
    verified: bool,
    deleted: bool,
    /// Token id -> revoked?
    #[serde(default)]
    tokens: BTreeMap<Uuid, bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountUsers {
    users: BTreeMap<Uuid, Member>,
}

impl AccountUsers {
    fn owner(&self) -> Option<Uuid> {
        self.users
            .iter()
            .find(|(_, m)| m.role == UserRole::Owner)
            .map(|(id, _)| *id)
    }

    fn member(&self, user_id: Uuid) -> Result<&Member, AccountUsersError> {
        self.users
            .get(&user_id)
            .ok_or(AccountUsersError::UnknownUser(user_id))
    }

    fn decide(&self, command: AccountUsersCommand) -> Result<AccountUsersEvent, AccountUsersError> {
        use AccountUsersCommand as C;
        use AccountUsersError::{Conflict, Invalid};
        let conflict = |why: &str| Err(Conflict(why.to_string()));
        match command {
            C::Add { user_id, .. } if self.users.contains_key(&user_id) => {
                conflict("this person is already a user of the account")
            }
            C::Add { role, .. } if role == UserRole::Owner && self.owner().is_some() => {
                conflict("the account already has an owner; transfer ownership instead")
            }
            C::Add { role, .. } if role != UserRole::Owner && self.owner().is_none() => Err(
                Invalid("an account's first user is its owner (role OWNER)".into()),
            ),
            C::Add {
                user_id,
                email,
                name,
                role,
                invite,
            } => Ok(AccountUsersEvent::UserAdded {
                user_id,
                email,
                name,
                role,
                status: if invite {
                    UserStatus::Invited
                } else {
                    UserStatus::Active
                },
            }),
            C::TransferOwnership { to } => {
                let member = self.member(to)?;
                let from = self.owner().ok_or_else(|| {
                    Invalid("the account has no owner yet: add one with role OWNER".into())
                })?;
                if from == to {
                    return conflict("this user is already the owner");
                }
                if member.deleted || member.status != UserStatus::Active {
                    return conflict("ownership goes to an active user only");
                }
                Ok(AccountUsersEvent::OwnershipTransferred { from, to })
            }
            C::User { user_id, action } => self.decide_for(user_id, action),
        }
    }

    fn decide_for(
        &self,
        user_id: Uuid,
        action: UserAction,
    ) -> Result<AccountUsersEvent, AccountUsersError> {
        use AccountUsersEvent as E;
        use UserAction as A;
        let conflict = |why: &str| Err(AccountUsersError::Conflict(why.to_string()));
        let member = self.member(user_id)?;
        let owner_stays = |what: &str| {
            if member.role == UserRole::Owner {
                Err(AccountUsersError::Conflict(format!(
                    "the account's owner cannot be {what}; transfer ownership first"
                )))
            } else {
                Ok(())
            }
        };
        match action {
            A::Restore if !member.deleted => conflict("this user is not deleted"),
            A::Restore => Ok(E::UserRestored { user_id }),
            _ if member.deleted => conflict("this user is deleted; restore them first"),
            A::Activate if member.status == UserStatus::Active => {
                conflict("this user is already active")
            }
            A::Activate => Ok(E::UserActivated { user_id }),
            A::Deactivate if member.status == UserStatus::Inactive => {
                conflict("this user is already inactive")
            }
            A::Deactivate => {
                owner_stays("deactivated")?;
                Ok(E::UserDeactivated { user_id })
            }
            A::ChangeRole { role } if role == member.role => {
                conflict("this user already has this role")
            }
            A::ChangeRole {
                role: UserRole::Owner,
            } => conflict("the owner is made by transferring ownership, not by a role change"),
            A::ChangeRole { role } => {
                owner_stays("given another role")?;
                Ok(E::UserRoleChanged { user_id, role })
            }
            A::VerifyEmail if member.verified => {
                conflict("this user's e-mail address is already verified")
            }
            A::VerifyEmail => Ok(E::UserEmailVerified { user_id }),
            A::RequestPasswordReset => Ok(E::UserPasswordResetRequested { user_id }),
            A::Delete => {
                owner_stays("deleted")?;
                Ok(E::UserDeleted { user_id })
            }
            A::IssueToken { token_id, .. } if member.tokens.contains_key(&token_id) => {
                conflict("this token id is taken")
            }
            A::IssueToken { .. }
                if member.tokens.values().filter(|revoked| !**revoked).count()
                    >= MAX_ACTIVE_TOKENS =>
            {
                Err(AccountUsersError::Conflict(format!(
                    "a user may hold at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first"
                )))
            }
            A::IssueToken {
                token_id,
                token_hash,
                label,
            } => Ok(E::UserTokenIssued {
                user_id,
                token_id,
                token_hash,
                label,
            }),
            A::RevokeToken { token_id } => match member.tokens.get(&token_id) {
                None => Err(AccountUsersError::Invalid(format!(
                    "this user has no token {token_id}"
                ))),
                Some(true) => conflict("this token is already revoked"),
                Some(false) => Ok(E::UserTokenRevoked { user_id, token_id }),
            },
        }
    }
}

impl crate::kit::event::StoredAggregate for AccountUsers {}

impl Aggregate for AccountUsers {
    const TYPE: &'static str = "account_users";
    type Command = AccountUsersCommand;
    type Event = AccountUsersEvent;
    type Error = AccountUsersError;
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
        use AccountUsersEvent as E;
        let mut set = |user_id: Uuid, change: &dyn Fn(&mut Member)| {
            if let Some(member) = self.users.get_mut(&user_id) {
                change(member);
            }
        };
        match event {
            E::UserAdded {
                user_id,
                role,
                status,
                ..
            } => {
                self.users.insert(
                    user_id,
                    Member {
                        role,
                        status,
                        verified: false,
                        deleted: false,
                        tokens: BTreeMap::new(),
                    },
                );
            }
            E::UserActivated { user_id } => set(user_id, &|m| m.status = UserStatus::Active),
            E::UserDeactivated { user_id } => set(user_id, &|m| m.status = UserStatus::Inactive),
            E::UserRoleChanged { user_id, role } => set(user_id, &|m| m.role = role),
            E::UserEmailVerified { user_id } => set(user_id, &|m| m.verified = true),
            E::UserPasswordResetRequested { .. } => {}
            E::UserDeleted { user_id } => set(user_id, &|m| m.deleted = true),
            E::UserRestored { user_id } => set(user_id, &|m| m.deleted = false),
            E::OwnershipTransferred { from, to } => {
                set(from, &|m| m.role = UserRole::Admin);
                set(to, &|m| m.role = UserRole::Owner);
            }
            E::UserTokenIssued {
                user_id, token_id, ..
            } => set(user_id, &|m| {
                m.tokens.insert(token_id, false);
            }),
            E::UserTokenRevoked { user_id, token_id } => set(user_id, &|m| {
                m.tokens.insert(token_id, true);
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type UsersTest = TestFramework<AccountUsers>;

    const OWNER: Uuid = Uuid::from_u128(1);
    const ADA: Uuid = Uuid::from_u128(2);

    fn added(user_id: Uuid, role: UserRole, status: UserStatus) -> AccountUsersEvent {
        AccountUsersEvent::UserAdded {
            user_id,
            email: Email::parse(&format!("u{}@example.com", user_id.as_u128())).unwrap(),
            name: DisplayName::parse("Someone").unwrap(),
            role,
            status,
        }
    }

    fn add(user_id: Uuid, role: UserRole) -> AccountUsersCommand {
        AccountUsersCommand::Add {
            user_id,
            email: Email::parse(&format!("u{}@example.com", user_id.as_u128())).unwrap(),
            name: DisplayName::parse("Someone").unwrap(),
            role,
            invite: false,
        }
    }

    fn team() -> Vec<AccountUsersEvent> {
        vec![
            added(OWNER, UserRole::Owner, UserStatus::Active),
            added(ADA, UserRole::Editor, UserStatus::Active),
        ]
    }

    fn refused(given: Vec<AccountUsersEvent>, command: AccountUsersCommand) -> AccountUsersError {
        let mut users = AccountUsers::default();
        for event in given {
            users.apply(event);
        }
        users.decide(command).expect_err("refused")
    }

    #[tokio::test]
    async fn the_first_user_is_the_owner_and_there_is_only_one() {
        UsersTest::with(())
            .given_no_previous_events()
            .when_async(add(OWNER, UserRole::Owner))
            .await
            .then_expect_events(vec![added(OWNER, UserRole::Owner, UserStatus::Active)]);
        assert_eq!(
            refused(vec![], add(ADA, UserRole::Admin)).code(),
            ErrorCode::Validation
        );
        assert_eq!(
            refused(team(), add(Uuid::from_u128(3), UserRole::Owner)).code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            refused(team(), add(ADA, UserRole::Viewer)).code(),
            ErrorCode::Conflict
        );
    }

    #[test]
    fn the_owner_stays_until_ownership_is_transferred() {
        use AccountUsersCommand as C;
        let act = |user_id, action| C::User { user_id, action };
        for command in [
            act(OWNER, UserAction::Deactivate),
            act(OWNER, UserAction::Delete),
            act(
                OWNER,
                UserAction::ChangeRole {
                    role: UserRole::Admin,
                },
            ),
            act(
                ADA,
                UserAction::ChangeRole {
                    role: UserRole::Owner,
                },
            ),
        ] {
            assert_eq!(refused(team(), command).code(), ErrorCode::Conflict);
        }
        let mut users = AccountUsers::default();
        for event in team() {
            users.apply(event);
        }
        let transferred = users.decide(C::TransferOwnership { to: ADA }).unwrap();
        assert_eq!(
            transferred,
            AccountUsersEvent::OwnershipTransferred {
                from: OWNER,
                to: ADA
            }
        );
        users.apply(transferred);
        assert_eq!(users.owner(), Some(ADA));
        assert!(users.decide(act(OWNER, UserAction::Deactivate)).is_ok());
    }

    #[test]
    fn deleted_users_must_be_restored_before_anything_else() {
        use AccountUsersCommand as C;
        let act = |user_id, action| C::User { user_id, action };
        let mut given = team();
        given.push(AccountUsersEvent::UserDeleted { user_id: ADA });
        assert_eq!(
            refused(given.clone(), act(ADA, UserAction::Activate)).code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            refused(given.clone(), C::TransferOwnership { to: ADA }).code(),
            ErrorCode::Conflict
        );
        let mut users = AccountUsers::default();
        for event in given {
            users.apply(event);
        }
        assert!(users.decide(act(ADA, UserAction::Restore)).is_ok());
        assert_eq!(
            refused(team(), act(ADA, UserAction::Restore)).code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            refused(team(), act(Uuid::from_u128(9), UserAction::VerifyEmail)).code(),
            ErrorCode::NotFound
        );
    }
}

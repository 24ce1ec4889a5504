//! Reserves an e-mail address for one platform user, so an address belongs to at most one
//! person on the whole platform. The aggregate id is the user's id, derived from the address
//! ([`user_id_for`]), so two concurrent claims of one address meet on one aggregate and the
//! store's optimistic lock lets only one win.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::Email;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const USER_NAMESPACE: Uuid = Uuid::from_u128(0x9a3d_5c21_07e4_4f8b_b6d2_3e71_c05a_8f94);

/// The id of the platform user with this address (case-insensitive).
pub fn user_id_for(email: &Email) -> Uuid {
    Uuid::new_v5(&USER_NAMESPACE, email.as_str().to_lowercase().as_bytes())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEmailClaimCommand {
    /// Safe to repeat for the same account.
    Claim { account_id: Uuid },
    /// Gives the address back, when the user it was claimed for could not be added after all
    /// (two additions to one account raced). Only the claiming account releases it.
    Release { account_id: Uuid },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum UserEmailClaimEvent {
    UserEmailClaimed { account_id: Uuid },
    UserEmailReleased { account_id: Uuid },
}

crate::stored_event!(UserEmailClaimEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserEmailClaimError {
    /// `CONFLICT`
    #[error("a platform user with this e-mail address already exists")]
    Taken,
}

impl Coded for UserEmailClaimError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Conflict
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserEmailClaim {
    claimed_by: Option<Uuid>,
}

impl crate::kit::event::StoredAggregate for UserEmailClaim {}

impl Aggregate for UserEmailClaim {
    const TYPE: &'static str = "user_email_claim";
    type Command = UserEmailClaimCommand;
    type Event = UserEmailClaimEvent;
    type Error = UserEmailClaimError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use UserEmailClaimCommand as C;
        let event = match (command, self.claimed_by) {
            (C::Claim { account_id }, None) => UserEmailClaimEvent::UserEmailClaimed { account_id },
            (C::Claim { account_id }, Some(owner)) if owner == account_id => return Ok(()),
            (C::Claim { .. }, Some(_)) => return Err(UserEmailClaimError::Taken),
            (C::Release { account_id }, Some(owner)) if owner == account_id => {
                UserEmailClaimEvent::UserEmailReleased { account_id }
            }
            (C::Release { .. }, _) => return Ok(()),
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.claimed_by = match event {
            UserEmailClaimEvent::UserEmailClaimed { account_id } => Some(account_id),
            UserEmailClaimEvent::UserEmailReleased { .. } => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type ClaimTest = TestFramework<UserEmailClaim>;

    #[tokio::test]
    async fn an_address_is_claimed_once_and_again_only_by_the_same_account() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let claimed = UserEmailClaimEvent::UserEmailClaimed { account_id: a };
        ClaimTest::with(())
            .given_no_previous_events()
            .when_async(UserEmailClaimCommand::Claim { account_id: a })
            .await
            .then_expect_events(vec![claimed.clone()]);
        ClaimTest::with(())
            .given(vec![claimed.clone()])
            .when_async(UserEmailClaimCommand::Claim { account_id: a })
            .await
            .then_expect_events(vec![]);
        ClaimTest::with(())
            .given(vec![claimed])
            .when_async(UserEmailClaimCommand::Claim { account_id: b })
            .await
            .then_expect_error(UserEmailClaimError::Taken);
    }

    #[tokio::test]
    async fn only_the_claiming_account_releases_an_address() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let claimed = UserEmailClaimEvent::UserEmailClaimed { account_id: a };
        ClaimTest::with(())
            .given(vec![claimed.clone()])
            .when_async(UserEmailClaimCommand::Release { account_id: b })
            .await
            .then_expect_events(vec![]);
        ClaimTest::with(())
            .given(vec![claimed])
            .when_async(UserEmailClaimCommand::Release { account_id: a })
            .await
            .then_expect_events(vec![UserEmailClaimEvent::UserEmailReleased {
                account_id: a,
            }]);
    }

    #[test]
    fn the_same_address_in_any_case_is_the_same_user() {
        let a = Email::parse("Ada@Example.com").unwrap();
        let b = Email::parse("ada@example.com").unwrap();
        assert_eq!(user_id_for(&a), user_id_for(&b));
    }
}

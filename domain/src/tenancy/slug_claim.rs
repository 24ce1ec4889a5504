//! Reserves a slug for one account. The aggregate id is the slug itself, so two concurrent
//! claims of one slug meet on one aggregate and the store's optimistic lock lets only one win.

use crate::kit::error::{Coded, ErrorCode};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SlugClaimCommand {
    /// Safe to repeat for the same account.
    Claim { account_id: Uuid },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum SlugClaimEvent {
    SlugClaimed { account_id: Uuid },
}

crate::stored_event!(SlugClaimEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugClaimError {
    /// `CONFLICT`
    #[error("slug is taken")]
    Taken,
}

impl Coded for SlugClaimError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Taken => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlugClaim {
    claimed_by: Option<Uuid>,
}

impl SlugClaim {
    pub fn claimed_by(&self) -> Option<Uuid> {
        self.claimed_by
    }

    fn decide(&self, command: SlugClaimCommand) -> Result<Option<SlugClaimEvent>, SlugClaimError> {
        match command {
            SlugClaimCommand::Claim { account_id } => match self.claimed_by {
                None => Ok(Some(SlugClaimEvent::SlugClaimed { account_id })),
                Some(owner) if owner == account_id => Ok(None),
                Some(_) => Err(SlugClaimError::Taken),
            },
        }
    }
}

impl crate::kit::event::StoredAggregate for SlugClaim {}

impl Aggregate for SlugClaim {
    const TYPE: &'static str = "slug_claim";
    type Command = SlugClaimCommand;
    type Event = SlugClaimEvent;
    type Error = SlugClaimError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SlugClaimEvent::SlugClaimed { account_id } => self.claimed_by = Some(account_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type SlugClaimTest = TestFramework<SlugClaim>;

    #[tokio::test]
    async fn a_free_slug_is_claimed_for_the_account() {
        let account_id = Uuid::from_u128(1);
        SlugClaimTest::with(())
            .given_no_previous_events()
            .when_async(SlugClaimCommand::Claim { account_id })
            .await
            .then_expect_events(vec![SlugClaimEvent::SlugClaimed { account_id }]);
    }

    #[tokio::test]
    async fn claiming_a_slug_again_for_the_same_account_records_nothing() {
        let account_id = Uuid::from_u128(1);
        SlugClaimTest::with(())
            .given(vec![SlugClaimEvent::SlugClaimed { account_id }])
            .when_async(SlugClaimCommand::Claim { account_id })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn a_slug_claimed_by_another_account_is_taken() {
        SlugClaimTest::with(())
            .given(vec![SlugClaimEvent::SlugClaimed {
                account_id: Uuid::from_u128(1),
            }])
            .when_async(SlugClaimCommand::Claim {
                account_id: Uuid::from_u128(2),
            })
            .await
            .then_expect_error_message("slug is taken");
    }
}

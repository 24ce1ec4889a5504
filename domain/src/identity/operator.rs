//! Operators: the people who run this backend, and the bearer tokens they authenticate with.
//!
//! An operator is a person (optionally a superuser) or a service principal: the platform itself,
//! which may only report usage. An operator's id is derived from their e-mail address, so registering the same address twice,
//! even concurrently, lands on one aggregate and the second registration is refused.
//! Only a SHA-256 hash of each token is ever recorded; the token itself is shown once, at issue.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::{DisplayName, Email, Label};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

const OPERATOR_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a7e_93d4_4b1f_a0c8_5e2d_7b9a_1c30);

/// How many live tokens one operator may hold: enough for laptops and scripts, few enough to audit.
pub const MAX_ACTIVE_TOKENS: usize = 20;

/// The hex SHA-256 of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn parse(hex: &str) -> Result<Self, OperatorError> {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex.to_ascii_lowercase()))
        } else {
            Err(OperatorError::Invalid(
                "a token hash is 64 hexadecimal characters".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OperatorCommand {
    Register {
        email: Email,
        display_name: DisplayName,
        superuser: bool,
        /// A machine principal (the platform), not a person.
        service: bool,
    },
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
pub enum OperatorEvent {
    OperatorRegistered {
        email: Email,
        display_name: DisplayName,
        superuser: bool,
        #[serde(default)]
        service: bool,
    },
    OperatorTokenIssued {
        token_id: Uuid,
        token_hash: TokenHash,
        label: Label,
    },
    OperatorTokenRevoked {
        token_id: Uuid,
    },
}

crate::stored_event!(OperatorEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("an operator with this e-mail address is already registered")]
    AlreadyRegistered,
    /// `NOT_FOUND`
    #[error("no such operator")]
    NotFound,
    /// `NOT_FOUND`
    #[error("this operator has no token {0}")]
    UnknownToken(Uuid),
    /// `CONFLICT`
    #[error("token {0} already exists")]
    DuplicateToken(Uuid),
    /// `CONFLICT`
    #[error("token {0} is already revoked")]
    TokenAlreadyRevoked(Uuid),
    /// `CONFLICT`
    #[error("an operator may hold at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first")]
    TooManyTokens,
}

impl Coded for OperatorError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotFound | Self::UnknownToken(_) => ErrorCode::NotFound,
            Self::AlreadyRegistered
            | Self::DuplicateToken(_)
            | Self::TokenAlreadyRevoked(_)
            | Self::TooManyTokens => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    registered: bool,
    email: Option<Email>,
    superuser: bool,
    /// Token id -> revoked?
    tokens: BTreeMap<Uuid, bool>,
}

impl Operator {
    /// The aggregate id of the operator with this e-mail address.
    pub fn id_for(email: &Email) -> Uuid {
        Uuid::new_v5(&OPERATOR_NAMESPACE, email.as_str().as_bytes())
    }

    fn active_tokens(&self) -> usize {
        self.tokens.values().filter(|revoked| !**revoked).count()
    }

    fn decide(&self, command: OperatorCommand) -> Result<OperatorEvent, OperatorError> {
        use OperatorCommand as C;
        match command {
            C::Register { .. } if self.registered => Err(OperatorError::AlreadyRegistered),
            C::Register {
                superuser: true,
                service: true,
                ..
            } => Err(OperatorError::Invalid(
                "a service principal cannot be a superuser".into(),
            )),
            C::Register {
                email,
                display_name,
                superuser,
                service,
            } => Ok(OperatorEvent::OperatorRegistered {
                email,
                display_name,
                superuser,
                service,
            }),
            _ if !self.registered => Err(OperatorError::NotFound),
            C::IssueToken { token_id, .. } if self.tokens.contains_key(&token_id) => {
                Err(OperatorError::DuplicateToken(token_id))
            }
            C::IssueToken { .. } if self.active_tokens() >= MAX_ACTIVE_TOKENS => {
                Err(OperatorError::TooManyTokens)
            }
            C::IssueToken {
                token_id,
                token_hash,
                label,
            } => Ok(OperatorEvent::OperatorTokenIssued {
                token_id,
                token_hash,
                label,
            }),
            C::RevokeToken { token_id } => match self.tokens.get(&token_id) {
                None => Err(OperatorError::UnknownToken(token_id)),
                Some(true) => Err(OperatorError::TokenAlreadyRevoked(token_id)),
                Some(false) => Ok(OperatorEvent::OperatorTokenRevoked { token_id }),
            },
        }
    }
}

impl crate::kit::event::StoredAggregate for Operator {}

impl Aggregate for Operator {
    const TYPE: &'static str = "operator";
    type Command = OperatorCommand;
    type Event = OperatorEvent;
    type Error = OperatorError;
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
            OperatorEvent::OperatorRegistered {
                email, superuser, ..
            } => {
                self.registered = true;
                self.email = Some(email);
                self.superuser = superuser;
            }
            OperatorEvent::OperatorTokenIssued { token_id, .. } => {
                self.tokens.insert(token_id, false);
            }
            OperatorEvent::OperatorTokenRevoked { token_id } => {
                self.tokens.insert(token_id, true);
            }
        }
    }
}

#[cfg(test)]
mod aggregate_tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type OperatorTest = TestFramework<Operator>;

    fn registered() -> OperatorEvent {
        OperatorEvent::OperatorRegistered {
            email: Email::parse("ada@example.com").unwrap(),
            display_name: DisplayName::parse("Ada").unwrap(),
            superuser: true,
            service: false,
        }
    }

    fn hash() -> TokenHash {
        TokenHash::parse(&"ab".repeat(32)).unwrap()
    }

    fn issued(token_id: Uuid) -> OperatorEvent {
        OperatorEvent::OperatorTokenIssued {
            token_id,
            token_hash: hash(),
            label: Label::parse("laptop").unwrap(),
        }
    }

    fn issue(token_id: Uuid) -> OperatorCommand {
        OperatorCommand::IssueToken {
            token_id,
            token_hash: hash(),
            label: Label::parse("laptop").unwrap(),
        }
    }

    #[tokio::test]
    async fn registering_a_new_operator_records_who_they_are() {
        OperatorTest::with(())
            .given_no_previous_events()
            .when_async(OperatorCommand::Register {
                email: Email::parse("ada@example.com").unwrap(),
                display_name: DisplayName::parse("Ada").unwrap(),
                superuser: true,
                service: false,
            })
            .await
            .then_expect_events(vec![registered()]);
    }

    #[tokio::test]
    async fn a_service_principal_cannot_be_a_superuser() {
        OperatorTest::with(())
            .given_no_previous_events()
            .when_async(OperatorCommand::Register {
                email: Email::parse("platform@example.com").unwrap(),
                display_name: DisplayName::parse("Platform").unwrap(),
                superuser: true,
                service: true,
            })
            .await
            .then_expect_error(OperatorError::Invalid(
                "a service principal cannot be a superuser".into(),
            ));
    }

    #[tokio::test]
    async fn registering_the_same_operator_twice_is_a_conflict() {
        OperatorTest::with(())
            .given(vec![registered()])
            .when_async(OperatorCommand::Register {
                email: Email::parse("ada@example.com").unwrap(),
                display_name: DisplayName::parse("Ada again").unwrap(),
                superuser: false,
                service: false,
            })
            .await
            .then_expect_error(OperatorError::AlreadyRegistered);
    }

    #[tokio::test]
    async fn a_token_can_be_issued_to_a_registered_operator() {
        let id = Uuid::from_u128(1);
        OperatorTest::with(())
            .given(vec![registered()])
            .when_async(issue(id))
            .await
            .then_expect_events(vec![issued(id)]);
    }

    #[tokio::test]
    async fn no_token_is_issued_to_an_unknown_operator() {
        OperatorTest::with(())
            .given_no_previous_events()
            .when_async(issue(Uuid::from_u128(1)))
            .await
            .then_expect_error(OperatorError::NotFound);
    }

    #[tokio::test]
    async fn a_token_id_is_never_reused() {
        let id = Uuid::from_u128(1);
        OperatorTest::with(())
            .given(vec![registered(), issued(id)])
            .when_async(issue(id))
            .await
            .then_expect_error(OperatorError::DuplicateToken(id));
    }

    #[tokio::test]
    async fn active_tokens_are_capped() {
        let mut given = vec![registered()];
        given.extend((0..MAX_ACTIVE_TOKENS as u128).map(|n| issued(Uuid::from_u128(n))));
        OperatorTest::with(())
            .given(given)
            .when_async(issue(Uuid::from_u128(999)))
            .await
            .then_expect_error(OperatorError::TooManyTokens);
    }

    #[tokio::test]
    async fn a_token_is_revoked_once() {
        let id = Uuid::from_u128(1);
        OperatorTest::with(())
            .given(vec![registered(), issued(id)])
            .when_async(OperatorCommand::RevokeToken { token_id: id })
            .await
            .then_expect_events(vec![OperatorEvent::OperatorTokenRevoked { token_id: id }]);
        OperatorTest::with(())
            .given(vec![
                registered(),
                issued(id),
                OperatorEvent::OperatorTokenRevoked { token_id: id },
            ])
            .when_async(OperatorCommand::RevokeToken { token_id: id })
            .await
            .then_expect_error(OperatorError::TokenAlreadyRevoked(id));
    }

    #[tokio::test]
    async fn revoking_an_unknown_token_is_not_found() {
        let id = Uuid::from_u128(7);
        OperatorTest::with(())
            .given(vec![registered()])
            .when_async(OperatorCommand::RevokeToken { token_id: id })
            .await
            .then_expect_error(OperatorError::UnknownToken(id));
    }

    #[test]
    fn the_same_email_always_maps_to_the_same_operator() {
        let a = Email::parse("Ada@Example.com").unwrap();
        let b = Email::parse("ada@example.com").unwrap();
        assert_eq!(Operator::id_for(&a), Operator::id_for(&b));
    }

    #[test]
    fn token_hashes_must_be_sha256_hex() {
        assert!(TokenHash::parse("abc").is_err());
        assert!(TokenHash::parse(&"zz".repeat(32)).is_err());
    }
}

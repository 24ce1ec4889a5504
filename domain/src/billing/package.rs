//! Credit packages: a number of credits sold at a price, bought with a manual payment.
//!
//! A package's terms (name, credits, price) are versioned like a plan's: a payment for a package
//! names the version it was recorded against, and grants that version's credits whatever the
//! package says later.
//!
//! Decisions:
//! - A package sells at least one credit, for a positive price: a free package would be a
//!   manual adjustment without a reason.
//! - Revising to the terms in force, activating an active package and deactivating an inactive
//!   one succeed and record nothing.
//! - Inactive packages are kept (payments name them); they take no new payments.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{Credits, Currency, Money, MAX_CREDIT_AMOUNT, MAX_PRICE_MINOR_UNITS};
use crate::kit::values::{InvalidValue, PackageName};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A package as it stood at one version: what a payment for it buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVersionRef {
    pub package_id: Uuid,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageTerms {
    pub name: PackageName,
    pub credits: Credits,
    pub price: Money,
}

impl PackageTerms {
    fn check(&self) -> Result<(), PackageError> {
        let credits = self.credits.get();
        if !(1..=MAX_CREDIT_AMOUNT).contains(&credits) {
            return Err(PackageError::Invalid(format!(
                "a package sells between 1 and {MAX_CREDIT_AMOUNT} credits, got {credits}"
            )));
        }
        let price = self.price.minor_units;
        if !(1..=MAX_PRICE_MINOR_UNITS).contains(&price) {
            return Err(PackageError::Invalid(format!(
                "a package's price must be between 1 and {MAX_PRICE_MINOR_UNITS} minor units, got {price}"
            )));
        }
        Ok(())
    }
}

/// What a revision changes; every field left `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChanges {
    pub name: Option<PackageName>,
    pub credits: Option<Credits>,
    pub price_minor: Option<i64>,
    pub currency: Option<Currency>,
}

impl PackageChanges {
    fn applied_to(&self, terms: &PackageTerms) -> PackageTerms {
        PackageTerms {
            name: self.name.clone().unwrap_or_else(|| terms.name.clone()),
            credits: self.credits.unwrap_or(terms.credits),
            price: Money::new(
                self.price_minor.unwrap_or(terms.price.minor_units),
                self.currency
                    .clone()
                    .unwrap_or_else(|| terms.price.currency.clone()),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PackageCommand {
    Create {
        terms: PackageTerms,
    },
    /// Safe to repeat: changes that change nothing record nothing.
    Revise {
        changes: PackageChanges,
    },
    /// Safe to repeat.
    Activate,
    /// Safe to repeat.
    Deactivate,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum PackageEvent {
    /// Version 1, active.
    PackageCreated {
        terms: PackageTerms,
    },
    PackageRevised {
        version: i32,
        terms: PackageTerms,
    },
    PackageActivated,
    PackageDeactivated,
}

crate::stored_event!(PackageEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this package already exists")]
    AlreadyExists,
    /// `NOT_FOUND`
    #[error("no such credit package")]
    NotFound,
}

impl From<InvalidValue> for PackageError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for PackageError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::AlreadyExists => ErrorCode::Conflict,
            Self::NotFound => ErrorCode::NotFound,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Current {
    version: i32,
    terms: PackageTerms,
    active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditPackage {
    current: Option<Current>,
}

impl CreditPackage {
    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: PackageCommand) -> Result<Option<PackageEvent>, PackageError> {
        use PackageCommand as C;
        use PackageEvent as E;
        let Some(current) = &self.current else {
            let C::Create { terms } = command else {
                return Err(PackageError::NotFound);
            };
            terms.check()?;
            return Ok(Some(E::PackageCreated { terms }));
        };
        match command {
            C::Create { .. } => Err(PackageError::AlreadyExists),
            C::Revise { changes } => {
                let terms = changes.applied_to(&current.terms);
                if terms == current.terms {
                    return Ok(None);
                }
                terms.check()?;
                Ok(Some(E::PackageRevised {
                    version: current.version + 1,
                    terms,
                }))
            }
            C::Activate if current.active => Ok(None),
            C::Activate => Ok(Some(E::PackageActivated)),
            C::Deactivate if !current.active => Ok(None),
            C::Deactivate => Ok(Some(E::PackageDeactivated)),
        }
    }
}

impl crate::kit::event::StoredAggregate for CreditPackage {}

impl Aggregate for CreditPackage {
    const TYPE: &'static str = "credit_package";
    type Command = PackageCommand;
    type Event = PackageEvent;
    type Error = PackageError;
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
            PackageEvent::PackageCreated { terms } => {
                self.current = Some(Current {
                    version: 1,
                    terms,
                    active: true,
                });
            }
            PackageEvent::PackageRevised { version, terms } => {
                if let Some(current) = &mut self.current {
                    current.version = version;
                    current.terms = terms;
                }
            }
            PackageEvent::PackageActivated | PackageEvent::PackageDeactivated => {
                if let Some(current) = &mut self.current {
                    current.active = matches!(event, PackageEvent::PackageActivated);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type PackageTest = TestFramework<CreditPackage>;

    fn terms(credits: i64, cents: i64) -> PackageTerms {
        PackageTerms {
            name: PackageName::parse("5,000 credits").unwrap(),
            credits: Credits::new(credits),
            price: Money::new(cents, Currency::parse("USD").unwrap()),
        }
    }

    fn created() -> PackageEvent {
        PackageEvent::PackageCreated {
            terms: terms(5_000, 4_500),
        }
    }

    #[tokio::test]
    async fn creating_a_package_records_its_terms() {
        PackageTest::with(())
            .given_no_previous_events()
            .when_async(PackageCommand::Create {
                terms: terms(5_000, 4_500),
            })
            .await
            .then_expect_events(vec![created()]);
    }

    #[tokio::test]
    async fn a_package_sells_credits_for_money() {
        for bad in [
            terms(0, 4_500),
            terms(-1, 4_500),
            terms(MAX_CREDIT_AMOUNT + 1, 4_500),
            terms(5_000, 0),
            terms(5_000, -1),
            terms(5_000, MAX_PRICE_MINOR_UNITS + 1),
        ] {
            let result = PackageTest::with(())
                .given_no_previous_events()
                .when_async(PackageCommand::Create { terms: bad.clone() })
                .await
                .inspect_result();
            assert!(matches!(result, Err(PackageError::Invalid(_))), "{bad:?}");
            let result = PackageTest::with(())
                .given(vec![created()])
                .when_async(PackageCommand::Revise {
                    changes: PackageChanges {
                        credits: Some(bad.credits),
                        price_minor: Some(bad.price.minor_units),
                        ..PackageChanges::default()
                    },
                })
                .await
                .inspect_result();
            assert!(matches!(result, Err(PackageError::Invalid(_))), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn revising_records_the_next_version_and_nothing_when_nothing_changes() {
        PackageTest::with(())
            .given(vec![created()])
            .when_async(PackageCommand::Revise {
                changes: PackageChanges {
                    price_minor: Some(3_900),
                    ..PackageChanges::default()
                },
            })
            .await
            .then_expect_events(vec![PackageEvent::PackageRevised {
                version: 2,
                terms: terms(5_000, 3_900),
            }]);
        PackageTest::with(())
            .given(vec![created()])
            .when_async(PackageCommand::Revise {
                changes: PackageChanges {
                    credits: Some(Credits::new(5_000)),
                    ..PackageChanges::default()
                },
            })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn activation_is_safe_to_repeat_and_unknown_packages_are_not_found() {
        PackageTest::with(())
            .given(vec![created()])
            .when_async(PackageCommand::Deactivate)
            .await
            .then_expect_events(vec![PackageEvent::PackageDeactivated]);
        PackageTest::with(())
            .given(vec![created(), PackageEvent::PackageDeactivated])
            .when_async(PackageCommand::Deactivate)
            .await
            .then_expect_events(vec![]);
        PackageTest::with(())
            .given(vec![created(), PackageEvent::PackageDeactivated])
            .when_async(PackageCommand::Activate)
            .await
            .then_expect_events(vec![PackageEvent::PackageActivated]);
        PackageTest::with(())
            .given(vec![created()])
            .when_async(PackageCommand::Activate)
            .await
            .then_expect_events(vec![]);
        PackageTest::with(())
            .given_no_previous_events()
            .when_async(PackageCommand::Activate)
            .await
            .then_expect_error(PackageError::NotFound);
        PackageTest::with(())
            .given(vec![created()])
            .when_async(PackageCommand::Create { terms: terms(1, 1) })
            .await
            .then_expect_error(PackageError::AlreadyExists);
    }
}

//! Credit costs: how many credits one unit of an operation type costs (a keyword researched, a
//! cluster built, an idea, a thousand words generated, an image), versioned by the time each
//! price takes effect. A consumption priced by the platform records the version that priced it.
//!
//! Decisions:
//! - One aggregate per operation type, so its versions are decided together: a new version must
//!   take effect after every other one (versions never overlap, and the price in force at any
//!   moment is the latest version effective by then).
//! - A new price takes effect [`LEAD`] after it is set at the earliest, except an operation's
//!   first price, which nothing can have been priced by before. The lead keeps a consumption in
//!   flight from being priced by a version it could not have seen: the price in force at a
//!   moment is settled well before that moment arrives.
//! - A version not yet in force may be withdrawn (a mistake caught in time); one in force, or
//!   past, stays, because consumptions name it.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{Credits, MAX_CREDIT_AMOUNT};
use crate::kit::values::{InvalidValue, OperationType};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long after it is set a new price may take effect, at the earliest.
pub const LEAD: Duration = Duration::minutes(1);

const COST_NAMESPACE: Uuid = Uuid::from_u128(0x9c43_0e7a_5d21_4b8f_a6c9_71e2_f05b_3d18);

/// The operation types the platform starts with, and credits per unit.
pub fn builtin() -> Vec<(OperationType, Credits)> {
    [
        ("keyword_research", 1),
        ("keyword_clustering", 3),
        ("idea_generation", 6),
        ("content_generation", 12),
        ("image_prompt_generation", 2),
        ("image_generation", 20),
        ("content_optimization", 8),
    ]
    .into_iter()
    .map(|(operation, credits)| {
        (
            OperationType::parse(operation).expect("a valid operation type"),
            Credits::new(credits),
        )
    })
    .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CreditCostCommand {
    /// Prices `operation` at `credits_per_unit` from `effective_from`, or as soon as allowed
    /// when `None` (at once for a first price, after [`LEAD`] otherwise). `now` is when it is set.
    Schedule {
        operation: OperationType,
        credits_per_unit: Credits,
        effective_from: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    },
    /// Withdraws a version that is not in force yet.
    Withdraw { version: i32, now: DateTime<Utc> },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum CreditCostEvent {
    CreditCostScheduled {
        operation: OperationType,
        version: i32,
        credits_per_unit: Credits,
        effective_from: DateTime<Utc>,
    },
    CreditCostWithdrawn {
        operation: OperationType,
        version: i32,
    },
}

crate::stored_event!(CreditCostEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCostError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error(
        "version {version} already takes effect at {effective_from}; a new price must take effect after it"
    )]
    Overlaps {
        version: i32,
        effective_from: DateTime<Utc>,
    },
    /// `NOT_FOUND`
    #[error("this operation type has no version {0}")]
    NoSuchVersion(i32),
    /// `CONFLICT`
    #[error("version {0} is already in force (or withdrawn); only a price not yet in force can be withdrawn")]
    NotWithdrawable(i32),
}

impl From<InvalidValue> for CreditCostError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for CreditCostError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NoSuchVersion(_) => ErrorCode::NotFound,
            Self::Overlaps { .. } | Self::NotWithdrawable(_) => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Version {
    version: i32,
    credits_per_unit: Credits,
    effective_from: DateTime<Utc>,
    withdrawn: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreditCost {
    operation: Option<OperationType>,
    versions: Vec<Version>,
}

impl CreditCost {
    /// The aggregate id of an operation type's prices.
    pub fn id_for(operation: &OperationType) -> Uuid {
        Uuid::new_v5(&COST_NAMESPACE, operation.as_str().as_bytes())
    }

    fn live(&self) -> impl Iterator<Item = &Version> {
        self.versions.iter().filter(|v| !v.withdrawn)
    }

    fn decide(&self, command: CreditCostCommand) -> Result<CreditCostEvent, CreditCostError> {
        match command {
            CreditCostCommand::Schedule {
                operation,
                credits_per_unit,
                effective_from,
                now,
            } => {
                let credits = credits_per_unit.get();
                if !(1..=MAX_CREDIT_AMOUNT).contains(&credits) {
                    return Err(CreditCostError::Invalid(format!(
                        "credits per unit must be between 1 and {MAX_CREDIT_AMOUNT}, got {credits}"
                    )));
                }
                let latest = self.live().last();
                let effective_from = match (effective_from, latest) {
                    (Some(at), _) => crate::kit::time::filter_date("effectiveFrom", at)?,
                    (None, None) => now,
                    (None, Some(_)) => now + LEAD,
                };
                if let Some(latest) = latest {
                    if effective_from <= latest.effective_from {
                        return Err(CreditCostError::Overlaps {
                            version: latest.version,
                            effective_from: latest.effective_from,
                        });
                    }
                    if effective_from < now + LEAD {
                        return Err(CreditCostError::Invalid(format!(
                            "a new price takes effect {} seconds after it is set at the earliest \
                             (from {} on)",
                            LEAD.num_seconds(),
                            now + LEAD
                        )));
                    }
                }
                Ok(CreditCostEvent::CreditCostScheduled {
                    operation,
                    version: self.versions.len() as i32 + 1,
                    credits_per_unit,
                    effective_from,
                })
            }
            CreditCostCommand::Withdraw { version, now } => {
                let found = self.versions.iter().find(|v| v.version == version);
                let (Some(found), Some(operation)) = (found, &self.operation) else {
                    return Err(CreditCostError::NoSuchVersion(version));
                };
                if found.withdrawn || found.effective_from <= now {
                    return Err(CreditCostError::NotWithdrawable(version));
                }
                Ok(CreditCostEvent::CreditCostWithdrawn {
                    operation: operation.clone(),
                    version,
                })
            }
        }
    }
}

impl crate::kit::event::StoredAggregate for CreditCost {}

impl Aggregate for CreditCost {
    const TYPE: &'static str = "credit_cost";
    type Command = CreditCostCommand;
    type Event = CreditCostEvent;
    type Error = CreditCostError;
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
            CreditCostEvent::CreditCostScheduled {
                operation,
                version,
                credits_per_unit,
                effective_from,
            } => {
                self.operation = Some(operation);
                self.versions.push(Version {
                    version,
                    credits_per_unit,
                    effective_from,
                    withdrawn: false,
                });
            }
            CreditCostEvent::CreditCostWithdrawn { version, .. } => {
                if let Some(found) = self.versions.iter_mut().find(|v| v.version == version) {
                    found.withdrawn = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    type CostTest = TestFramework<CreditCost>;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0).unwrap()
    }

    fn op() -> OperationType {
        OperationType::parse("content_generation").unwrap()
    }

    fn schedule(
        credits: i64,
        effective_from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CreditCostCommand {
        CreditCostCommand::Schedule {
            operation: op(),
            credits_per_unit: Credits::new(credits),
            effective_from: Some(effective_from),
            now,
        }
    }

    fn scheduled(version: i32, credits: i64, effective_from: DateTime<Utc>) -> CreditCostEvent {
        CreditCostEvent::CreditCostScheduled {
            operation: op(),
            version,
            credits_per_unit: Credits::new(credits),
            effective_from,
        }
    }

    #[tokio::test]
    async fn an_operations_first_price_may_take_effect_at_once() {
        CostTest::with(())
            .given_no_previous_events()
            .when_async(schedule(12, at(10), at(10)))
            .await
            .then_expect_events(vec![scheduled(1, 12, at(10))]);
    }

    #[tokio::test]
    async fn a_later_price_takes_effect_after_the_lead_and_after_every_other_version() {
        CostTest::with(())
            .given(vec![scheduled(1, 12, at(8))])
            .when_async(schedule(15, at(12), at(10)))
            .await
            .then_expect_events(vec![scheduled(2, 15, at(12))]);
        let result = CostTest::with(())
            .given(vec![scheduled(1, 12, at(8))])
            .when_async(schedule(15, at(10), at(10)))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(CreditCostError::Invalid(_))),
            "{result:?}"
        );
        CostTest::with(())
            .given(vec![scheduled(1, 12, at(8)), scheduled(2, 15, at(14))])
            .when_async(schedule(18, at(13), at(10)))
            .await
            .then_expect_error(CreditCostError::Overlaps {
                version: 2,
                effective_from: at(14),
            });
    }

    #[tokio::test]
    async fn a_price_without_a_date_takes_effect_as_soon_as_allowed() {
        let soon = |given: Vec<CreditCostEvent>, expected: CreditCostEvent| async move {
            CostTest::with(())
                .given(given)
                .when_async(CreditCostCommand::Schedule {
                    operation: op(),
                    credits_per_unit: Credits::new(12),
                    effective_from: None,
                    now: at(10),
                })
                .await
                .then_expect_events(vec![expected]);
        };
        soon(vec![], scheduled(1, 12, at(10))).await;
        soon(
            vec![scheduled(1, 9, at(8))],
            scheduled(2, 12, at(10) + LEAD),
        )
        .await;
    }

    #[tokio::test]
    async fn prices_are_positive_and_bounded() {
        for bad in [0, -1, MAX_CREDIT_AMOUNT + 1] {
            let result = CostTest::with(())
                .given_no_previous_events()
                .when_async(schedule(bad, at(10), at(10)))
                .await
                .inspect_result();
            assert!(matches!(result, Err(CreditCostError::Invalid(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn only_a_price_not_yet_in_force_is_withdrawn_and_then_no_longer_blocks() {
        let given = vec![scheduled(1, 12, at(8)), scheduled(2, 15, at(14))];
        CostTest::with(())
            .given(given.clone())
            .when_async(CreditCostCommand::Withdraw {
                version: 2,
                now: at(10),
            })
            .await
            .then_expect_events(vec![CreditCostEvent::CreditCostWithdrawn {
                operation: op(),
                version: 2,
            }]);
        CostTest::with(())
            .given(given.clone())
            .when_async(CreditCostCommand::Withdraw {
                version: 1,
                now: at(10),
            })
            .await
            .then_expect_error(CreditCostError::NotWithdrawable(1));
        CostTest::with(())
            .given(given.clone())
            .when_async(CreditCostCommand::Withdraw {
                version: 3,
                now: at(10),
            })
            .await
            .then_expect_error(CreditCostError::NoSuchVersion(3));
        let mut withdrawn = given;
        withdrawn.push(CreditCostEvent::CreditCostWithdrawn {
            operation: op(),
            version: 2,
        });
        CostTest::with(())
            .given(withdrawn)
            .when_async(schedule(13, at(12), at(10)))
            .await
            .then_expect_events(vec![scheduled(3, 13, at(12))]);
    }

    #[test]
    fn the_built_in_operations_are_distinct_and_priced() {
        let costs = builtin();
        let ids: std::collections::BTreeSet<Uuid> =
            costs.iter().map(|(op, _)| CreditCost::id_for(op)).collect();
        assert_eq!(ids.len(), costs.len());
        assert!(costs.iter().all(|(_, c)| c.get() > 0));
    }
}

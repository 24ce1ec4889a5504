//! Plans: what an account pays each month and what it gets for it.
//!
//! A plan is identified by its code (`free`, `starter`, a clone's `growth-nonprofit`); its
//! terms (name, price, included credits, limits, whether accounts may override AI settings)
//! are **versioned**: every revision records the complete terms as a new version, so a
//! subscription that names `(plan, version)` keeps exactly what it signed up for until its next
//! period, and an auditor reads any version whole, without folding diffs.
//!
//! Decisions:
//! - The four tiers ([`PlanTier`]) exist from the first start ([`builtin`]); more plans are
//!   clones of an existing version, with modifications (superusers).
//! - A free plan (price zero, or the `free` plan itself) never allows AI-setting overrides:
//!   overrides spend the platform's provider keys on an account's own choices, which only a
//!   paying plan covers.
//! - Revising to the terms already in force, activating an active plan and deactivating an
//!   inactive one succeed and record nothing (bulk actions report them as no-ops).
//! - The Free plan cannot be deactivated: it is where accounts start and where they fall back.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{Credits, Currency, Money, MAX_CREDIT_AMOUNT, MAX_PRICE_MINOR_UNITS};
use crate::kit::text_enum;
use crate::kit::values::{InvalidValue, PlanName, Slug};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

text_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum PlanTier {
        Free,
        Starter,
        Growth,
        Scale,
    }
}

impl PlanTier {
    /// The code of the plan this tier names.
    pub fn code(self) -> Slug {
        Slug::parse(self.as_str()).expect("a tier's name is a valid code")
    }
}

const PLAN_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2a93_47c5_4e0b_9a8e_35d1_c7f2_0b64);

/// The code of the plan accounts start on, which is never deactivated.
pub const FREE_CODE: &str = "free";

/// What a plan includes per month. Every limit is a count, zero or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub sites: i32,
    pub users: i32,
    pub keywords: i32,
    /// Words of generated content per month.
    pub monthly_words: i32,
    /// Generated images per month.
    pub monthly_images: i32,
}

impl PlanLimits {
    fn check(&self) -> Result<(), InvalidValue> {
        for (name, value) in [
            ("sites", self.sites),
            ("users", self.users),
            ("keywords", self.keywords),
            ("monthly words", self.monthly_words),
            ("monthly images", self.monthly_images),
        ] {
            if value < 0 {
                return Err(InvalidValue(format!(
                    "the {name} limit must be zero or more, got {value}"
                )));
            }
        }
        if self.users < 1 {
            return Err(InvalidValue(
                "a plan must allow at least one user (the account's owner)".into(),
            ));
        }
        Ok(())
    }
}

/// One version of a plan: everything a subscription to it is billed and limited by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTerms {
    pub name: PlanName,
    pub monthly_price: Money,
    /// Credits granted at the start of every period.
    pub included_credits: Credits,
    pub limits: PlanLimits,
    /// Whether accounts on this plan may override the global AI settings.
    pub overrides_allowed: bool,
}

impl PlanTerms {
    /// Free means nothing to pay, whatever the plan is called.
    pub fn is_free(&self) -> bool {
        self.monthly_price.minor_units == 0
    }

    fn check(&self, code: &Slug) -> Result<(), PlanError> {
        let price = self.monthly_price.minor_units;
        if !(0..=MAX_PRICE_MINOR_UNITS).contains(&price) {
            return Err(PlanError::Invalid(format!(
                "a monthly price must be between 0 and {MAX_PRICE_MINOR_UNITS} minor units, got {price}"
            )));
        }
        let credits = self.included_credits.get();
        if !(0..=MAX_CREDIT_AMOUNT).contains(&credits) {
            return Err(PlanError::Invalid(format!(
                "included credits must be between 0 and {MAX_CREDIT_AMOUNT}, got {credits}"
            )));
        }
        self.limits.check()?;
        if self.overrides_allowed && (self.is_free() || code.as_str() == FREE_CODE) {
            return Err(PlanError::OverridesOnFreePlan);
        }
        Ok(())
    }
}

/// What a revision or a clone changes; every field left `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChanges {
    pub name: Option<PlanName>,
    pub monthly_price_minor: Option<i64>,
    pub currency: Option<Currency>,
    pub included_credits: Option<Credits>,
    pub sites: Option<i32>,
    pub users: Option<i32>,
    pub keywords: Option<i32>,
    pub monthly_words: Option<i32>,
    pub monthly_images: Option<i32>,
    pub overrides_allowed: Option<bool>,
}

impl PlanChanges {
    /// `terms` with these changes made (unchecked: the aggregate checks what it records).
    pub fn applied_to(&self, terms: &PlanTerms) -> PlanTerms {
        let limits = &terms.limits;
        PlanTerms {
            name: self.name.clone().unwrap_or_else(|| terms.name.clone()),
            monthly_price: Money::new(
                self.monthly_price_minor
                    .unwrap_or(terms.monthly_price.minor_units),
                self.currency
                    .clone()
                    .unwrap_or_else(|| terms.monthly_price.currency.clone()),
            ),
            included_credits: self.included_credits.unwrap_or(terms.included_credits),
            limits: PlanLimits {
                sites: self.sites.unwrap_or(limits.sites),
                users: self.users.unwrap_or(limits.users),
                keywords: self.keywords.unwrap_or(limits.keywords),
                monthly_words: self.monthly_words.unwrap_or(limits.monthly_words),
                monthly_images: self.monthly_images.unwrap_or(limits.monthly_images),
            },
            overrides_allowed: self.overrides_allowed.unwrap_or(terms.overrides_allowed),
        }
    }
}

/// A plan as it stood at one version: what a clone starts from, what a subscription is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanVersionRef {
    pub plan_id: Uuid,
    pub version: i32,
}

/// The plans every installation starts with (created at start-up when missing).
pub fn builtin() -> Vec<(Slug, PlanTerms)> {
    let usd = || Currency::parse("USD").expect("a valid currency");
    let plan =
        |tier: PlanTier,
         cents: i64,
         credits: i64,
         (sites, users, keywords, monthly_words, monthly_images): (i32, i32, i32, i32, i32),
         overrides_allowed: bool| {
            let name = match tier {
                PlanTier::Free => "Free",
                PlanTier::Starter => "Starter",
                PlanTier::Growth => "Growth",
                PlanTier::Scale => "Scale",
            };
            (
                tier.code(),
                PlanTerms {
                    name: PlanName::parse(name).expect("a valid name"),
                    monthly_price: Money::new(cents, usd()),
                    included_credits: Credits::new(credits),
                    limits: PlanLimits {
                        sites,
                        users,
                        keywords,
                        monthly_words,
                        monthly_images,
                    },
                    overrides_allowed,
                },
            )
        };
    vec![
        plan(PlanTier::Free, 0, 100, (1, 1, 100, 10_000, 10), false),
        // Every paid plan may override models and parameters (seeds, corrected rules).
        plan(
            PlanTier::Starter,
            2_900,
            1_000,
            (3, 3, 1_000, 100_000, 100),
            true,
        ),
        plan(
            PlanTier::Growth,
            7_900,
            5_000,
            (10, 10, 10_000, 500_000, 500),
            true,
        ),
        plan(
            PlanTier::Scale,
            19_900,
            20_000,
            (50, 50, 100_000, 2_000_000, 2_000),
            true,
        ),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlanCommand {
    Create {
        code: Slug,
        terms: PlanTerms,
        /// The version this plan was cloned from, if it is a clone.
        cloned_from: Option<PlanVersionRef>,
    },
    /// Records the terms in force with `changes` made as the next version. Safe to repeat:
    /// changes that change nothing record nothing.
    Revise { changes: PlanChanges },
    /// Safe to repeat.
    Activate,
    /// No new subscriptions; existing ones keep their version. Safe to repeat.
    Deactivate,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum PlanEvent {
    /// Version 1, active.
    PlanCreated {
        code: Slug,
        terms: PlanTerms,
        cloned_from: Option<PlanVersionRef>,
    },
    PlanRevised {
        version: i32,
        terms: PlanTerms,
    },
    PlanActivated,
    PlanDeactivated,
}

crate::stored_event!(PlanEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `VALIDATION`
    #[error("a free plan never allows accounts to override the AI settings")]
    OverridesOnFreePlan,
    /// `CONFLICT`
    #[error("a plan with this code already exists")]
    AlreadyExists,
    /// `NOT_FOUND`
    #[error("no such plan")]
    NotFound,
    /// `CONFLICT`
    #[error("the Free plan is where accounts start and cannot be deactivated")]
    FreePlanStaysActive,
}

impl From<InvalidValue> for PlanError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for PlanError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::OverridesOnFreePlan => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyExists | Self::FreePlanStaysActive => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Current {
    code: Slug,
    version: i32,
    terms: PlanTerms,
    active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    current: Option<Current>,
}

impl Plan {
    /// The aggregate id of the plan with this code.
    pub fn id_for(code: &Slug) -> Uuid {
        Uuid::new_v5(&PLAN_NAMESPACE, code.as_str().as_bytes())
    }

    /// The version in force and its terms; `None` until the plan is created.
    pub fn current(&self) -> Option<(i32, &PlanTerms)> {
        self.current.as_ref().map(|c| (c.version, &c.terms))
    }

    pub fn is_active(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.active)
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: PlanCommand) -> Result<Option<PlanEvent>, PlanError> {
        use PlanCommand as C;
        use PlanEvent as E;
        let Some(current) = &self.current else {
            let C::Create {
                code,
                terms,
                cloned_from,
            } = command
            else {
                return Err(PlanError::NotFound);
            };
            terms.check(&code)?;
            return Ok(Some(E::PlanCreated {
                code,
                terms,
                cloned_from,
            }));
        };
        match command {
            C::Create { .. } => Err(PlanError::AlreadyExists),
            C::Revise { changes } => {
                let terms = changes.applied_to(&current.terms);
                if terms == current.terms {
                    return Ok(None);
                }
                terms.check(&current.code)?;
                Ok(Some(E::PlanRevised {
                    version: current.version + 1,
                    terms,
                }))
            }
            C::Activate if current.active => Ok(None),
            C::Activate => Ok(Some(E::PlanActivated)),
            C::Deactivate if !current.active => Ok(None),
            C::Deactivate if current.code.as_str() == FREE_CODE => {
                Err(PlanError::FreePlanStaysActive)
            }
            C::Deactivate => Ok(Some(E::PlanDeactivated)),
        }
    }
}

impl crate::kit::event::StoredAggregate for Plan {}

impl Aggregate for Plan {
    const TYPE: &'static str = "plan";
    type Command = PlanCommand;
    type Event = PlanEvent;
    type Error = PlanError;
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
            PlanEvent::PlanCreated { code, terms, .. } => {
                self.current = Some(Current {
                    code,
                    version: 1,
                    terms,
                    active: true,
                });
            }
            PlanEvent::PlanRevised { version, terms } => {
                if let Some(current) = &mut self.current {
                    current.version = version;
                    current.terms = terms;
                }
            }
            PlanEvent::PlanActivated => {
                if let Some(current) = &mut self.current {
                    current.active = true;
                }
            }
            PlanEvent::PlanDeactivated => {
                if let Some(current) = &mut self.current {
                    current.active = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use cqrs_es::DomainEvent;

    type PlanTest = TestFramework<Plan>;

    fn growth() -> (Slug, PlanTerms) {
        builtin()
            .into_iter()
            .find(|(code, _)| code.as_str() == "growth")
            .unwrap()
    }

    fn created(code: &Slug, terms: &PlanTerms) -> PlanEvent {
        PlanEvent::PlanCreated {
            code: code.clone(),
            terms: terms.clone(),
            cloned_from: None,
        }
    }

    fn dearer(terms: &PlanTerms) -> PlanTerms {
        PlanTerms {
            monthly_price: Money::new(9_900, terms.monthly_price.currency.clone()),
            ..terms.clone()
        }
    }

    /// The changes that turn any terms into `terms`.
    fn to(terms: &PlanTerms) -> PlanChanges {
        PlanChanges {
            name: Some(terms.name.clone()),
            monthly_price_minor: Some(terms.monthly_price.minor_units),
            currency: Some(terms.monthly_price.currency.clone()),
            included_credits: Some(terms.included_credits),
            sites: Some(terms.limits.sites),
            users: Some(terms.limits.users),
            keywords: Some(terms.limits.keywords),
            monthly_words: Some(terms.limits.monthly_words),
            monthly_images: Some(terms.limits.monthly_images),
            overrides_allowed: Some(terms.overrides_allowed),
        }
    }

    async fn expect_error(given: Vec<PlanEvent>, command: PlanCommand, expected: PlanError) {
        PlanTest::with(())
            .given(given)
            .when_async(command)
            .await
            .then_expect_error(expected);
    }

    async fn expect_invalid(given: Vec<PlanEvent>, command: PlanCommand) {
        let result = PlanTest::with(())
            .given(given)
            .when_async(command.clone())
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(PlanError::Invalid(_))),
            "{command:?}: {result:?}"
        );
    }

    #[test]
    fn the_four_tiers_are_built_in_and_valid() {
        let plans = builtin();
        let codes: Vec<&str> = plans.iter().map(|(code, _)| code.as_str()).collect();
        assert_eq!(codes, ["free", "starter", "growth", "scale"]);
        for (code, terms) in &plans {
            terms.check(code).unwrap();
        }
        assert!(plans[0].1.is_free() && !plans[0].1.overrides_allowed);
    }

    #[tokio::test]
    async fn creating_a_plan_records_its_code_and_first_terms() {
        let (code, terms) = growth();
        PlanTest::with(())
            .given_no_previous_events()
            .when_async(PlanCommand::Create {
                code: code.clone(),
                terms: terms.clone(),
                cloned_from: None,
            })
            .await
            .then_expect_events(vec![created(&code, &terms)]);
    }

    #[tokio::test]
    async fn a_clone_remembers_the_version_it_came_from() {
        let (_, terms) = growth();
        let code = Slug::parse("growth-nonprofit").unwrap();
        let source = PlanVersionRef {
            plan_id: Uuid::from_u128(7),
            version: 3,
        };
        PlanTest::with(())
            .given_no_previous_events()
            .when_async(PlanCommand::Create {
                code: code.clone(),
                terms: terms.clone(),
                cloned_from: Some(source),
            })
            .await
            .then_expect_events(vec![PlanEvent::PlanCreated {
                code,
                terms,
                cloned_from: Some(source),
            }]);
    }

    #[tokio::test]
    async fn creating_an_existing_plan_is_a_conflict() {
        let (code, terms) = growth();
        let create = PlanCommand::Create {
            code: code.clone(),
            terms: terms.clone(),
            cloned_from: None,
        };
        expect_error(
            vec![created(&code, &terms)],
            create,
            PlanError::AlreadyExists,
        )
        .await;
    }

    #[tokio::test]
    async fn every_command_but_create_on_an_unknown_plan_is_not_found() {
        let (_, terms) = growth();
        for command in [
            PlanCommand::Revise {
                changes: to(&terms),
            },
            PlanCommand::Activate,
            PlanCommand::Deactivate,
        ] {
            expect_error(vec![], command, PlanError::NotFound).await;
        }
    }

    #[tokio::test]
    async fn revising_records_the_whole_terms_as_the_next_version() {
        let (code, terms) = growth();
        let revised = dearer(&terms);
        PlanTest::with(())
            .given(vec![
                created(&code, &terms),
                PlanEvent::PlanRevised {
                    version: 2,
                    terms: terms.clone(),
                },
            ])
            .when_async(PlanCommand::Revise {
                changes: PlanChanges {
                    monthly_price_minor: Some(9_900),
                    ..PlanChanges::default()
                },
            })
            .await
            .then_expect_events(vec![PlanEvent::PlanRevised {
                version: 3,
                terms: revised,
            }]);
    }

    #[tokio::test]
    async fn revising_to_the_terms_in_force_records_nothing() {
        let (code, terms) = growth();
        for changes in [PlanChanges::default(), to(&terms)] {
            PlanTest::with(())
                .given(vec![created(&code, &terms)])
                .when_async(PlanCommand::Revise { changes })
                .await
                .then_expect_events(vec![]);
        }
    }

    #[tokio::test]
    async fn terms_are_checked_on_create_and_on_revise() {
        let (code, terms) = growth();
        let price = |minor_units| Money::new(minor_units, terms.monthly_price.currency.clone());
        let credits = |n| PlanTerms {
            included_credits: Credits::new(n),
            ..terms.clone()
        };
        let mut bad = vec![
            PlanTerms {
                monthly_price: price(-1),
                ..terms.clone()
            },
            PlanTerms {
                monthly_price: price(MAX_PRICE_MINOR_UNITS + 1),
                ..terms.clone()
            },
            credits(-5),
            credits(MAX_CREDIT_AMOUNT + 1),
        ];
        for limits in [
            PlanLimits {
                sites: -1,
                ..terms.limits
            },
            PlanLimits {
                keywords: -1,
                ..terms.limits
            },
            PlanLimits {
                monthly_words: -1,
                ..terms.limits
            },
            PlanLimits {
                monthly_images: -1,
                ..terms.limits
            },
            PlanLimits {
                users: 0,
                ..terms.limits
            },
        ] {
            bad.push(PlanTerms {
                limits,
                ..terms.clone()
            });
        }
        for terms in bad {
            expect_invalid(
                vec![],
                PlanCommand::Create {
                    code: code.clone(),
                    terms: terms.clone(),
                    cloned_from: None,
                },
            )
            .await;
            let changes = to(&terms);
            expect_invalid(
                vec![created(&code, &growth().1)],
                PlanCommand::Revise { changes },
            )
            .await;
        }
    }

    #[tokio::test]
    async fn a_free_plan_never_allows_overrides() {
        let (code, terms) = growth();
        let free_of_charge = PlanTerms {
            monthly_price: Money::new(0, terms.monthly_price.currency.clone()),
            ..terms.clone()
        };
        expect_error(
            vec![created(&code, &terms)],
            PlanCommand::Revise {
                changes: to(&free_of_charge),
            },
            PlanError::OverridesOnFreePlan,
        )
        .await;
        let free = PlanTier::Free.code();
        let priced_free = PlanTerms {
            overrides_allowed: true,
            ..dearer(&terms)
        };
        expect_error(
            vec![],
            PlanCommand::Create {
                code: free,
                terms: priced_free,
                cloned_from: None,
            },
            PlanError::OverridesOnFreePlan,
        )
        .await;
    }

    #[tokio::test]
    async fn deactivating_and_activating_are_safe_to_repeat() {
        let (code, terms) = growth();
        PlanTest::with(())
            .given(vec![created(&code, &terms)])
            .when_async(PlanCommand::Deactivate)
            .await
            .then_expect_events(vec![PlanEvent::PlanDeactivated]);
        PlanTest::with(())
            .given(vec![created(&code, &terms), PlanEvent::PlanDeactivated])
            .when_async(PlanCommand::Deactivate)
            .await
            .then_expect_events(vec![]);
        PlanTest::with(())
            .given(vec![created(&code, &terms), PlanEvent::PlanDeactivated])
            .when_async(PlanCommand::Activate)
            .await
            .then_expect_events(vec![PlanEvent::PlanActivated]);
        PlanTest::with(())
            .given(vec![created(&code, &terms)])
            .when_async(PlanCommand::Activate)
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn the_free_plan_cannot_be_deactivated() {
        let (code, terms) = builtin().remove(0);
        expect_error(
            vec![created(&code, &terms)],
            PlanCommand::Deactivate,
            PlanError::FreePlanStaysActive,
        )
        .await;
    }

    #[test]
    fn ids_follow_codes_and_refusals_have_codes() {
        assert_eq!(
            Plan::id_for(&PlanTier::Growth.code()),
            Plan::id_for(&Slug::parse("growth").unwrap())
        );
        assert_ne!(
            Plan::id_for(&PlanTier::Growth.code()),
            Plan::id_for(&PlanTier::Scale.code())
        );
        assert_eq!(PlanError::NotFound.code(), ErrorCode::NotFound);
        assert_eq!(PlanError::FreePlanStaysActive.code(), ErrorCode::Conflict);
        assert_eq!(PlanError::OverridesOnFreePlan.code(), ErrorCode::Validation);
        let (code, terms) = growth();
        assert_eq!(created(&code, &terms).event_type(), "PlanCreated");
        assert_eq!(PlanEvent::PlanDeactivated.event_version(), "1");
    }

    #[test]
    fn every_tier_round_trips_through_its_name() {
        use strum::IntoEnumIterator;
        for tier in PlanTier::iter() {
            assert_eq!(tier.as_str().parse::<PlanTier>(), Ok(tier));
            assert_eq!(
                serde_json::to_value(tier).unwrap(),
                serde_json::json!(tier.as_str())
            );
        }
        assert!("enterprise".parse::<PlanTier>().is_err());
    }
}

//! Subscriptions: which plan version an account is on, for which period, and whether it pays.
//!
//! One subscription per account, for the account's whole life: its aggregate id is derived
//! from the account's ([`Subscription::id_for`]), so "one current subscription" holds by
//! construction and a cancelled subscription is started again rather than duplicated.
//!
//! Periods are calendar months counted from an anchor (the start of the first paid period):
//! period `n` runs from `anchor + n months` to `anchor + (n + 1) months`, so a subscription
//! started on 31 January renews on 28 (or 29) February and again on 31 March. A trial is the
//! period before the anchor.
//!
//! Decisions:
//! - **Upgrades take effect now; downgrades at the period's end.** An upgrade (a dearer plan)
//!   charges the price difference for the part of the period left and grants the difference in
//!   included credits for it, both `prorate`d (half to even, in whole seconds). A downgrade (any
//!   other change) is scheduled and applied at renewal. During a trial an upgrade charges
//!   nothing.
//! - **The plan's terms are copied in** ([`SubscribedPlan`]): a subscription keeps the version
//!   it is on until its next period, whatever happens to the plan meanwhile.
//! - **Period ends are driven by the scheduler** ([`SubscriptionCommand::EndPeriod`], naming the
//!   end it is for, so a repeat or a late run does nothing twice): the subscription renews, or
//!   expires when its cancellation was scheduled. `Renew` is the operator's "extend by a
//!   period" and refuses a subscription whose cancellation is scheduled.
//! - Activating an active subscription, scheduling the downgrade already scheduled and
//!   upgrading to the version already subscribed succeed and record nothing; cancelling a
//!   cancelled (or expired) subscription is refused (`CONFLICT`).

#[cfg(test)]
mod tests;

use crate::billing::plan::{PlanTier, PlanVersionRef};
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{prorate, Credits, Money};
use crate::kit::text_enum;
use crate::kit::values::{PlanName, Reason, Slug};
use chrono::{DateTime, Duration, Months, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const SUBSCRIPTION_NAMESPACE: Uuid = Uuid::from_u128(0x2b8c_61f4_0d7a_4e93_b5c1_9e04_7a36_d2f8);

/// The longest trial an operator may grant.
pub const MAX_TRIAL_DAYS: i64 = 90;

text_enum! {
    pub enum SubscriptionStatus {
        Trialing,
        Active,
        /// An invoice of the subscription is unpaid past its due date.
        PastDue,
        Cancelled,
        Expired,
    }
}

impl SubscriptionStatus {
    /// Trialing, active or past due: the account has the plan's terms.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Trialing | Self::Active | Self::PastDue)
    }
}

/// A plan version's terms as a subscription is billed and granted by them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribedPlan {
    pub plan_id: Uuid,
    pub code: Slug,
    pub version: i32,
    /// The tier the plan is (or was cloned from): what the account's plan shows.
    pub tier: PlanTier,
    pub name: PlanName,
    pub monthly_price: Money,
    pub included_credits: Credits,
}

impl SubscribedPlan {
    pub fn version_ref(&self) -> PlanVersionRef {
        PlanVersionRef {
            plan_id: self.plan_id,
            version: self.version,
        }
    }

    fn is_same_version(&self, other: &Self) -> bool {
        self.version_ref() == other.version_ref()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubscriptionCommand {
    /// A new subscription (or a new start after a cancellation or expiry) from `at`, with a
    /// trial of `trial_days` first when given.
    Start {
        account_id: Uuid,
        plan: SubscribedPlan,
        at: DateTime<Utc>,
        trial_days: Option<i64>,
    },
    /// Trialing: the first paid period starts `at`. Past due: active again. Cancelled or
    /// expired: started again on the same plan from `at`. A scheduled cancellation is
    /// withdrawn. Safe to repeat.
    Activate { at: DateTime<Utc> },
    /// The invoice that made the subscription past due was paid: active again. Anything else
    /// records nothing, also without a subscription (so every paid invoice may send it).
    Reinstate { invoice_id: Uuid },
    /// Now, or at the end of the period (the subscription stays live until then).
    Cancel {
        reason: Reason,
        at_period_end: bool,
        at: DateTime<Utc>,
    },
    /// Extends by a period: the next one starts when the current one ends. Refused while the
    /// current period has not started by `at` (renewed ahead once already), so advance
    /// renewals stop at one period.
    Renew { at: DateTime<Utc> },
    /// The scheduler's step at `period_end`: renew, or expire if a cancellation was scheduled.
    /// Records nothing unless `period_end` is the current period's end.
    EndPeriod { period_end: DateTime<Utc> },
    /// A dearer plan, now, with a prorated charge and credits for the rest of the period.
    Upgrade {
        plan: SubscribedPlan,
        at: DateTime<Utc>,
    },
    /// Any other plan, from the next period.
    Downgrade { plan: SubscribedPlan },
    /// `invoice_id` of this subscription is unpaid past its due date. Safe to repeat.
    MarkPastDue { invoice_id: Uuid },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum SubscriptionEvent {
    SubscriptionStarted {
        account_id: Uuid,
        plan: SubscribedPlan,
        status: SubscriptionStatus,
        period_start: DateTime<Utc>,
        period_end: DateTime<Utc>,
    },
    /// `new_period` when activation started a period (after a trial, a cancellation or an
    /// expiry), which is then billed and granted like a renewal.
    SubscriptionActivated {
        account_id: Uuid,
        plan: SubscribedPlan,
        period_start: DateTime<Utc>,
        period_end: DateTime<Utc>,
        new_period: bool,
    },
    /// The next period, on `plan` (a scheduled downgrade applies here).
    SubscriptionRenewed {
        account_id: Uuid,
        plan: SubscribedPlan,
        status: SubscriptionStatus,
        period_start: DateTime<Utc>,
        period_end: DateTime<Utc>,
    },
    SubscriptionUpgraded {
        account_id: Uuid,
        from: SubscribedPlan,
        to: SubscribedPlan,
        at: DateTime<Utc>,
        period_start: DateTime<Utc>,
        /// The price difference for the rest of the period.
        charge: Money,
        /// The included-credit difference for the rest of the period.
        credits: Credits,
    },
    SubscriptionDowngradeScheduled {
        account_id: Uuid,
        to: SubscribedPlan,
        effective_at: DateTime<Utc>,
    },
    SubscriptionCancellationScheduled {
        account_id: Uuid,
        reason: Reason,
        effective_at: DateTime<Utc>,
    },
    SubscriptionCancelled {
        account_id: Uuid,
        reason: Reason,
        at: DateTime<Utc>,
        period_start: DateTime<Utc>,
    },
    SubscriptionPastDue {
        account_id: Uuid,
        invoice_id: Uuid,
    },
    /// The period ended with a cancellation scheduled.
    SubscriptionExpired {
        account_id: Uuid,
        at: DateTime<Utc>,
        period_start: DateTime<Utc>,
    },
}

crate::stored_event!(SubscriptionEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("the account has no subscription")]
    NotFound,
    /// `CONFLICT`
    #[error("the account already has a {0} subscription; change its plan instead")]
    AlreadySubscribed(SubscriptionStatus),
    /// `CONFLICT`
    #[error("the subscription is {0}; start or activate it first")]
    NotLive(SubscriptionStatus),
    /// `CONFLICT`
    #[error("the subscription's cancellation is scheduled; activate it to keep it")]
    CancellationScheduled,
    /// `VALIDATION`
    #[error("{0}")]
    WrongDirection(String),
    /// `CONFLICT`
    #[error("the subscription is already renewed to a period starting {0}; renew it again once that period has started")]
    RenewedAhead(DateTime<Utc>),
}

impl Coded for SubscriptionError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::WrongDirection(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadySubscribed(_)
            | Self::NotLive(_)
            | Self::CancellationScheduled
            | Self::RenewedAhead(_) => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Current {
    account_id: Uuid,
    plan: SubscribedPlan,
    status: SubscriptionStatus,
    /// The start of the first paid period; months are counted from it.
    anchor: DateTime<Utc>,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    cancellation_scheduled: bool,
    downgrade: Option<SubscribedPlan>,
    past_due_invoice: Option<Uuid>,
}

impl Current {
    /// The period after the current one: `[period_end, anchor + months)` for the first month
    /// count past `period_end` (the anchor's day, clamped to shorter months).
    fn next_period(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = self.period_end;
        let mut months = 1;
        loop {
            let end = months_after(self.anchor, months);
            if end > start {
                return (start, end);
            }
            months += 1;
        }
    }
}

fn months_after(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .expect("periods stay within chrono's range")
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    current: Option<Current>,
}

impl Subscription {
    /// The aggregate id of an account's subscription.
    pub fn id_for(account_id: Uuid) -> Uuid {
        Uuid::new_v5(&SUBSCRIPTION_NAMESPACE, account_id.as_bytes())
    }

    pub fn status(&self) -> Option<SubscriptionStatus> {
        self.current.as_ref().map(|c| c.status)
    }

    pub fn plan(&self) -> Option<&SubscribedPlan> {
        self.current.as_ref().map(|c| &c.plan)
    }

    /// The current period, `[start, end)`.
    pub fn period(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.current
            .as_ref()
            .map(|c| (c.period_start, c.period_end))
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(
        &self,
        command: SubscriptionCommand,
    ) -> Result<Option<SubscriptionEvent>, SubscriptionError> {
        use SubscriptionCommand as C;
        use SubscriptionEvent as E;
        if let C::Start {
            account_id,
            plan,
            at,
            trial_days,
        } = command
        {
            if let Some(current) = self.current.as_ref().filter(|c| c.status.is_live()) {
                return Err(SubscriptionError::AlreadySubscribed(current.status));
            }
            if let Some(current) = &self.current {
                if current.account_id != account_id {
                    return Err(SubscriptionError::Invalid(
                        "a subscription belongs to one account".into(),
                    ));
                }
            }
            let (status, period_end) = match trial_days {
                None => (SubscriptionStatus::Active, months_after(at, 1)),
                Some(days @ 1..=MAX_TRIAL_DAYS) => {
                    (SubscriptionStatus::Trialing, at + Duration::days(days))
                }
                Some(days) => {
                    return Err(SubscriptionError::Invalid(format!(
                        "a trial must last 1 to {MAX_TRIAL_DAYS} days, got {days}"
                    )))
                }
            };
            return Ok(Some(E::SubscriptionStarted {
                account_id,
                plan,
                status,
                period_start: at,
                period_end,
            }));
        }
        let Some(current) = &self.current else {
            // Every paid invoice may send it, also an account's without a subscription.
            return match command {
                C::Reinstate { .. } => Ok(None),
                _ => Err(SubscriptionError::NotFound),
            };
        };
        let account_id = current.account_id;
        let live = current.status.is_live();
        match command {
            // Decided above; here only to keep the match whole.
            C::Start { .. } => Err(SubscriptionError::AlreadySubscribed(current.status)),
            C::Activate { at } => Ok(match current.status {
                SubscriptionStatus::Active if !current.cancellation_scheduled => None,
                SubscriptionStatus::Active | SubscriptionStatus::PastDue => {
                    Some(E::SubscriptionActivated {
                        account_id,
                        plan: current.plan.clone(),
                        period_start: current.period_start,
                        period_end: current.period_end,
                        new_period: false,
                    })
                }
                SubscriptionStatus::Trialing
                | SubscriptionStatus::Cancelled
                | SubscriptionStatus::Expired => Some(E::SubscriptionActivated {
                    account_id,
                    plan: current.plan.clone(),
                    period_start: at,
                    period_end: months_after(at, 1),
                    new_period: true,
                }),
            }),
            C::Reinstate { invoice_id } => Ok((current.status == SubscriptionStatus::PastDue
                && current.past_due_invoice == Some(invoice_id))
            .then(|| E::SubscriptionActivated {
                account_id,
                plan: current.plan.clone(),
                period_start: current.period_start,
                period_end: current.period_end,
                new_period: false,
            })),
            _ if !live => Err(SubscriptionError::NotLive(current.status)),
            C::Cancel {
                reason,
                at_period_end: false,
                at,
            } => Ok(Some(E::SubscriptionCancelled {
                account_id,
                reason,
                at,
                period_start: current.period_start,
            })),
            C::Cancel { .. } if current.cancellation_scheduled => Ok(None),
            C::Cancel { reason, .. } => Ok(Some(E::SubscriptionCancellationScheduled {
                account_id,
                reason,
                effective_at: current.period_end,
            })),
            C::Renew { .. } if current.cancellation_scheduled => {
                Err(SubscriptionError::CancellationScheduled)
            }
            C::Renew { at } if current.period_start > at => {
                Err(SubscriptionError::RenewedAhead(current.period_start))
            }
            C::Renew { .. } => Ok(Some(self.renewal(current))),
            C::EndPeriod { period_end } if period_end != current.period_end => Ok(None),
            C::EndPeriod { period_end } if current.cancellation_scheduled => {
                Ok(Some(E::SubscriptionExpired {
                    account_id,
                    at: period_end,
                    period_start: current.period_start,
                }))
            }
            C::EndPeriod { .. } => Ok(Some(self.renewal(current))),
            C::Upgrade { plan, .. } if plan.is_same_version(&current.plan) => Ok(None),
            C::Upgrade { plan, at } => {
                let from = &current.plan;
                check_currency(from, &plan)?;
                if plan.monthly_price.minor_units <= from.monthly_price.minor_units {
                    return Err(SubscriptionError::WrongDirection(format!(
                        "`{}` costs no more than `{}`: downgrade to it (from the next period)",
                        plan.code, from.code
                    )));
                }
                let whole = (current.period_end - current.period_start).num_seconds();
                let left = (current.period_end - at).num_seconds();
                let trialing = current.status == SubscriptionStatus::Trialing;
                let price_difference =
                    plan.monthly_price.minor_units - from.monthly_price.minor_units;
                let charge = if trialing {
                    0
                } else {
                    prorate(price_difference, left, whole)
                };
                let credit_difference =
                    (plan.included_credits.get() - from.included_credits.get()).max(0);
                Ok(Some(E::SubscriptionUpgraded {
                    account_id,
                    from: from.clone(),
                    charge: Money::new(charge, plan.monthly_price.currency.clone()),
                    credits: Credits::new(prorate(credit_difference, left, whole)),
                    to: plan,
                    at,
                    period_start: current.period_start,
                }))
            }
            C::Downgrade { plan } => {
                let already = current.downgrade.as_ref().unwrap_or(&current.plan);
                if plan.is_same_version(already) {
                    return Ok(None);
                }
                check_currency(&current.plan, &plan)?;
                if plan.monthly_price.minor_units > current.plan.monthly_price.minor_units {
                    return Err(SubscriptionError::WrongDirection(format!(
                        "`{}` costs more than `{}`: upgrade to it (takes effect now)",
                        plan.code, current.plan.code
                    )));
                }
                Ok(Some(E::SubscriptionDowngradeScheduled {
                    account_id,
                    to: plan,
                    effective_at: current.period_end,
                }))
            }
            C::MarkPastDue { invoice_id } => Ok((current.status == SubscriptionStatus::Active)
                .then_some(E::SubscriptionPastDue {
                    account_id,
                    invoice_id,
                })),
        }
    }

    fn renewal(&self, current: &Current) -> SubscriptionEvent {
        let (period_start, period_end) = match current.status {
            // The trial ends into the first paid period, which anchors the months.
            SubscriptionStatus::Trialing => {
                (current.period_end, months_after(current.period_end, 1))
            }
            _ => current.next_period(),
        };
        SubscriptionEvent::SubscriptionRenewed {
            account_id: current.account_id,
            plan: current
                .downgrade
                .clone()
                .unwrap_or_else(|| current.plan.clone()),
            status: match current.status {
                SubscriptionStatus::Trialing => SubscriptionStatus::Active,
                status => status,
            },
            period_start,
            period_end,
        }
    }
}

fn check_currency(from: &SubscribedPlan, to: &SubscribedPlan) -> Result<(), SubscriptionError> {
    if from.monthly_price.currency == to.monthly_price.currency {
        Ok(())
    } else {
        Err(SubscriptionError::Invalid(format!(
            "`{}` is priced in {} and `{}` in {}: a subscription keeps its currency",
            from.code, from.monthly_price.currency, to.code, to.monthly_price.currency
        )))
    }
}

impl crate::kit::event::StoredAggregate for Subscription {}

impl Aggregate for Subscription {
    const TYPE: &'static str = "subscription";
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;
    type Error = SubscriptionError;
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
        use SubscriptionEvent as E;
        if let E::SubscriptionStarted {
            account_id,
            plan,
            status,
            period_start,
            period_end,
        } = event
        {
            self.current = Some(Current {
                account_id,
                plan,
                status,
                anchor: if status == SubscriptionStatus::Trialing {
                    period_end
                } else {
                    period_start
                },
                period_start,
                period_end,
                cancellation_scheduled: false,
                downgrade: None,
                past_due_invoice: None,
            });
            return;
        }
        let Some(current) = &mut self.current else {
            return;
        };
        match event {
            E::SubscriptionStarted { .. } => {}
            E::SubscriptionActivated {
                period_start,
                period_end,
                new_period,
                ..
            } => {
                if new_period {
                    current.anchor = period_start;
                }
                current.status = SubscriptionStatus::Active;
                current.period_start = period_start;
                current.period_end = period_end;
                current.cancellation_scheduled = false;
                current.past_due_invoice = None;
            }
            E::SubscriptionRenewed {
                plan,
                status,
                period_start,
                period_end,
                ..
            } => {
                if current.status == SubscriptionStatus::Trialing {
                    current.anchor = period_start;
                }
                current.plan = plan;
                current.status = status;
                current.period_start = period_start;
                current.period_end = period_end;
                current.downgrade = None;
            }
            E::SubscriptionUpgraded { to, .. } => {
                current.plan = to;
                current.downgrade = None;
            }
            E::SubscriptionDowngradeScheduled { to, .. } => current.downgrade = Some(to),
            E::SubscriptionCancellationScheduled { .. } => current.cancellation_scheduled = true,
            E::SubscriptionCancelled { .. } => {
                current.status = SubscriptionStatus::Cancelled;
                current.cancellation_scheduled = false;
                current.downgrade = None;
            }
            E::SubscriptionPastDue { invoice_id, .. } => {
                current.status = SubscriptionStatus::PastDue;
                current.past_due_invoice = Some(invoice_id);
            }
            E::SubscriptionExpired { .. } => {
                current.status = SubscriptionStatus::Expired;
                current.cancellation_scheduled = false;
                current.downgrade = None;
            }
        }
    }
}

//! Monthly recurring revenue: what a subscription contributes, and how its changes are named.
//!
//! Definitions (the executive metrics are folds of these; [`DEFINITIONS`] says them to users):
//! - **MRR** is the sum, over accounts, of the monthly price of the plan version their
//!   subscription is on, while it is active or past due. Every plan is priced by the month; an
//!   annual plan, were one added, would count its price divided by 12. There are no discounts
//!   or coupons in the domain; when there are, MRR counts the discounted price.
//! - **Trials** contribute nothing: a trial converting to active is new MRR then.
//! - **Past due** subscriptions still count: the customer owes the money and dunning is under
//!   way. They stop counting when cancelled or expired.
//! - **Cancellation at period end** changes nothing until the period ends: the subscription
//!   expires then, and its MRR churns that day. An immediate cancellation churns at once.
//! - **Upgrades** count at once (expansion); **downgrades** when they take effect, at the
//!   renewal (contraction). A free plan contributes 0: moving to it is churn.
//! - A **movement** is a change of an account's MRR, on the day of the event (business time):
//!   `new` (from 0, for an account that never paid before), `reactivation` (from 0, for one
//!   that did), `expansion`, `contraction` and `churn` (to 0). Net new MRR is their sum.
//! - **ARR** is MRR × 12. **ARPA** is MRR divided by the accounts paying (MRR above 0).
//!   **Logo churn** in a month is the accounts that churned divided by those paying at its
//!   start; **revenue churn** is churned and contracted MRR divided by MRR at its start.

use crate::billing::subscription::{SubscribedPlan, SubscriptionEvent, SubscriptionStatus};
use crate::kit::money::Money;

/// Each executive metric and its definition, as the API shows them beside the figures.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "mrr",
        "The sum, over accounts, of the monthly price of the plan version their \
      subscription is on while it is active or past due, at the month's end (UTC). Plans are \
      priced by the month; an annual plan would count a twelfth of its price. No discounts \
      exist; when they do, the discounted price counts. Trials count nothing.",
    ),
    ("arr", "MRR × 12."),
    (
        "new",
        "MRR from accounts that never paid before: a paid start, or a trial converting.",
    ),
    (
        "reactivation",
        "MRR from accounts that paid before, had stopped, and pay again.",
    ),
    (
        "expansion",
        "MRR added by an upgrade, on the day of the upgrade.",
    ),
    (
        "contraction",
        "MRR lost by a downgrade, on the renewal it takes effect at.",
    ),
    (
        "churn",
        "MRR lost when a subscription is cancelled at once, or expires at the end of \
      the period it was cancelled for, or moves to a free plan. Past due still counts.",
    ),
    (
        "net new",
        "new + reactivation + expansion - contraction - churn: the month's change of MRR.",
    ),
    (
        "paying accounts",
        "Accounts whose MRR is above 0 at the month's end.",
    ),
    ("arpa", "MRR divided by paying accounts."),
    (
        "logo churn",
        "Accounts that churned in the month divided by paying accounts at its start.",
    ),
    (
        "revenue churn",
        "Churned and contracted MRR in the month divided by MRR at its start.",
    ),
    (
        "mau",
        "Distinct people (per account) seen signing in or active in the month.",
    ),
    (
        "average dau",
        "People seen per day, averaged over the month's days (so far, for the \
      current month).",
    ),
    ("stickiness", "Average DAU divided by MAU."),
    (
        "ai cost and margin",
        "AI calls, tokens and what they cost the platform in the month; a \
      plan's gross margin is its revenue (the MRR its accounts paid, month by month) less the \
      AI cost of its paying accounts, over that revenue. AI cost of accounts paying nothing \
      is shown under plan `` (empty).",
    ),
    (
        "cohort retention",
        "Accounts grouped by the month they first paid; for each later month, \
      the share of them paying at its end.",
    ),
];

/// What a subscription contributes after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MrrChange {
    /// The plan's monthly price (0 for a free plan).
    Pays { plan_code: String, monthly: Money },
    /// Nothing: a trial, a cancellation, an expiry.
    Stops,
}

impl MrrChange {
    fn pays(plan: &SubscribedPlan) -> Self {
        Self::Pays {
            plan_code: plan.code.as_str().to_string(),
            monthly: plan.monthly_price.clone(),
        }
    }

    /// What `event` makes the subscription contribute; `None` when it changes nothing (a
    /// scheduled downgrade or cancellation, a payment falling past due).
    pub fn of(event: &SubscriptionEvent) -> Option<Self> {
        use SubscriptionEvent as E;
        match event {
            E::SubscriptionStarted { plan, status, .. }
            | E::SubscriptionRenewed { plan, status, .. } => Some(match status {
                SubscriptionStatus::Active | SubscriptionStatus::PastDue => Self::pays(plan),
                _ => Self::Stops,
            }),
            E::SubscriptionActivated { plan, .. } => Some(Self::pays(plan)),
            E::SubscriptionUpgraded { to, .. } => Some(Self::pays(to)),
            E::SubscriptionCancelled { .. } | E::SubscriptionExpired { .. } => Some(Self::Stops),
            E::SubscriptionDowngradeScheduled { .. }
            | E::SubscriptionCancellationScheduled { .. }
            | E::SubscriptionPastDue { .. } => None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum MrrMovement {
    New,
    Reactivation,
    Expansion,
    Contraction,
    Churn,
}

impl MrrMovement {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The movement from `before` to `after` (minor units, one currency) of an account that
    /// has `paid_before` (had MRR above 0 at some time); `None` when MRR did not change.
    pub fn classify(before: i64, after: i64, paid_before: bool) -> Option<Self> {
        Some(match (before, after) {
            _ if before == after => return None,
            (0, _) if paid_before => Self::Reactivation,
            (0, _) => Self::New,
            (_, 0) => Self::Churn,
            _ if after > before => Self::Expansion,
            _ => Self::Contraction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MrrMovement::{self, *};

    #[test]
    fn movements_are_named_from_the_change_and_the_accounts_past() {
        assert_eq!(MrrMovement::classify(0, 4_900, false), Some(New));
        assert_eq!(MrrMovement::classify(0, 4_900, true), Some(Reactivation));
        assert_eq!(MrrMovement::classify(4_900, 9_900, true), Some(Expansion));
        assert_eq!(MrrMovement::classify(9_900, 4_900, true), Some(Contraction));
        assert_eq!(MrrMovement::classify(4_900, 0, true), Some(Churn));
        assert_eq!(MrrMovement::classify(4_900, 4_900, true), None);
        assert_eq!(MrrMovement::classify(0, 0, false), None);
    }
}

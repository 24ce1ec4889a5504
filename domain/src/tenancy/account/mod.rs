//! Accounts: the tenants of the platform, their lifecycle and their credit balance.
//!
//! Decisions this module makes, so callers can rely on them:
//!
//! - **The balance never goes negative.** A debit (consumption, negative adjustment) that the
//!   balance cannot cover is refused with `INSUFFICIENT_CREDITS`.
//! - **Refunds after spending.** Reversing a refunded payment takes back
//!   `min(requested, balance)` credits; whatever could not be taken back because it was already
//!   spent is recorded as `shortfall` on the `CreditsRefunded` event, so finance sees the loss
//!   and the balance stays non-negative. Only as many credits as the payment granted may be
//!   reversed; a payment that was never granted is refused (`CONFLICT`).
//! - **Idempotent for process managers.** Granting a payment that was already granted, reversing
//!   a payment already reversed, activating an active account, renaming to the current name and
//!   changing to the current plan all succeed and record nothing. A second grant for the same
//!   payment with a *different* number of credits is refused (`CONFLICT`): that is a bug upstream,
//!   not a retry.
//! - **Refusals that are conflicts.** Suspending a suspended account, restoring a live one and
//!   any command but `Restore` on a soft-deleted account are refused with `CONFLICT`.
//! - **The system account** (slug [`SYSTEM_ACCOUNT_SLUG`]) is never suspended or deleted
//!   (`FORBIDDEN`).
//! - **Suspension stops consumption** (`FORBIDDEN`): the platform debits before it works, so a
//!   suspended account does no work. Grants, adjustments and refund reversals still apply, so a
//!   payment approved while suspended can be credited before the account is activated.
//! - **Included credits expire; purchased credits never do.** A subscription's period grants
//!   its plan's included credits (`IncludedCreditsGranted`); what is left of them when the
//!   period ends expires (`IncludedCreditsExpired`), recorded just before the next period's
//!   grant or when the subscription ends. Consumption and negative adjustments draw on the
//!   included credits first (they would expire anyway); a refund reversal takes back
//!   purchased credits first. So the included credits left are never more than the balance,
//!   and an expiry never touches credits someone paid for.
//! - **Restore** returns an account to the status it had when it was deleted; the
//!   `AccountRestored` event carries that status.
//!
//! Slug uniqueness is not an account's concern: [`SlugClaim`](super::slug_claim::SlugClaim),
//! keyed by the slug, is claimed for an account before that account is opened.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::AccountCommand;
pub use error::AccountError;
pub use event::AccountEvent;

use crate::billing::plan::{PlanTier, PlanVersionRef};
use crate::kit::money::Credits;
use crate::kit::text_enum;
use crate::kit::values::{AccountName, Slug};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The slug of the account this backend's own staff belong to.
pub const SYSTEM_ACCOUNT_SLUG: &str = "aws-admin";

/// The aggregate id of the system account, fixed so every installation agrees on it.
pub const SYSTEM_ACCOUNT_ID: Uuid = Uuid::from_u128(0x5157_e3a0_0000_4000_8000_aa55_ad31_0001);

text_enum! {
    pub enum AccountStatus {
        Active,
        Suspended,
    }
}

text_enum! {
    /// Where an account stands, as lists and filters show it: its status, or deleted (a soft
    /// delete keeps the status it returns to on restore).
    pub enum AccountState {
        Active,
        Suspended,
        Deleted,
    }
}

impl From<AccountStatus> for AccountState {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Active => Self::Active,
            AccountStatus::Suspended => Self::Suspended,
        }
    }
}

text_enum! {
    /// The kind of a credit ledger line: which movement of the balance it records.
    pub enum LedgerKind {
        /// A manual correction by an operator.
        Adjustment,
        /// Credits bought with an approved payment.
        Purchase,
        /// Credits spent by the platform.
        Consumption,
        /// Credits taken back when their payment was refunded.
        Refund,
        /// A plan's included credits for a subscription period.
        Included,
        /// Included credits left unused when their period ended.
        Expiry,
    }
}

/// The included credits of the latest period granted, and what is left of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Included {
    subscription_id: Uuid,
    period_start: DateTime<Utc>,
    /// The plan versions whose credits were granted for the period (an upgrade adds one).
    plans: Vec<PlanVersionRef>,
    remaining: Credits,
}

impl Included {
    fn is_period(&self, subscription_id: Uuid, period_start: DateTime<Utc>) -> bool {
        self.subscription_id == subscription_id && self.period_start == period_start
    }
}

/// What one payment granted, and whether that grant has been reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Grant {
    credits: Credits,
    reversed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    opened: bool,
    name: Option<AccountName>,
    slug: Option<Slug>,
    plan: PlanTier,
    status: AccountStatus,
    deleted: bool,
    balance: Credits,
    grants: BTreeMap<Uuid, Grant>,
    #[serde(default)]
    included: Option<Included>,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            opened: false,
            name: None,
            slug: None,
            plan: PlanTier::Free,
            status: AccountStatus::Active,
            deleted: false,
            balance: Credits::ZERO,
            grants: BTreeMap::new(),
            included: None,
        }
    }
}

impl Account {
    pub fn is_opened(&self) -> bool {
        self.opened
    }

    pub fn name(&self) -> Option<&AccountName> {
        self.name.as_ref()
    }

    pub fn slug(&self) -> Option<&Slug> {
        self.slug.as_ref()
    }

    pub fn plan(&self) -> PlanTier {
        self.plan
    }

    pub fn status(&self) -> AccountStatus {
        self.status
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    pub fn balance(&self) -> Credits {
        self.balance
    }

    /// What is left of the latest period's included credits (part of the balance).
    pub fn included_credits(&self) -> Credits {
        self.included
            .as_ref()
            .map_or(Credits::ZERO, |i| i.remaining)
    }

    pub fn is_system(&self) -> bool {
        self.slug
            .as_ref()
            .is_some_and(|slug| slug.as_str() == SYSTEM_ACCOUNT_SLUG)
    }

    /// The balance after a debit, or why the balance cannot cover it.
    fn debit(&self, amount: Credits) -> Result<Credits, AccountError> {
        match self.balance.checked_sub(amount) {
            Some(after) if after >= Credits::ZERO => Ok(after),
            _ => Err(AccountError::InsufficientCredits {
                balance: self.balance,
                requested: amount,
            }),
        }
    }

    fn credit(&self, amount: Credits) -> Result<Credits, AccountError> {
        self.balance
            .checked_add(amount)
            .ok_or(AccountError::BalanceOverflow)
    }

    /// The expiry a grant for a later period records first: what is left of the earlier one.
    fn expiry_before(&self, command: &AccountCommand) -> Option<AccountEvent> {
        let AccountCommand::GrantIncludedCredits { period_start, .. } = command else {
            return None;
        };
        let included = self.included.as_ref()?;
        (included.period_start < *period_start && included.remaining > Credits::ZERO).then(|| {
            AccountEvent::IncludedCreditsExpired {
                subscription_id: included.subscription_id,
                period_start: included.period_start,
                credits: included.remaining,
                balance_after: Credits::new(self.balance.get() - included.remaining.get()),
            }
        })
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: AccountCommand) -> Result<Option<AccountEvent>, AccountError> {
        use AccountCommand as C;
        use AccountEvent as E;
        match command {
            C::Open { .. } if self.opened => Err(AccountError::AlreadyOpened),
            C::Open {
                name,
                slug,
                owner_email,
                plan,
            } => Ok(Some(E::AccountOpened {
                name,
                slug,
                owner_email,
                plan,
            })),
            _ if !self.opened => Err(AccountError::NotFound),
            C::Restore if self.deleted => Ok(Some(E::AccountRestored {
                status: self.status,
            })),
            C::Restore => Err(AccountError::NotDeleted),
            _ if self.deleted => Err(AccountError::Deleted),
            C::Rename { name } if self.name.as_ref() == Some(&name) => Ok(None),
            C::Rename { name } => Ok(Some(E::AccountRenamed { name })),
            C::ChangePlan { plan } if plan == self.plan => Ok(None),
            C::ChangePlan { plan } => Ok(Some(E::AccountPlanChanged {
                from: self.plan,
                to: plan,
            })),
            C::Suspend { .. } | C::Delete { .. } if self.is_system() => {
                Err(AccountError::SystemAccountProtected)
            }
            C::Suspend { .. } if self.status == AccountStatus::Suspended => {
                Err(AccountError::AlreadySuspended)
            }
            C::Suspend { reason } => Ok(Some(E::AccountSuspended { reason })),
            C::Activate if self.status == AccountStatus::Active => Ok(None),
            C::Activate => Ok(Some(E::AccountActivated)),
            C::Delete { reason } => Ok(Some(E::AccountDeleted { reason })),
            C::AdjustCredits { amount, reason } => {
                let amount = Credits::signed(amount.get())?;
                let balance_after = if amount > Credits::ZERO {
                    self.credit(amount)?
                } else {
                    self.debit(Credits::new(-amount.get()))?
                };
                Ok(Some(E::CreditsAdjusted {
                    amount,
                    reason,
                    balance_after,
                }))
            }
            C::GrantPurchasedCredits {
                payment_id,
                credits,
            } => {
                let credits = Credits::positive(credits.get())?;
                match self.grants.get(&payment_id) {
                    Some(grant) if grant.credits == credits => Ok(None),
                    Some(grant) => Err(AccountError::GrantMismatch {
                        payment_id,
                        granted: grant.credits,
                    }),
                    None => Ok(Some(E::CreditsPurchased {
                        payment_id,
                        credits,
                        balance_after: self.credit(credits)?,
                    })),
                }
            }
            C::ConsumeCredits { .. } if self.status == AccountStatus::Suspended => {
                Err(AccountError::Suspended)
            }
            C::ConsumeCredits {
                operation,
                units,
                model,
                credits,
                cost_version,
            } => {
                if units < 1 {
                    return Err(AccountError::Invalid(format!(
                        "units must be at least 1, got {units}"
                    )));
                }
                let credits = Credits::positive(credits.get())?;
                Ok(Some(E::CreditsConsumed {
                    operation,
                    units,
                    model,
                    credits,
                    balance_after: self.debit(credits)?,
                    cost_version,
                }))
            }
            C::GrantIncludedCredits {
                subscription_id,
                period_start,
                plan,
                credits,
            } => {
                let credits = Credits::positive(credits.get())?;
                let granted = self.included.as_ref().is_some_and(|included| {
                    included.period_start > period_start
                        || (included.is_period(subscription_id, period_start)
                            && included.plans.contains(&plan))
                });
                if granted {
                    return Ok(None);
                }
                Ok(Some(E::IncludedCreditsGranted {
                    subscription_id,
                    period_start,
                    plan,
                    credits,
                    balance_after: self.credit(credits)?,
                }))
            }
            C::ExpireIncludedCredits {
                subscription_id,
                period_start,
            } => Ok(self
                .included
                .as_ref()
                .filter(|i| i.is_period(subscription_id, period_start))
                .filter(|i| i.remaining > Credits::ZERO)
                .map(|i| E::IncludedCreditsExpired {
                    subscription_id,
                    period_start,
                    credits: i.remaining,
                    balance_after: Credits::new(self.balance.get() - i.remaining.get()),
                })),
            C::ReverseRefundedCredits {
                payment_id,
                credits,
                reason,
            } => {
                let requested = Credits::positive(credits.get())?;
                let grant = self
                    .grants
                    .get(&payment_id)
                    .ok_or(AccountError::NotGranted(payment_id))?;
                if grant.reversed {
                    return Ok(None);
                }
                if requested > grant.credits {
                    return Err(AccountError::Invalid(format!(
                        "payment {payment_id} granted {} credits; {requested} cannot be reversed",
                        grant.credits
                    )));
                }
                let reversed = requested.min(self.balance);
                Ok(Some(E::CreditsRefunded {
                    payment_id,
                    requested,
                    reversed,
                    shortfall: Credits::new(requested.get() - reversed.get()),
                    reason,
                    balance_after: Credits::new(self.balance.get() - reversed.get()),
                }))
            }
        }
    }
}

impl crate::kit::event::StoredAggregate for Account {}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        // A grant for a new period first expires the old one's remainder; both are decided
        // before either is written, so a refused grant expires nothing.
        let Some(expiry) = self.expiry_before(&command) else {
            if let Some(event) = self.decide(command)? {
                sink.write(event, self).await;
            }
            return Ok(());
        };
        let mut expired = self.clone();
        expired.apply(expiry.clone());
        let grant = expired.decide(command)?;
        sink.write(expiry, self).await;
        if let Some(grant) = grant {
            sink.write(grant, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use AccountEvent as E;
        self.draw_included(&event);
        match event {
            E::AccountOpened {
                name, slug, plan, ..
            } => {
                self.opened = true;
                self.name = Some(name);
                self.slug = Some(slug);
                self.plan = plan;
                self.status = AccountStatus::Active;
            }
            E::AccountRenamed { name } => self.name = Some(name),
            E::AccountPlanChanged { to, .. } => self.plan = to,
            E::AccountSuspended { .. } => self.status = AccountStatus::Suspended,
            E::AccountActivated => self.status = AccountStatus::Active,
            E::AccountDeleted { .. } => self.deleted = true,
            E::AccountRestored { status } => {
                self.deleted = false;
                self.status = status;
            }
            E::CreditsAdjusted { balance_after, .. } | E::CreditsConsumed { balance_after, .. } => {
                self.balance = balance_after
            }
            E::CreditsPurchased {
                payment_id,
                credits,
                balance_after,
            } => {
                self.grants.insert(
                    payment_id,
                    Grant {
                        credits,
                        reversed: false,
                    },
                );
                self.balance = balance_after;
            }
            E::CreditsRefunded {
                payment_id,
                balance_after,
                ..
            } => {
                if let Some(grant) = self.grants.get_mut(&payment_id) {
                    grant.reversed = true;
                }
                self.balance = balance_after;
            }
            E::IncludedCreditsGranted {
                subscription_id,
                period_start,
                plan,
                credits,
                balance_after,
            } => {
                match &mut self.included {
                    Some(included) if included.is_period(subscription_id, period_start) => {
                        included.plans.push(plan);
                        included.remaining = Credits::new(included.remaining.get() + credits.get());
                    }
                    _ => {
                        self.included = Some(Included {
                            subscription_id,
                            period_start,
                            plans: vec![plan],
                            remaining: credits,
                        })
                    }
                }
                self.balance = balance_after;
            }
            E::IncludedCreditsExpired { balance_after, .. } => {
                if let Some(included) = &mut self.included {
                    included.remaining = Credits::ZERO;
                }
                self.balance = balance_after;
            }
        }
    }
}

impl Account {
    /// Takes a debit out of the included credits first (consumption, negative adjustment);
    /// any other decrease (a refund reversal) leaves them but never above the balance after.
    fn draw_included(&mut self, event: &AccountEvent) {
        let Some(included) = &mut self.included else {
            return;
        };
        let drawn = match event {
            AccountEvent::CreditsConsumed { credits, .. } => credits.get(),
            AccountEvent::CreditsAdjusted { amount, .. } if amount.get() < 0 => -amount.get(),
            _ => 0,
        };
        let balance_after = match event {
            AccountEvent::CreditsConsumed { balance_after, .. }
            | AccountEvent::CreditsAdjusted { balance_after, .. }
            | AccountEvent::CreditsRefunded { balance_after, .. } => *balance_after,
            _ => return,
        };
        let remaining = (included.remaining.get() - drawn).max(0);
        included.remaining = Credits::new(remaining.min(balance_after.get()));
    }
}

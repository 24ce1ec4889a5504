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
//! - **Restore** returns an account to the status it had when it was deleted; the
//!   `AccountRestored` event carries that status.
//!
//! Slug uniqueness is not an account's concern: [`SlugClaim`], keyed by the slug, is claimed
//! for an account before that account is opened.

use crate::error::{Coded, ErrorCode};
use crate::money::Credits;
use crate::plan::PlanTier;
use crate::values::{AccountName, Email, InvalidValue, ModelName, OperationType, Reason, Slug};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// The slug of the account this backend's own staff belong to.
pub const SYSTEM_ACCOUNT_SLUG: &str = "aws-admin";

/// The aggregate id of the system account, fixed so every installation agrees on it.
pub const SYSTEM_ACCOUNT_ID: Uuid = Uuid::from_u128(0x5157_e3a0_0000_4000_8000_aa55_ad31_0001);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountCommand {
    Open {
        name: AccountName,
        slug: Slug,
        owner_email: Email,
        plan: PlanTier,
    },
    Rename {
        name: AccountName,
    },
    ChangePlan {
        plan: PlanTier,
    },
    Suspend {
        reason: Reason,
    },
    /// Safe to repeat: activating an active account records nothing.
    Activate,
    /// Soft delete: the history stays and [`AccountCommand::Restore`] brings the account back.
    Delete {
        reason: Reason,
    },
    Restore,
    /// A manual correction by an operator: positive adds, negative subtracts.
    AdjustCredits {
        amount: Credits,
        reason: Reason,
    },
    /// Credits bought with an approved payment. Safe to repeat for the same payment.
    GrantPurchasedCredits {
        payment_id: Uuid,
        credits: Credits,
    },
    /// Credits spent by the platform on an operation, debited before the work is done.
    ConsumeCredits {
        operation: OperationType,
        units: i64,
        model: Option<ModelName>,
        credits: Credits,
    },
    /// Takes back the credits a refunded payment granted. Safe to repeat for the same payment.
    ReverseRefundedCredits {
        payment_id: Uuid,
        credits: Credits,
        reason: Reason,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum AccountEvent {
    AccountOpened {
        name: AccountName,
        slug: Slug,
        owner_email: Email,
        plan: PlanTier,
    },
    AccountRenamed {
        name: AccountName,
    },
    AccountPlanChanged {
        from: PlanTier,
        to: PlanTier,
    },
    AccountSuspended {
        reason: Reason,
    },
    AccountActivated,
    AccountDeleted {
        reason: Reason,
    },
    AccountRestored {
        /// The status the account returns to: the one it had when it was deleted.
        status: AccountStatus,
    },
    CreditsAdjusted {
        amount: Credits,
        reason: Reason,
        balance_after: Credits,
    },
    CreditsPurchased {
        payment_id: Uuid,
        credits: Credits,
        balance_after: Credits,
    },
    CreditsConsumed {
        operation: OperationType,
        units: i64,
        model: Option<ModelName>,
        credits: Credits,
        balance_after: Credits,
    },
    CreditsRefunded {
        payment_id: Uuid,
        /// What the refund asked to take back.
        requested: Credits,
        /// What was taken back: `min(requested, balance before)`.
        reversed: Credits,
        /// `requested - reversed`: credits already spent that could not be taken back.
        shortfall: Credits,
        reason: Reason,
        balance_after: Credits,
    },
}

crate::stored_event!(AccountEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this account is already open")]
    AlreadyOpened,
    /// `NOT_FOUND`
    #[error("no such account")]
    NotFound,
    /// `CONFLICT`
    #[error("the account is deleted; restore it first")]
    Deleted,
    /// `CONFLICT`
    #[error("the account is not deleted")]
    NotDeleted,
    /// `CONFLICT`
    #[error("the account is already suspended")]
    AlreadySuspended,
    /// `FORBIDDEN`
    #[error("the system account `{SYSTEM_ACCOUNT_SLUG}` cannot be suspended or deleted")]
    SystemAccountProtected,
    /// `FORBIDDEN`
    #[error("the account is suspended and may not consume credits")]
    Suspended,
    /// `INSUFFICIENT_CREDITS`
    #[error("the balance of {balance} credits cannot cover a debit of {requested}")]
    InsufficientCredits {
        balance: Credits,
        requested: Credits,
    },
    /// `VALIDATION`
    #[error("the balance would exceed the largest number of credits an account can hold")]
    BalanceOverflow,
    /// `CONFLICT`
    #[error("payment {payment_id} already granted {granted} credits")]
    GrantMismatch { payment_id: Uuid, granted: Credits },
    /// `CONFLICT`
    #[error("payment {0} granted no credits to this account, so none can be reversed")]
    NotGranted(Uuid),
}

impl From<InvalidValue> for AccountError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for AccountError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::BalanceOverflow => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::SystemAccountProtected | Self::Suspended => ErrorCode::Forbidden,
            Self::InsufficientCredits { .. } => ErrorCode::InsufficientCredits,
            Self::AlreadyOpened
            | Self::Deleted
            | Self::NotDeleted
            | Self::AlreadySuspended
            | Self::GrantMismatch { .. }
            | Self::NotGranted(_) => ErrorCode::Conflict,
        }
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
                }))
            }
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
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use AccountEvent as E;
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
        }
    }
}

/// Reserves a slug for one account. The aggregate id is the slug itself, so two concurrent
/// claims of one slug meet on one aggregate and the store's optimistic lock lets only one win.
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
mod aggregate_tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type AccountTest = TestFramework<Account>;
    type SlugClaimTest = TestFramework<SlugClaim>;

    const PAYMENT: Uuid = Uuid::from_u128(0xbee);

    fn name(value: &str) -> AccountName {
        AccountName::parse(value).unwrap()
    }

    fn reason(value: &str) -> Reason {
        Reason::parse(value).unwrap()
    }

    fn opened_with_slug(slug: &str) -> AccountEvent {
        AccountEvent::AccountOpened {
            name: name("Acme Content"),
            slug: Slug::parse(slug).unwrap(),
            owner_email: Email::parse("owner@acme.example").unwrap(),
            plan: PlanTier::Starter,
        }
    }

    fn opened() -> AccountEvent {
        opened_with_slug("acme")
    }

    fn suspended() -> AccountEvent {
        AccountEvent::AccountSuspended {
            reason: reason("unpaid invoice"),
        }
    }

    fn deleted() -> AccountEvent {
        AccountEvent::AccountDeleted {
            reason: reason("customer left"),
        }
    }

    fn purchased(payment_id: Uuid, credits: i64, balance_after: i64) -> AccountEvent {
        AccountEvent::CreditsPurchased {
            payment_id,
            credits: Credits::new(credits),
            balance_after: Credits::new(balance_after),
        }
    }

    fn consumed(credits: i64, balance_after: i64) -> AccountEvent {
        AccountEvent::CreditsConsumed {
            operation: OperationType::parse("content_generation").unwrap(),
            units: 1,
            model: Some(ModelName::parse("gpt-4o-mini").unwrap()),
            credits: Credits::new(credits),
            balance_after: Credits::new(balance_after),
        }
    }

    fn consume(credits: i64) -> AccountCommand {
        AccountCommand::ConsumeCredits {
            operation: OperationType::parse("content_generation").unwrap(),
            units: 1,
            model: Some(ModelName::parse("gpt-4o-mini").unwrap()),
            credits: Credits::new(credits),
        }
    }

    fn adjust(amount: i64) -> AccountCommand {
        AccountCommand::AdjustCredits {
            amount: Credits::new(amount),
            reason: reason("goodwill"),
        }
    }

    fn grant(payment_id: Uuid, credits: i64) -> AccountCommand {
        AccountCommand::GrantPurchasedCredits {
            payment_id,
            credits: Credits::new(credits),
        }
    }

    fn reverse(payment_id: Uuid, credits: i64) -> AccountCommand {
        AccountCommand::ReverseRefundedCredits {
            payment_id,
            credits: Credits::new(credits),
            reason: reason("payment refunded"),
        }
    }

    fn refunded(requested: i64, reversed: i64, balance_after: i64) -> AccountEvent {
        AccountEvent::CreditsRefunded {
            payment_id: PAYMENT,
            requested: Credits::new(requested),
            reversed: Credits::new(reversed),
            shortfall: Credits::new(requested - reversed),
            reason: reason("payment refunded"),
            balance_after: Credits::new(balance_after),
        }
    }

    // Lifecycle.

    #[tokio::test]
    async fn opening_an_account_records_its_name_slug_owner_and_plan() {
        AccountTest::with(())
            .given_no_previous_events()
            .when_async(AccountCommand::Open {
                name: name("Acme Content"),
                slug: Slug::parse("acme").unwrap(),
                owner_email: Email::parse("Owner@Acme.example").unwrap(),
                plan: PlanTier::Starter,
            })
            .await
            .then_expect_events(vec![opened()]);
    }

    #[tokio::test]
    async fn opening_an_account_twice_is_a_conflict() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Open {
                name: name("Other"),
                slug: Slug::parse("other").unwrap(),
                owner_email: Email::parse("x@other.example").unwrap(),
                plan: PlanTier::Free,
            })
            .await
            .then_expect_error(AccountError::AlreadyOpened);
    }

    #[tokio::test]
    async fn every_command_but_open_on_an_unknown_account_is_not_found() {
        let commands = vec![
            AccountCommand::Rename { name: name("X") },
            AccountCommand::ChangePlan {
                plan: PlanTier::Scale,
            },
            AccountCommand::Suspend {
                reason: reason("x"),
            },
            AccountCommand::Activate,
            AccountCommand::Delete {
                reason: reason("x"),
            },
            AccountCommand::Restore,
            adjust(10),
            grant(PAYMENT, 10),
            consume(1),
            reverse(PAYMENT, 1),
        ];
        for command in commands {
            AccountTest::with(())
                .given_no_previous_events()
                .when_async(command)
                .await
                .then_expect_error(AccountError::NotFound);
        }
    }

    #[tokio::test]
    async fn renaming_an_account_records_the_new_name() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Rename {
                name: name("Acme Media"),
            })
            .await
            .then_expect_events(vec![AccountEvent::AccountRenamed {
                name: name("Acme Media"),
            }]);
    }

    #[tokio::test]
    async fn renaming_an_account_to_its_current_name_records_nothing() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Rename {
                name: name("Acme Content"),
            })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn changing_the_plan_records_the_previous_and_the_new_tier() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::ChangePlan {
                plan: PlanTier::Growth,
            })
            .await
            .then_expect_events(vec![AccountEvent::AccountPlanChanged {
                from: PlanTier::Starter,
                to: PlanTier::Growth,
            }]);
    }

    #[tokio::test]
    async fn changing_to_the_current_plan_records_nothing() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::ChangePlan {
                plan: PlanTier::Starter,
            })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn suspending_an_active_account_records_the_reason() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Suspend {
                reason: reason("unpaid invoice"),
            })
            .await
            .then_expect_events(vec![suspended()]);
    }

    #[tokio::test]
    async fn suspending_a_suspended_account_is_a_conflict() {
        AccountTest::with(())
            .given(vec![opened(), suspended()])
            .when_async(AccountCommand::Suspend {
                reason: reason("again"),
            })
            .await
            .then_expect_error(AccountError::AlreadySuspended);
    }

    #[tokio::test]
    async fn the_system_account_cannot_be_suspended() {
        AccountTest::with(())
            .given(vec![opened_with_slug(SYSTEM_ACCOUNT_SLUG)])
            .when_async(AccountCommand::Suspend {
                reason: reason("oops"),
            })
            .await
            .then_expect_error(AccountError::SystemAccountProtected);
    }

    #[tokio::test]
    async fn the_system_account_cannot_be_deleted() {
        AccountTest::with(())
            .given(vec![opened_with_slug(SYSTEM_ACCOUNT_SLUG)])
            .when_async(AccountCommand::Delete {
                reason: reason("oops"),
            })
            .await
            .then_expect_error(AccountError::SystemAccountProtected);
    }

    #[tokio::test]
    async fn activating_a_suspended_account_records_its_activation() {
        AccountTest::with(())
            .given(vec![opened(), suspended()])
            .when_async(AccountCommand::Activate)
            .await
            .then_expect_events(vec![AccountEvent::AccountActivated]);
    }

    #[tokio::test]
    async fn activating_an_active_account_records_nothing_so_it_can_be_retried() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Activate)
            .await
            .then_expect_events(vec![]);
        AccountTest::with(())
            .given(vec![opened(), suspended(), AccountEvent::AccountActivated])
            .when_async(AccountCommand::Activate)
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn deleting_an_account_records_the_reason() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Delete {
                reason: reason("customer left"),
            })
            .await
            .then_expect_events(vec![deleted()]);
    }

    #[tokio::test]
    async fn a_suspended_account_can_be_deleted() {
        AccountTest::with(())
            .given(vec![opened(), suspended()])
            .when_async(AccountCommand::Delete {
                reason: reason("customer left"),
            })
            .await
            .then_expect_events(vec![deleted()]);
    }

    #[tokio::test]
    async fn a_deleted_account_refuses_everything_but_restore() {
        let commands = vec![
            AccountCommand::Rename { name: name("X") },
            AccountCommand::ChangePlan {
                plan: PlanTier::Scale,
            },
            AccountCommand::Suspend {
                reason: reason("x"),
            },
            AccountCommand::Activate,
            AccountCommand::Delete {
                reason: reason("x"),
            },
            adjust(10),
            grant(PAYMENT, 10),
            consume(1),
            reverse(PAYMENT, 1),
        ];
        for command in commands {
            AccountTest::with(())
                .given(vec![opened(), purchased(PAYMENT, 10, 10), deleted()])
                .when_async(command)
                .await
                .then_expect_error(AccountError::Deleted);
        }
    }

    #[tokio::test]
    async fn restoring_a_deleted_account_returns_it_to_the_status_it_had() {
        AccountTest::with(())
            .given(vec![opened(), deleted()])
            .when_async(AccountCommand::Restore)
            .await
            .then_expect_events(vec![AccountEvent::AccountRestored {
                status: AccountStatus::Active,
            }]);
        AccountTest::with(())
            .given(vec![opened(), suspended(), deleted()])
            .when_async(AccountCommand::Restore)
            .await
            .then_expect_events(vec![AccountEvent::AccountRestored {
                status: AccountStatus::Suspended,
            }]);
    }

    #[tokio::test]
    async fn a_restored_account_accepts_commands_again() {
        AccountTest::with(())
            .given(vec![
                opened(),
                deleted(),
                AccountEvent::AccountRestored {
                    status: AccountStatus::Active,
                },
            ])
            .when_async(AccountCommand::Rename {
                name: name("Acme Again"),
            })
            .await
            .then_expect_events(vec![AccountEvent::AccountRenamed {
                name: name("Acme Again"),
            }]);
    }

    #[tokio::test]
    async fn restoring_an_account_that_is_not_deleted_is_a_conflict() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(AccountCommand::Restore)
            .await
            .then_expect_error(AccountError::NotDeleted);
    }

    // Manual adjustments.

    #[tokio::test]
    async fn adding_credits_by_hand_records_the_balance_after() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(adjust(50))
            .await
            .then_expect_events(vec![AccountEvent::CreditsAdjusted {
                amount: Credits::new(50),
                reason: reason("goodwill"),
                balance_after: Credits::new(150),
            }]);
    }

    #[tokio::test]
    async fn subtracting_credits_by_hand_records_the_balance_after() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(adjust(-100))
            .await
            .then_expect_events(vec![AccountEvent::CreditsAdjusted {
                amount: Credits::new(-100),
                reason: reason("goodwill"),
                balance_after: Credits::ZERO,
            }]);
    }

    #[tokio::test]
    async fn an_adjustment_may_not_take_the_balance_below_zero() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(adjust(-101))
            .await
            .then_expect_error(AccountError::InsufficientCredits {
                balance: Credits::new(100),
                requested: Credits::new(101),
            });
    }

    #[tokio::test]
    async fn an_adjustment_of_zero_or_beyond_the_bound_is_invalid() {
        use crate::money::MAX_CREDIT_AMOUNT;
        for amount in [0, MAX_CREDIT_AMOUNT + 1, -MAX_CREDIT_AMOUNT - 1, i64::MIN] {
            let result = AccountTest::with(())
                .given(vec![opened()])
                .when_async(adjust(amount))
                .await
                .inspect_result();
            assert!(
                matches!(result, Err(AccountError::Invalid(_))),
                "{amount}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_balance_that_would_overflow_is_refused() {
        AccountTest::with(())
            .given(vec![
                opened(),
                AccountEvent::CreditsAdjusted {
                    amount: Credits::new(i64::MAX - 5),
                    reason: reason("imported"),
                    balance_after: Credits::new(i64::MAX - 5),
                },
            ])
            .when_async(adjust(10))
            .await
            .then_expect_error(AccountError::BalanceOverflow);
    }

    // Purchases.

    #[tokio::test]
    async fn a_purchase_grant_adds_credits_and_records_the_balance_after() {
        AccountTest::with(())
            .given(vec![opened()])
            .when_async(grant(PAYMENT, 500))
            .await
            .then_expect_events(vec![purchased(PAYMENT, 500, 500)]);
        AccountTest::with(())
            .given(vec![opened(), purchased(Uuid::from_u128(1), 40, 40)])
            .when_async(grant(PAYMENT, 500))
            .await
            .then_expect_events(vec![purchased(PAYMENT, 500, 540)]);
    }

    #[tokio::test]
    async fn granting_the_same_payment_twice_records_nothing() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 500, 500)])
            .when_async(grant(PAYMENT, 500))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn granting_a_reversed_payment_again_records_nothing() {
        AccountTest::with(())
            .given(vec![
                opened(),
                purchased(PAYMENT, 500, 500),
                refunded(500, 500, 0),
            ])
            .when_async(grant(PAYMENT, 500))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn granting_the_same_payment_with_other_credits_is_a_conflict() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 500, 500)])
            .when_async(grant(PAYMENT, 600))
            .await
            .then_expect_error(AccountError::GrantMismatch {
                payment_id: PAYMENT,
                granted: Credits::new(500),
            });
    }

    #[tokio::test]
    async fn a_grant_of_zero_negative_or_too_many_credits_is_invalid() {
        for credits in [0, -5, crate::money::MAX_CREDIT_AMOUNT + 1] {
            let result = AccountTest::with(())
                .given(vec![opened()])
                .when_async(grant(PAYMENT, credits))
                .await
                .inspect_result();
            assert!(
                matches!(result, Err(AccountError::Invalid(_))),
                "{credits}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_suspended_account_still_receives_purchased_credits() {
        AccountTest::with(())
            .given(vec![opened(), suspended()])
            .when_async(grant(PAYMENT, 500))
            .await
            .then_expect_events(vec![purchased(PAYMENT, 500, 500)]);
    }

    // Consumption.

    #[tokio::test]
    async fn consumption_debits_the_balance_and_records_the_operation() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(consume(30))
            .await
            .then_expect_events(vec![consumed(30, 70)]);
    }

    #[tokio::test]
    async fn consumption_may_spend_the_balance_down_to_exactly_zero() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(consume(100))
            .await
            .then_expect_events(vec![consumed(100, 0)]);
    }

    #[tokio::test]
    async fn consumption_beyond_the_balance_is_insufficient_credits() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(consume(101))
            .await
            .then_expect_error(AccountError::InsufficientCredits {
                balance: Credits::new(100),
                requested: Credits::new(101),
            });
    }

    #[tokio::test]
    async fn a_suspended_account_may_not_consume_credits() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100), suspended()])
            .when_async(consume(1))
            .await
            .then_expect_error(AccountError::Suspended);
    }

    #[tokio::test]
    async fn consumption_needs_at_least_one_unit_and_a_positive_bounded_debit() {
        let no_units = AccountCommand::ConsumeCredits {
            operation: OperationType::parse("image_generation").unwrap(),
            units: 0,
            model: None,
            credits: Credits::new(1),
        };
        for command in [no_units, consume(0), consume(-1), consume(i64::MAX)] {
            let result = AccountTest::with(())
                .given(vec![opened(), purchased(PAYMENT, 100, 100)])
                .when_async(command.clone())
                .await
                .inspect_result();
            assert!(
                matches!(result, Err(AccountError::Invalid(_))),
                "{command:?}: {result:?}"
            );
        }
    }

    // Refund reversals.

    #[tokio::test]
    async fn a_refund_reverses_the_credits_the_payment_granted() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 500, 500)])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_events(vec![refunded(500, 500, 0)]);
    }

    #[tokio::test]
    async fn a_refund_after_credits_were_spent_reverses_what_is_left_and_records_the_shortfall() {
        AccountTest::with(())
            .given(vec![
                opened(),
                purchased(PAYMENT, 500, 500),
                consumed(350, 150),
            ])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_events(vec![refunded(500, 150, 0)]);
    }

    #[tokio::test]
    async fn a_refund_on_an_empty_balance_records_the_whole_amount_as_shortfall() {
        AccountTest::with(())
            .given(vec![
                opened(),
                purchased(PAYMENT, 500, 500),
                consumed(500, 0),
            ])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_events(vec![refunded(500, 0, 0)]);
    }

    #[tokio::test]
    async fn reversing_the_same_payment_twice_records_nothing() {
        AccountTest::with(())
            .given(vec![
                opened(),
                purchased(PAYMENT, 500, 500),
                adjust_event(1000, 1500),
                refunded(500, 500, 1000),
            ])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_events(vec![]);
    }

    fn adjust_event(amount: i64, balance_after: i64) -> AccountEvent {
        AccountEvent::CreditsAdjusted {
            amount: Credits::new(amount),
            reason: reason("goodwill"),
            balance_after: Credits::new(balance_after),
        }
    }

    #[tokio::test]
    async fn reversing_a_payment_that_granted_nothing_is_a_conflict() {
        AccountTest::with(())
            .given(vec![opened(), adjust_event(1000, 1000)])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_error(AccountError::NotGranted(PAYMENT));
    }

    #[tokio::test]
    async fn reversing_more_than_the_payment_granted_is_invalid() {
        let result = AccountTest::with(())
            .given(vec![
                opened(),
                purchased(PAYMENT, 500, 500),
                adjust_event(1000, 1500),
            ])
            .when_async(reverse(PAYMENT, 501))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(AccountError::Invalid(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_refund_reversal_applies_to_a_suspended_account() {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 500, 500), suspended()])
            .when_async(reverse(PAYMENT, 500))
            .await
            .then_expect_events(vec![refunded(500, 500, 0)]);
    }

    // Slug claims.

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

    // Codes and constants.

    #[test]
    fn refusals_map_to_their_documented_codes() {
        assert_eq!(AccountError::Deleted.code(), ErrorCode::Conflict);
        assert_eq!(
            AccountError::SystemAccountProtected.code(),
            ErrorCode::Forbidden
        );
        assert_eq!(
            AccountError::InsufficientCredits {
                balance: Credits::ZERO,
                requested: Credits::new(1)
            }
            .code(),
            ErrorCode::InsufficientCredits
        );
        assert_eq!(SlugClaimError::Taken.code(), ErrorCode::Conflict);
    }

    #[test]
    fn the_system_account_has_a_valid_slug_and_a_fixed_id() {
        assert_eq!(
            Slug::parse(SYSTEM_ACCOUNT_SLUG).unwrap().as_str(),
            SYSTEM_ACCOUNT_SLUG
        );
        assert_eq!(
            SYSTEM_ACCOUNT_ID.to_string(),
            "5157e3a0-0000-4000-8000-aa55ad310001"
        );
    }

    #[tokio::test]
    async fn folding_the_events_gives_the_balance_the_last_event_recorded() {
        let mut account = Account::default();
        for event in [
            opened(),
            purchased(PAYMENT, 500, 500),
            consumed(350, 150),
            refunded(500, 150, 0),
        ] {
            account.apply(event);
        }
        assert_eq!(account.balance(), Credits::ZERO);
        assert_eq!(account.plan(), PlanTier::Starter);
        assert_eq!(account.status(), AccountStatus::Active);
    }
}

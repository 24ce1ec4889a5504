//! What an account records: facts already decided (e.g. `balance_after`), so readers only fold.

use super::AccountStatus;
use crate::billing::plan::{PlanTier, PlanVersionRef};
use crate::kit::money::Credits;
use crate::kit::values::{AccountName, Email, ModelName, OperationType, Reason, Slug};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
        /// The credit-cost version of `operation` that priced it; absent when the platform
        /// stated the credits itself (and in every event written before prices were versioned,
        /// which is why it is optional and omitted when empty: older payloads read unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_version: Option<i32>,
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
    /// A plan's included credits for one period of a subscription. They expire at the
    /// period's end; purchased credits never do.
    IncludedCreditsGranted {
        subscription_id: Uuid,
        period_start: DateTime<Utc>,
        plan: PlanVersionRef,
        credits: Credits,
        balance_after: Credits,
    },
    /// What was left of a period's included credits when the period ended.
    IncludedCreditsExpired {
        subscription_id: Uuid,
        period_start: DateTime<Utc>,
        credits: Credits,
        balance_after: Credits,
    },
}

crate::stored_event!(AccountEvent);

impl AccountEvent {
    /// The movement of the balance this event records, if any: the ledger line's kind, its
    /// signed amount (positive adds to the balance) and the balance after it. The one mapping
    /// from events to ledger lines; the ledger and the daily figures both read it.
    pub fn credit_movement(&self) -> Option<(super::LedgerKind, i64, i64)> {
        use super::LedgerKind;
        Some(match self {
            Self::CreditsAdjusted {
                amount,
                balance_after,
                ..
            } => (LedgerKind::Adjustment, amount.get(), balance_after.get()),
            Self::CreditsPurchased {
                credits,
                balance_after,
                ..
            } => (LedgerKind::Purchase, credits.get(), balance_after.get()),
            Self::CreditsConsumed {
                credits,
                balance_after,
                ..
            } => (LedgerKind::Consumption, -credits.get(), balance_after.get()),
            Self::CreditsRefunded {
                reversed,
                balance_after,
                ..
            } => (LedgerKind::Refund, -reversed.get(), balance_after.get()),
            Self::IncludedCreditsGranted {
                credits,
                balance_after,
                ..
            } => (LedgerKind::Included, credits.get(), balance_after.get()),
            Self::IncludedCreditsExpired {
                credits,
                balance_after,
                ..
            } => (LedgerKind::Expiry, -credits.get(), balance_after.get()),
            _ => return None,
        })
    }
}

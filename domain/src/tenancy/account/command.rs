//! What may be asked of an account.

use crate::billing::plan::{PlanTier, PlanVersionRef};
use crate::kit::money::Credits;
use crate::kit::values::{AccountName, Email, ModelName, OperationType, Reason, Slug};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
        /// The credit-cost version that priced it, when the service priced it.
        cost_version: Option<i32>,
    },
    /// The included credits of a subscription's period (or an upgrade's top-up within it,
    /// `plan` naming the version that includes them). Granting for a later period first
    /// expires what is left of the earlier one. Safe to repeat: a period and plan already
    /// granted, or a period older than the one granted, record nothing.
    GrantIncludedCredits {
        subscription_id: Uuid,
        period_start: DateTime<Utc>,
        plan: PlanVersionRef,
        credits: Credits,
    },
    /// Expires what is left of a period's included credits (its subscription ended). Safe to
    /// repeat; records nothing for any period but the one whose credits the account holds.
    ExpireIncludedCredits {
        subscription_id: Uuid,
        period_start: DateTime<Utc>,
    },
    /// Takes back the credits a refunded payment granted. Safe to repeat for the same payment.
    ReverseRefundedCredits {
        payment_id: Uuid,
        credits: Credits,
        reason: Reason,
    },
}

//! What may be asked of an account.

use crate::billing::plan::PlanTier;
use crate::kit::money::Credits;
use crate::kit::values::{AccountName, Email, ModelName, OperationType, Reason, Slug};
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
    /// Takes back the credits a refunded payment granted. Safe to repeat for the same payment.
    ReverseRefundedCredits {
        payment_id: Uuid,
        credits: Credits,
        reason: Reason,
    },
}

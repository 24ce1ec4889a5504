//! The platform's daily figures: what each one counts, defined once. The read model
//! `read.daily_metrics` holds one value per metric, business day (UTC) and currency (money
//! figures only); the dashboard's figures and its time series are sums of these.

use crate::kit::text_enum;
use crate::operations::activity::{Activity, ActivityKind};
use crate::tenancy::account::LedgerKind;

text_enum! {
    /// A figure counted per day.
    #[derive(PartialOrd, Ord)]
    pub enum Metric {
        /// Accounts opened that day.
        AccountsOpened,
        /// Credits granted: a plan's included credits for a period, plus manual adjustments
        /// upwards (an adjustment downwards counts in `CreditsDeducted`).
        CreditsGranted,
        /// Credits taken off by hand (manual adjustments downwards), as a positive number.
        CreditsDeducted,
        /// Credits bought with approved payments.
        CreditsPurchased,
        /// Credits the platform consumed, as a positive number.
        CreditsConsumed,
        /// Credits taken back by refunds, as a positive number.
        CreditsRefunded,
        /// Included credits that expired unused at the end of their period, as a positive number.
        CreditsExpired,
        /// AI calls made (succeeded or failed).
        AiCalls,
        /// AI calls that failed.
        AiCallsFailed,
        /// Tokens sent to AI providers.
        AiInputTokens,
        /// Tokens AI providers answered with.
        AiOutputTokens,
        /// What AI calls cost the platform, in minor units of the cost's currency.
        AiCost,
        /// Content records reported (an item's every change of status counts).
        ContentRecords,
        /// Words of content reported published.
        WordsPublished,
        /// Automation runs that ended successfully.
        AutomationsSucceeded,
        /// Automation runs that failed.
        AutomationsFailed,
        /// Syncs with connected sites that succeeded.
        SyncsSucceeded,
        /// Syncs with connected sites that failed.
        SyncsFailed,
        /// Publications to connected sites that succeeded.
        PublishesSucceeded,
        /// Publications to connected sites that failed.
        PublishesFailed,
        /// Sign-ins of people of accounts.
        Logins,
        /// Money received: approved payments, in minor units of their currency, on the day of
        /// approval.
        RevenuePaid,
        /// Money given back: refunded payments, in minor units of their currency, on the day of
        /// the refund. Net revenue is `RevenuePaid - RevenueRefunded`.
        RevenueRefunded,
    }
}

impl Metric {
    /// Whether the figure is money, counted per currency (the others are counts).
    pub fn is_money(self) -> bool {
        matches!(
            self,
            Self::AiCost | Self::RevenuePaid | Self::RevenueRefunded
        )
    }
}

/// What a credit movement of the ledger adds, by metric: `amount` is signed as the ledger
/// signs it (positive adds to the balance).
pub fn of_credits(kind: LedgerKind, amount: i64) -> Option<(Metric, i64)> {
    Some(match kind {
        LedgerKind::Included => (Metric::CreditsGranted, amount),
        LedgerKind::Adjustment if amount >= 0 => (Metric::CreditsGranted, amount),
        LedgerKind::Adjustment => (Metric::CreditsDeducted, -amount),
        LedgerKind::Purchase => (Metric::CreditsPurchased, amount),
        LedgerKind::Consumption => (Metric::CreditsConsumed, -amount),
        LedgerKind::Refund => (Metric::CreditsRefunded, -amount),
        LedgerKind::Expiry => (Metric::CreditsExpired, -amount),
    })
    .filter(|(_, value)| *value != 0)
}

/// What an activity record adds, by metric; money figures with their currency.
pub fn of_activity(activity: &Activity) -> Vec<(Metric, Option<&str>, i64)> {
    use crate::operations::activity::{ContentStatus, RunStatus, UserAction};
    match activity {
        Activity::AiCall {
            input_tokens,
            output_tokens,
            cost,
            succeeded,
            ..
        } => {
            let mut figures = vec![
                (Metric::AiCalls, None, 1),
                (Metric::AiInputTokens, None, *input_tokens),
                (Metric::AiOutputTokens, None, *output_tokens),
                (
                    Metric::AiCost,
                    Some(cost.currency.as_str()),
                    cost.minor_units,
                ),
            ];
            if !succeeded {
                figures.push((Metric::AiCallsFailed, None, 1));
            }
            figures
        }
        Activity::Content { status, words, .. } => {
            let mut figures = vec![(Metric::ContentRecords, None, 1)];
            if *status == ContentStatus::Published {
                figures.push((Metric::WordsPublished, None, *words));
            }
            figures
        }
        Activity::AutomationRun { status, .. } => match status {
            RunStatus::Started => vec![],
            RunStatus::Succeeded => vec![(Metric::AutomationsSucceeded, None, 1)],
            RunStatus::Failed => vec![(Metric::AutomationsFailed, None, 1)],
        },
        Activity::Sync { succeeded, .. } | Activity::Publish { succeeded, .. } => {
            let metric = match (activity.kind(), succeeded) {
                (ActivityKind::Sync, true) => Metric::SyncsSucceeded,
                (ActivityKind::Sync, false) => Metric::SyncsFailed,
                (_, true) => Metric::PublishesSucceeded,
                (_, false) => Metric::PublishesFailed,
            };
            vec![(metric, None, 1)]
        }
        Activity::UserActivity { action, .. } => match action {
            UserAction::Login => vec![(Metric::Logins, None, 1)],
            UserAction::Active => vec![],
        },
        Activity::Task { .. } => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_count_by_which_way_they_move() {
        assert_eq!(
            of_credits(LedgerKind::Adjustment, 50),
            Some((Metric::CreditsGranted, 50))
        );
        assert_eq!(
            of_credits(LedgerKind::Adjustment, -20),
            Some((Metric::CreditsDeducted, 20))
        );
        assert_eq!(
            of_credits(LedgerKind::Consumption, -7),
            Some((Metric::CreditsConsumed, 7))
        );
        assert_eq!(of_credits(LedgerKind::Refund, 0), None);
    }
}

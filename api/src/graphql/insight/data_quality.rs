//! The data quality report: inconsistencies the read models reveal, each a check with what it
//! looks for, how many records it finds and a sample of their ids. A finding is a lead, not a
//! verdict: a record a projection has not reached yet can show for a moment (see `lag` on the
//! dashboard), and some findings are facts of the business to follow up rather than defects.

use crate::error::ApiError;
use crate::graphql::{services, Rule};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::identity::permission::Permission;
use sqlx::Row;

/// The most ids one check samples.
const MAX_SAMPLE: i32 = 100;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DataQualityCheckKind {
    AccountsWithoutOwner,
    NegativeBalances,
    BalanceNotLedger,
    SubscriptionsWithoutInvoice,
    SubscriptionsOnInactivePlans,
    PaymentsPendingPastDue,
    ApprovedPaymentsWithoutCredits,
    PaidInvoicesWithoutPayment,
    InvoicesOverdue,
    ConsumptionWithoutCostVersion,
    RefundShortfalls,
    ActivityOnInactiveAccounts,
}

/// What a check looks for, what its sample ids name, and the query listing those ids (in a
/// stable order).
struct Check {
    kind: DataQualityCheckKind,
    description: &'static str,
    subject: &'static str,
    ids: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        kind: DataQualityCheckKind::AccountsWithoutOwner,
        description: "accounts (not deleted) without a user in the owner role who is invited or \
                      active (the system account, whose people are operators, aside)",
        subject: "account",
        // `aws-admin` is `SYSTEM_ACCOUNT_SLUG`.
        ids: "SELECT a.id::text FROM read.accounts a WHERE a.status <> 'deleted' \
              AND a.slug <> 'aws-admin' AND NOT EXISTS \
              (SELECT 1 FROM read.platform_users u WHERE u.account_id = a.id AND u.role = 'owner' \
               AND NOT u.deleted AND u.status <> 'inactive') ORDER BY a.created_at, a.id",
    },
    Check {
        kind: DataQualityCheckKind::NegativeBalances,
        description: "accounts whose credit balance is below zero",
        subject: "account",
        ids: "SELECT a.id::text FROM read.accounts a WHERE a.balance < 0 ORDER BY a.balance, a.id",
    },
    Check {
        kind: DataQualityCheckKind::BalanceNotLedger,
        description: "accounts whose balance differs from the balance after their latest ledger \
                      entry (the two projections disagree, or one is behind)",
        subject: "account",
        ids: "SELECT a.id::text FROM read.accounts a CROSS JOIN LATERAL \
              (SELECT l.balance_after FROM read.credit_ledger l WHERE l.account_id = a.id \
               ORDER BY l.position DESC LIMIT 1) last \
              WHERE last.balance_after <> a.balance ORDER BY a.id",
    },
    Check {
        kind: DataQualityCheckKind::SubscriptionsWithoutInvoice,
        description: "paid subscriptions (trialing aside) that were never invoiced",
        subject: "subscription",
        ids: "SELECT s.id::text FROM read.subscriptions s WHERE s.status IN ('active', 'past_due') \
              AND s.price_minor > 0 AND NOT EXISTS (SELECT 1 FROM read.invoices i \
              WHERE i.subject_kind = 'subscription' AND i.subject_id = s.id) \
              ORDER BY s.started_at, s.id",
    },
    Check {
        kind: DataQualityCheckKind::SubscriptionsOnInactivePlans,
        description: "live subscriptions (trialing, active, past due) on a plan since deactivated",
        subject: "subscription",
        ids: "SELECT s.id::text FROM read.subscriptions s JOIN read.plans p ON p.id = s.plan_id \
              WHERE s.status IN ('trialing', 'active', 'past_due') AND NOT p.active \
              ORDER BY s.started_at, s.id",
    },
    Check {
        kind: DataQualityCheckKind::PaymentsPendingPastDue,
        description: "payments awaiting approval for more than 7 days, or for an invoice now past due",
        subject: "payment",
        ids: "SELECT p.id::text FROM read.payments p LEFT JOIN read.invoices i ON i.id = p.invoice_id \
              WHERE p.status = 'pending' AND (p.recorded_at < now() - interval '7 days' \
              OR i.due_at < now()) ORDER BY p.recorded_at, p.id",
    },
    Check {
        kind: DataQualityCheckKind::ApprovedPaymentsWithoutCredits,
        description: "approved payments for credits with no purchase in the credit ledger",
        subject: "payment",
        ids: "SELECT p.id::text FROM read.payments p WHERE p.status = 'approved' AND p.credits > 0 \
              AND NOT EXISTS (SELECT 1 FROM read.credit_ledger l WHERE l.account_id = p.account_id \
              AND l.payment_id = p.id AND l.kind = 'purchase') ORDER BY p.approved_at, p.id",
    },
    Check {
        kind: DataQualityCheckKind::PaidInvoicesWithoutPayment,
        description: "invoices marked paid that name no payment",
        subject: "invoice",
        ids: "SELECT i.id::text FROM read.invoices i WHERE i.status = 'paid' \
              AND i.payment_id IS NULL ORDER BY i.paid_at, i.id",
    },
    Check {
        kind: DataQualityCheckKind::InvoicesOverdue,
        description: "invoices pending past their due time",
        subject: "invoice",
        ids: "SELECT i.id::text FROM read.invoices i WHERE i.status = 'pending' \
              AND i.due_at < now() ORDER BY i.due_at, i.id",
    },
    Check {
        kind: DataQualityCheckKind::ConsumptionWithoutCostVersion,
        description: "credit consumptions priced by no credit cost version (the platform gave \
                      its own figure, or they were recorded before costs were versioned)",
        subject: "ledger position",
        ids: "SELECT l.position::text FROM read.credit_ledger l WHERE l.kind = 'consumption' \
              AND l.cost_version IS NULL ORDER BY l.position",
    },
    Check {
        kind: DataQualityCheckKind::RefundShortfalls,
        description: "refunds that could not take back every credit the payment granted, because \
                      the account had spent them (credits given away)",
        subject: "ledger position",
        ids: "SELECT l.position::text FROM read.credit_ledger l WHERE l.kind = 'refund' \
              AND l.shortfall > 0 ORDER BY l.position",
    },
    Check {
        kind: DataQualityCheckKind::ActivityOnInactiveAccounts,
        description: "suspended or deleted accounts the platform reported activity for in the \
                      last 30 days",
        subject: "account",
        ids: "SELECT a.id::text FROM read.accounts a WHERE a.status IN ('suspended', 'deleted') \
              AND EXISTS (SELECT 1 FROM read.activity_daily x WHERE x.account_id = a.id \
              AND x.day > (now() AT TIME ZONE 'UTC')::date - 30) ORDER BY a.id",
    },
];

/// One check's findings.
#[derive(SimpleObject, Debug, Clone)]
pub struct DataQualityCheck {
    pub check: DataQualityCheckKind,
    /// What the check looks for.
    pub description: String,
    /// What the sample ids name: `account`, `subscription`, `payment`, `invoice` or
    /// `ledger position`.
    pub subject: String,
    /// How many records it found.
    pub count: i64,
    /// The first of them, in a stable order.
    pub sample: Vec<String>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct DataQualityReport {
    pub checked_at: DateTime<Utc>,
    pub checks: Vec<DataQualityCheck>,
}

#[derive(Default)]
pub struct DataQualityQuery;

#[Object]
impl DataQualityQuery {
    /// Runs the data quality checks (all of them, or those named in `checks`), each with how
    /// many records it finds and the ids of the first `sample` of them (0 to 100; default 10).
    #[graphql(guard = "Rule::Can(Permission::InsightRead)")]
    async fn data_quality_report(
        &self,
        ctx: &Context<'_>,
        checks: Option<Vec<DataQualityCheckKind>>,
        sample: Option<i32>,
    ) -> Result<DataQualityReport, ApiError> {
        let sample = sample.unwrap_or(10);
        if !(0..=MAX_SAMPLE).contains(&sample) {
            return Err(ApiError::validation(format!(
                "`sample` must be between 0 and {MAX_SAMPLE}"
            )));
        }
        let pool = &services(ctx).pool;
        let mut found = Vec::new();
        for check in CHECKS {
            if checks
                .as_ref()
                .is_some_and(|only| !only.contains(&check.kind))
            {
                continue;
            }
            // The count is over every id, the sample its first few.
            let rows = sqlx::query(&format!(
                "SELECT id, count(*) OVER () AS found FROM ({}) AS f(id) LIMIT greatest($1, 1)",
                check.ids
            ))
            .bind(i64::from(sample))
            .fetch_all(pool)
            .await?;
            let count = rows
                .first()
                .map(|r| r.try_get::<i64, _>("found"))
                .transpose()?
                .unwrap_or(0);
            let sample = rows
                .iter()
                .take(sample as usize)
                .map(|r| r.try_get::<String, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
            found.push(DataQualityCheck {
                check: check.kind,
                description: check.description.to_string(),
                subject: check.subject.to_string(),
                count,
                sample,
            });
        }
        Ok(DataQualityReport {
            checked_at: Utc::now(),
            checks: found,
        })
    }
}

//! Projection `mrr`: every change of an account's monthly recurring revenue, named as
//! `domain::insight::mrr` defines it. Subscription events are few (a handful per account and
//! month), so each is applied with a statement or two, in log order.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::subscription::{Subscription, SubscriptionEvent};
use domain::insight::mrr::{MrrChange, MrrMovement};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "mrr";

pub struct MrrProjection;

/// An account's MRR: its plan, currency and amount, and whether it ever paid.
#[derive(sqlx::FromRow, Clone)]
struct Current {
    plan_code: String,
    currency: String,
    mrr: i64,
    paid_before: bool,
}

#[async_trait]
impl EventHandler for MrrProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Subscription::TYPE])
    }

    /// Only the executive metrics read it: commands on subscriptions do not wait for it.
    fn answers_wait(&self) -> bool {
        false
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.mrr_movements", "read.account_mrr"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.mrr_movements, read.account_mrr")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events
            .iter()
            .filter(|e| e.aggregate_type == Subscription::TYPE)
        {
            let Some(decoded) = event.decode::<SubscriptionEvent>()? else {
                continue;
            };
            let Some(change) = MrrChange::of(&decoded) else {
                continue;
            };
            let account = account_of(&decoded);
            let day = event.metadata()?.occurred_at.date_naive();
            let current: Option<Current> = sqlx::query_as(
                "SELECT plan_code, currency, mrr, paid_before FROM read.account_mrr \
                 WHERE account_id = $1",
            )
            .bind(account)
            .fetch_optional(&mut *conn)
            .await?;
            let next = match (&change, &current) {
                (MrrChange::Pays { plan_code, monthly }, _) => Current {
                    plan_code: plan_code.clone(),
                    currency: monthly.currency.as_str().to_string(),
                    mrr: monthly.minor_units,
                    paid_before: false,
                },
                (MrrChange::Stops, Some(now)) => Current {
                    mrr: 0,
                    ..now.clone()
                },
                // Stopping what never paid (a trial's start): nothing to record.
                (MrrChange::Stops, None) => continue,
            };
            let was = current.clone().unwrap_or(Current {
                mrr: 0,
                ..next.clone()
            });
            let paid_before = was.paid_before || was.mrr > 0;
            // A change of currency is the old MRR churning and the new arriving.
            let steps: Vec<(&Current, i64, i64, bool)> = if was.currency != next.currency {
                vec![
                    (&was, was.mrr, 0, paid_before),
                    (&next, 0, next.mrr, paid_before),
                ]
            } else {
                vec![(&next, was.mrr, next.mrr, paid_before)]
            };
            for (side, before, after, paid) in steps {
                let Some(kind) = MrrMovement::classify(before, after, paid) else {
                    continue;
                };
                let plan = if kind == MrrMovement::Churn {
                    &was.plan_code
                } else {
                    &side.plan_code
                };
                sqlx::query(
                    "INSERT INTO read.mrr_movements (position, account_id, day, kind, plan_code, \
                     currency, mrr_before, mrr_after, delta) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(event.at.position)
                .bind(account)
                .bind(day)
                .bind(kind.as_str())
                .bind(plan)
                .bind(&side.currency)
                .bind(before)
                .bind(after)
                .bind(after - before)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query(
                "INSERT INTO read.account_mrr (account_id, plan_code, currency, mrr, paid_before) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
                 plan_code = $2, currency = $3, mrr = $4, paid_before = $5",
            )
            .bind(account)
            .bind(&next.plan_code)
            .bind(&next.currency)
            .bind(next.mrr)
            .bind(paid_before || next.mrr > 0)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

fn account_of(event: &SubscriptionEvent) -> Uuid {
    use SubscriptionEvent as E;
    match event {
        E::SubscriptionStarted { account_id, .. }
        | E::SubscriptionActivated { account_id, .. }
        | E::SubscriptionRenewed { account_id, .. }
        | E::SubscriptionUpgraded { account_id, .. }
        | E::SubscriptionDowngradeScheduled { account_id, .. }
        | E::SubscriptionCancellationScheduled { account_id, .. }
        | E::SubscriptionCancelled { account_id, .. }
        | E::SubscriptionPastDue { account_id, .. }
        | E::SubscriptionExpired { account_id, .. } => *account_id,
    }
}

//! Projection `revenue`: revenue facts, the money approved and refunded per day, plan, payment
//! method and currency, for the reports.
//!
//! A payment counts on the (business) day it was approved, under the plan its account was on
//! then (its subscription's plan code, or its tier without one) and the method it was recorded
//! with; a refund is taken off on its own day, under the plan and method the payment was
//! counted under. The projection keeps what it attributes by (accounts' plans, payments'
//! methods) in its own tables, so it reads nothing but the log.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::billing::payment::{Payment, PaymentEvent};
use domain::billing::subscription::{Subscription, SubscriptionEvent};
use domain::kit::money::Money;
use domain::tenancy::account::{Account, AccountEvent};
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "revenue";

pub struct RevenueProjection;

#[async_trait]
impl EventHandler for RevenueProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Payment::TYPE, Subscription::TYPE, Account::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "read.revenue_facts",
            "read.revenue_account_plans",
            "read.revenue_payments",
        ]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query(
            "TRUNCATE read.revenue_facts, read.revenue_account_plans, read.revenue_payments",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        for event in events {
            match event.aggregate_type.as_str() {
                Account::TYPE => match event.decode::<AccountEvent>()? {
                    Some(AccountEvent::AccountOpened { plan, .. })
                    | Some(AccountEvent::AccountPlanChanged { to: plan, .. }) => {
                        let account: Uuid = event.aggregate_id.parse()?;
                        set_plan(conn, account, plan.as_str()).await?;
                    }
                    _ => {}
                },
                Subscription::TYPE => match event.decode::<SubscriptionEvent>()? {
                    Some(SubscriptionEvent::SubscriptionStarted {
                        account_id, plan, ..
                    })
                    | Some(SubscriptionEvent::SubscriptionRenewed {
                        account_id, plan, ..
                    })
                    | Some(SubscriptionEvent::SubscriptionActivated {
                        account_id, plan, ..
                    })
                    | Some(SubscriptionEvent::SubscriptionUpgraded {
                        account_id,
                        to: plan,
                        ..
                    }) => set_plan(conn, account_id, plan.code.as_str()).await?,
                    _ => {}
                },
                Payment::TYPE => {
                    if let Some(parsed) = event.decode::<PaymentEvent>()? {
                        let day = event.metadata()?.occurred_at.date_naive();
                        on_payment(conn, event.aggregate_id.parse()?, parsed, day).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

async fn set_plan(conn: &mut PgConnection, account: Uuid, plan: &str) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO read.revenue_account_plans (account_id, plan_code) VALUES ($1, $2) \
         ON CONFLICT (account_id) DO UPDATE SET plan_code = EXCLUDED.plan_code",
    )
    .bind(account)
    .bind(plan)
    .execute(conn)
    .await?;
    Ok(())
}

async fn on_payment(
    conn: &mut PgConnection,
    payment: Uuid,
    event: PaymentEvent,
    day: NaiveDate,
) -> Result<(), HandlerError> {
    match event {
        PaymentEvent::PaymentRecorded { method, .. } => {
            sqlx::query(
                "INSERT INTO read.revenue_payments (payment_id, method) VALUES ($1, $2) \
                 ON CONFLICT (payment_id) DO NOTHING",
            )
            .bind(payment)
            .bind(method.as_str())
            .execute(conn)
            .await?;
        }
        PaymentEvent::PaymentApproved {
            account_id, amount, ..
        } => {
            // Counted under the account's plan now; remembered for a refund.
            let (method, plan): (String, String) = sqlx::query_as(
                "UPDATE read.revenue_payments p SET plan_code = \
                   coalesce((SELECT plan_code FROM read.revenue_account_plans WHERE account_id = $2), 'none') \
                 WHERE payment_id = $1 RETURNING method, plan_code",
            )
            .bind(payment)
            .bind(account_id)
            .fetch_one(&mut *conn)
            .await?;
            add(conn, day, &plan, &method, &amount, Side::Paid).await?;
        }
        PaymentEvent::PaymentRefunded { amount, .. } => {
            let (method, plan): (String, Option<String>) = sqlx::query_as(
                "SELECT method, plan_code FROM read.revenue_payments WHERE payment_id = $1",
            )
            .bind(payment)
            .fetch_one(&mut *conn)
            .await?;
            let plan = plan.unwrap_or_else(|| "none".into());
            add(conn, day, &plan, &method, &amount, Side::Refunded).await?;
        }
        PaymentEvent::PaymentRejected { .. } => {}
    }
    Ok(())
}

enum Side {
    Paid,
    Refunded,
}

async fn add(
    conn: &mut PgConnection,
    day: NaiveDate,
    plan: &str,
    method: &str,
    amount: &Money,
    side: Side,
) -> Result<(), HandlerError> {
    let (paid, payments, refunded, refunds) = match side {
        Side::Paid => (amount.minor_units, 1, 0, 0),
        Side::Refunded => (0, 0, amount.minor_units, 1),
    };
    sqlx::query(
        "INSERT INTO read.revenue_facts (day, plan_code, method, currency, paid_minor, payments, \
         refunded_minor, refunds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (day, plan_code, method, currency) DO UPDATE SET \
         paid_minor = revenue_facts.paid_minor + EXCLUDED.paid_minor, \
         payments = revenue_facts.payments + EXCLUDED.payments, \
         refunded_minor = revenue_facts.refunded_minor + EXCLUDED.refunded_minor, \
         refunds = revenue_facts.refunds + EXCLUDED.refunds",
    )
    .bind(day)
    .bind(plan)
    .bind(method)
    .bind(amount.currency.as_str())
    .bind(paid)
    .bind(payments)
    .bind(refunded)
    .bind(refunds)
    .execute(conn)
    .await?;
    Ok(())
}

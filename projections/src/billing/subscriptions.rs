//! Projection `subscriptions`: each account's subscription, its plan version, period and
//! status, and what its period's end will bring.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::subscription::{
    SubscribedPlan, Subscription, SubscriptionEvent, SubscriptionStatus,
};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

pub const NAME: &str = "subscriptions";

pub struct SubscriptionsProjection;

#[async_trait]
impl EventHandler for SubscriptionsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Subscription::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.subscriptions"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.subscriptions")
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
            if let Some(parsed) = event.decode::<SubscriptionEvent>()? {
                apply(conn, event, parsed).await?;
            }
        }
        Ok(())
    }
}

/// The columns an event sets; `None` leaves a column as it is.
#[derive(Default)]
struct Changes {
    plan: Option<SubscribedPlan>,
    status: Option<SubscriptionStatus>,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// `Some(None)` clears a scheduled cancellation.
    cancellation: Option<Option<String>>,
    /// `Some(None)` clears a scheduled downgrade.
    downgrade: Option<Option<SubscribedPlan>>,
    ended_at: Option<Option<DateTime<Utc>>>,
}

async fn apply(
    conn: &mut PgConnection,
    event: &RecordedEvent,
    parsed: SubscriptionEvent,
) -> Result<(), HandlerError> {
    use SubscriptionEvent as E;
    let id: Uuid = event.aggregate_id.parse()?;
    let at = event.metadata()?.occurred_at;
    let position = event.at.position;
    let ended = |status: SubscriptionStatus, ended_at: DateTime<Utc>| Changes {
        status: Some(status),
        cancellation: Some(None),
        downgrade: Some(None),
        ended_at: Some(Some(ended_at)),
        ..Changes::default()
    };
    let changes = match parsed {
        E::SubscriptionStarted {
            account_id,
            plan,
            status,
            period_start,
            period_end,
        } => {
            // A new start after a cancellation or expiry replaces the ended row whole.
            sqlx::query(
                "INSERT INTO read.subscriptions (id, account_id, plan_id, plan_code, plan_version, \
                 plan_name, price_minor, currency, included_credits, status, period_start, \
                 period_end, started_at, updated_at, last_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) \
                 ON CONFLICT (id) DO UPDATE SET plan_id = EXCLUDED.plan_id, \
                 plan_code = EXCLUDED.plan_code, plan_version = EXCLUDED.plan_version, \
                 plan_name = EXCLUDED.plan_name, price_minor = EXCLUDED.price_minor, \
                 currency = EXCLUDED.currency, included_credits = EXCLUDED.included_credits, \
                 status = EXCLUDED.status, period_start = EXCLUDED.period_start, \
                 period_end = EXCLUDED.period_end, cancels_at_period_end = false, \
                 cancel_reason = NULL, downgrade_plan_code = NULL, downgrade_plan_version = NULL, \
                 started_at = EXCLUDED.started_at, ended_at = NULL, \
                 updated_at = EXCLUDED.updated_at, last_position = EXCLUDED.last_position",
            )
            .bind(id)
            .bind(account_id)
            .bind(plan.plan_id)
            .bind(plan.code.as_str())
            .bind(plan.version)
            .bind(plan.name.as_str())
            .bind(plan.monthly_price.minor_units)
            .bind(plan.monthly_price.currency.as_str())
            .bind(plan.included_credits.get())
            .bind(status.as_str())
            .bind(period_start)
            .bind(period_end)
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            return Ok(());
        }
        E::SubscriptionActivated {
            period_start,
            period_end,
            ..
        } => Changes {
            status: Some(SubscriptionStatus::Active),
            period: Some((period_start, period_end)),
            cancellation: Some(None),
            ended_at: Some(None),
            ..Changes::default()
        },
        E::SubscriptionRenewed {
            plan,
            status,
            period_start,
            period_end,
            ..
        } => Changes {
            plan: Some(plan),
            status: Some(status),
            period: Some((period_start, period_end)),
            downgrade: Some(None),
            ..Changes::default()
        },
        E::SubscriptionUpgraded { to, .. } => Changes {
            plan: Some(to),
            downgrade: Some(None),
            ..Changes::default()
        },
        E::SubscriptionDowngradeScheduled { to, .. } => Changes {
            downgrade: Some(Some(to)),
            ..Changes::default()
        },
        E::SubscriptionCancellationScheduled { reason, .. } => Changes {
            cancellation: Some(Some(reason.as_str().to_owned())),
            ..Changes::default()
        },
        E::SubscriptionCancelled { at: ended_at, .. } => {
            ended(SubscriptionStatus::Cancelled, ended_at)
        }
        E::SubscriptionExpired { at: ended_at, .. } => ended(SubscriptionStatus::Expired, ended_at),
        E::SubscriptionPastDue { .. } => Changes {
            status: Some(SubscriptionStatus::PastDue),
            ..Changes::default()
        },
    };
    update(conn, id, changes, at, position).await
}

async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    changes: Changes,
    at: DateTime<Utc>,
    position: i64,
) -> Result<(), HandlerError> {
    let mut qb = QueryBuilder::<Postgres>::new("UPDATE read.subscriptions SET updated_at = ");
    qb.push_bind(at)
        .push(", last_position = ")
        .push_bind(position);
    if let Some(plan) = changes.plan {
        qb.push(", plan_id = ").push_bind(plan.plan_id);
        qb.push(", plan_code = ")
            .push_bind(plan.code.as_str().to_owned());
        qb.push(", plan_version = ").push_bind(plan.version);
        qb.push(", plan_name = ")
            .push_bind(plan.name.as_str().to_owned());
        qb.push(", price_minor = ")
            .push_bind(plan.monthly_price.minor_units);
        qb.push(", currency = ")
            .push_bind(plan.monthly_price.currency.as_str().to_owned());
        qb.push(", included_credits = ")
            .push_bind(plan.included_credits.get());
    }
    if let Some(status) = changes.status {
        qb.push(", status = ").push_bind(status.as_str());
    }
    if let Some((start, end)) = changes.period {
        qb.push(", period_start = ").push_bind(start);
        qb.push(", period_end = ").push_bind(end);
    }
    if let Some(reason) = changes.cancellation {
        qb.push(", cancels_at_period_end = ")
            .push_bind(reason.is_some());
        qb.push(", cancel_reason = ").push_bind(reason);
    }
    if let Some(downgrade) = changes.downgrade {
        qb.push(", downgrade_plan_code = ")
            .push_bind(downgrade.as_ref().map(|p| p.code.as_str().to_owned()));
        qb.push(", downgrade_plan_version = ")
            .push_bind(downgrade.as_ref().map(|p| p.version));
    }
    if let Some(ended_at) = changes.ended_at {
        qb.push(", ended_at = ").push_bind(ended_at);
    }
    qb.push(" WHERE id = ").push_bind(id);
    qb.build().execute(conn).await?;
    Ok(())
}

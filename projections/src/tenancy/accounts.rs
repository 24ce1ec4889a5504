//! Projection `accounts`: the account list with status, plan and balance.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::tenancy::account::{Account, AccountEvent, AccountState};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub const NAME: &str = "accounts";

pub struct AccountsProjection;

/// One account's state changes within a batch, folded in log order. `None` leaves a column as it
/// is; `opened` is set when the account opened in this very batch.
#[derive(Default)]
struct Fold {
    /// Slug and owner e-mail, which only an opening sets.
    opened: Option<(String, String)>,
    created_at: Option<DateTime<Utc>>,
    name: Option<String>,
    plan: Option<&'static str>,
    status: Option<&'static str>,
    balance: Option<i64>,
    last_activity_at: Option<DateTime<Utc>>,
    last_position: i64,
}

impl Fold {
    fn apply(&mut self, event: AccountEvent, at: DateTime<Utc>, position: i64) {
        match event {
            AccountEvent::AccountOpened {
                name,
                slug,
                owner_email,
                plan,
            } => {
                self.opened = Some((slug.as_str().into(), owner_email.as_str().into()));
                self.created_at = Some(at);
                self.name = Some(name.as_str().into());
                self.plan = Some(plan.as_str());
                self.status = Some(AccountState::Active.as_str());
                self.balance = Some(0);
            }
            AccountEvent::AccountRenamed { name } => self.name = Some(name.as_str().into()),
            AccountEvent::AccountPlanChanged { to, .. } => self.plan = Some(to.as_str()),
            AccountEvent::AccountSuspended { .. } => {
                self.status = Some(AccountState::Suspended.as_str())
            }
            AccountEvent::AccountActivated => self.status = Some(AccountState::Active.as_str()),
            AccountEvent::AccountDeleted { .. } => {
                self.status = Some(AccountState::Deleted.as_str())
            }
            AccountEvent::AccountRestored { status } => {
                self.status = Some(AccountState::from(status).as_str())
            }
            AccountEvent::CreditsAdjusted { balance_after, .. }
            | AccountEvent::CreditsPurchased { balance_after, .. }
            | AccountEvent::CreditsConsumed { balance_after, .. }
            | AccountEvent::CreditsRefunded { balance_after, .. }
            | AccountEvent::IncludedCreditsGranted { balance_after, .. }
            | AccountEvent::IncludedCreditsExpired { balance_after, .. } => {
                self.balance = Some(balance_after.get())
            }
        }
        self.last_activity_at = Some(self.last_activity_at.map_or(at, |t| t.max(at)));
        self.last_position = position;
    }
}

#[async_trait]
impl EventHandler for AccountsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Account::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.accounts"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.accounts").execute(conn).await?;
        Ok(())
    }

    /// Folds the batch per account, then writes each touched account once: one INSERT for the
    /// accounts opened in the batch and one UPDATE for the rest.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut folds: HashMap<Uuid, Fold> = HashMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == Account::TYPE) {
            let Some(parsed) = event.decode::<AccountEvent>()? else {
                continue;
            };
            let id: Uuid = event.aggregate_id.parse()?;
            folds.entry(id).or_default().apply(
                parsed,
                event.metadata()?.occurred_at,
                event.at.position,
            );
        }
        let (opened, changed): (Vec<_>, Vec<_>) = folds
            .into_iter()
            .partition(|(_, fold)| fold.opened.is_some());
        if !opened.is_empty() {
            let mut columns = Columns::default();
            for (id, fold) in &opened {
                columns.push(*id, fold);
            }
            sqlx::query(
                "INSERT INTO read.accounts (id, name, slug, owner_email, plan, status, balance, \
                 created_at, last_activity_at, last_position) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::bigint[])",
            )
            .bind(&columns.ids)
            .bind(&columns.names)
            .bind(&columns.slugs)
            .bind(&columns.owners)
            .bind(&columns.plans)
            .bind(&columns.statuses)
            .bind(&columns.balances)
            .bind(&columns.created)
            .bind(&columns.activity)
            .bind(&columns.positions)
            .execute(&mut *conn)
            .await?;
        }
        if !changed.is_empty() {
            let mut columns = Columns::default();
            for (id, fold) in &changed {
                columns.push(*id, fold);
            }
            sqlx::query(
                "UPDATE read.accounts a SET name = coalesce(u.name, a.name), \
                 plan = coalesce(u.plan, a.plan), status = coalesce(u.status, a.status), \
                 balance = coalesce(u.balance, a.balance), \
                 last_activity_at = greatest(a.last_activity_at, u.at), last_position = u.position \
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
                 $6::timestamptz[], $7::bigint[]) AS u(id, name, plan, status, balance, at, position) \
                 WHERE a.id = u.id",
            )
            .bind(&columns.ids)
            .bind(&columns.names)
            .bind(&columns.plans)
            .bind(&columns.statuses)
            .bind(&columns.balances)
            .bind(&columns.activity)
            .bind(&columns.positions)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// Folds laid out as columns, for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<Uuid>,
    names: Vec<Option<&'a str>>,
    slugs: Vec<Option<&'a str>>,
    owners: Vec<Option<&'a str>>,
    plans: Vec<Option<&'static str>>,
    statuses: Vec<Option<&'static str>>,
    balances: Vec<Option<i64>>,
    created: Vec<Option<DateTime<Utc>>>,
    activity: Vec<Option<DateTime<Utc>>>,
    positions: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, id: Uuid, fold: &'a Fold) {
        self.ids.push(id);
        self.names.push(fold.name.as_deref());
        self.slugs.push(fold.opened.as_ref().map(|o| o.0.as_str()));
        self.owners.push(fold.opened.as_ref().map(|o| o.1.as_str()));
        self.plans.push(fold.plan);
        self.statuses.push(fold.status);
        self.balances.push(fold.balance);
        self.created.push(fold.created_at);
        self.activity.push(fold.last_activity_at);
        self.positions.push(fold.last_position);
    }
}

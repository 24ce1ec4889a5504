//! Projection `credit_usage`: the credits the platform consumed, by business day, account,
//! operation and model. A batch is summed in memory and added with one statement.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use domain::tenancy::account::{Account, AccountEvent};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const NAME: &str = "credit_usage";

pub struct CreditUsageProjection;

#[derive(Default)]
struct Usage {
    credits: i64,
    units: i64,
    uses: i64,
}

#[async_trait]
impl EventHandler for CreditUsageProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Account::TYPE])
    }

    /// No command's answer shows credit usage (only the report reads it), so commands on
    /// accounts do not wait for it.
    fn answers_wait(&self) -> bool {
        false
    }

    fn tables(&self) -> &'static [&'static str] {
        &["read.credit_usage_daily"]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query("TRUNCATE read.credit_usage_daily")
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), HandlerError> {
        let mut sums: BTreeMap<(NaiveDate, Uuid, String, String), Usage> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == Account::TYPE) {
            let Some(AccountEvent::CreditsConsumed {
                operation,
                units,
                model,
                credits,
                ..
            }) = event.decode::<AccountEvent>()?
            else {
                continue;
            };
            let day = event.metadata()?.occurred_at.date_naive();
            let model = model.map(|m| m.as_str().to_string()).unwrap_or_default();
            let key = (
                day,
                event.aggregate_id.parse()?,
                operation.as_str().to_string(),
                model,
            );
            let usage = sums.entry(key).or_default();
            usage.credits += credits.get();
            usage.units += units;
            usage.uses += 1;
        }
        if sums.is_empty() {
            return Ok(());
        }
        let (mut days, mut accounts, mut operations, mut models) = (vec![], vec![], vec![], vec![]);
        let (mut credits, mut units, mut uses) = (vec![], vec![], vec![]);
        for ((day, account, operation, model), usage) in sums {
            days.push(day);
            accounts.push(account);
            operations.push(operation);
            models.push(model);
            credits.push(usage.credits);
            units.push(usage.units);
            uses.push(usage.uses);
        }
        sqlx::query(
            "INSERT INTO read.credit_usage_daily \
               (day, account_id, operation, model, credits, units, uses) \
             SELECT * FROM unnest($1::date[], $2::uuid[], $3::text[], $4::text[], \
                                  $5::bigint[], $6::bigint[], $7::bigint[]) \
             ON CONFLICT (day, account_id, operation, model) DO UPDATE SET \
               credits = credit_usage_daily.credits + excluded.credits, \
               units = credit_usage_daily.units + excluded.units, \
               uses = credit_usage_daily.uses + excluded.uses",
        )
        .bind(days)
        .bind(accounts)
        .bind(operations)
        .bind(models)
        .bind(credits)
        .bind(units)
        .bind(uses)
        .execute(conn)
        .await?;
        Ok(())
    }
}

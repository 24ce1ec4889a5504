//! Projection `catalog`: what the platform sells. Plans and credit packages with every version
//! of their terms, and every price of every operation type.
//!
//! One projection for the whole catalogue, because it is small, changes rarely and is read
//! together (a subscription page shows its plan version; an invoice line its package): one
//! checkpoint says how current all of it is, and the engine carries one handler, not several.

use crate::store::engine::{Consumes, EventHandler, HandlerError};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::billing::credit_cost::{CreditCost, CreditCostEvent};
use domain::billing::package::{CreditPackage, PackageEvent, PackageTerms};
use domain::billing::plan::{Plan, PlanEvent, PlanTerms};
use domain::kit::metadata::EventMetadata;
use sqlx::PgConnection;
use uuid::Uuid;

pub const NAME: &str = "catalog";

pub struct CatalogProjection;

#[async_trait]
impl EventHandler for CatalogProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Plan::TYPE, CreditPackage::TYPE, CreditCost::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "read.plans",
            "read.plan_versions",
            "read.credit_packages",
            "read.credit_package_versions",
            "read.credit_costs",
        ]
    }

    async fn reset(&self, conn: &mut PgConnection) -> Result<(), HandlerError> {
        sqlx::query(
            "TRUNCATE read.plan_versions, read.plans, read.credit_package_versions, \
             read.credit_packages, read.credit_costs",
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
                Plan::TYPE => apply_plan(conn, event).await?,
                CreditPackage::TYPE => apply_package(conn, event).await?,
                CreditCost::TYPE => apply_cost(conn, event).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn apply_plan(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let Some(parsed) = event.decode::<PlanEvent>()? else {
        return Ok(());
    };
    let id: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    let at = metadata.occurred_at;
    let position = event.at.position;
    match parsed {
        PlanEvent::PlanCreated {
            code,
            terms,
            cloned_from,
        } => {
            sqlx::query(
                "INSERT INTO read.plans (id, code, name, current_version, active, \
                 cloned_from_plan, cloned_from_version, created_at, updated_at, last_position) \
                 VALUES ($1, $2, $3, 1, true, $4, $5, $6, $6, $7)",
            )
            .bind(id)
            .bind(code.as_str())
            .bind(terms.name.as_str())
            .bind(cloned_from.map(|source| source.plan_id))
            .bind(cloned_from.map(|source| source.version))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            insert_version(conn, id, 1, &terms, metadata).await?;
        }
        PlanEvent::PlanRevised { version, terms } => {
            sqlx::query(
                "UPDATE read.plans SET name = $2, current_version = $3, updated_at = $4, \
                 last_position = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(terms.name.as_str())
            .bind(version)
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            insert_version(conn, id, version, &terms, metadata).await?;
        }
        PlanEvent::PlanActivated | PlanEvent::PlanDeactivated => {
            sqlx::query(
                "UPDATE read.plans SET active = $2, updated_at = $3, last_position = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(matches!(parsed, PlanEvent::PlanActivated))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn insert_version(
    conn: &mut PgConnection,
    plan_id: Uuid,
    version: i32,
    terms: &PlanTerms,
    metadata: &EventMetadata,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO read.plan_versions (plan_id, version, name, price_minor, currency, \
         included_credits, max_sites, max_users, max_keywords, monthly_words, monthly_images, \
         overrides_allowed, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(plan_id)
    .bind(version)
    .bind(terms.name.as_str())
    .bind(terms.monthly_price.minor_units)
    .bind(terms.monthly_price.currency.as_str())
    .bind(terms.included_credits.get())
    .bind(terms.limits.sites)
    .bind(terms.limits.users)
    .bind(terms.limits.keywords)
    .bind(terms.limits.monthly_words)
    .bind(terms.limits.monthly_images)
    .bind(terms.overrides_allowed)
    .bind(metadata.occurred_at)
    .bind(&metadata.actor.id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_package(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let Some(parsed) = event.decode::<PackageEvent>()? else {
        return Ok(());
    };
    let id: Uuid = event.aggregate_id.parse()?;
    let metadata = event.metadata()?;
    let at = metadata.occurred_at;
    let position = event.at.position;
    let (version, terms) = match parsed {
        PackageEvent::PackageCreated { terms } => (1, terms),
        PackageEvent::PackageRevised { version, terms } => (version, terms),
        PackageEvent::PackageActivated | PackageEvent::PackageDeactivated => {
            sqlx::query(
                "UPDATE read.credit_packages SET active = $2, updated_at = $3, last_position = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(matches!(parsed, PackageEvent::PackageActivated))
            .bind(at)
            .bind(position)
            .execute(&mut *conn)
            .await?;
            return Ok(());
        }
    };
    let PackageTerms {
        name,
        credits,
        price,
    } = &terms;
    sqlx::query(
        "INSERT INTO read.credit_packages (id, name, credits, price_minor, currency, \
         current_version, active, created_at, updated_at, last_position) \
         VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET name = $2, credits = $3, price_minor = $4, currency = $5, \
         current_version = $6, updated_at = $7, last_position = $8",
    )
    .bind(id)
    .bind(name.as_str())
    .bind(credits.get())
    .bind(price.minor_units)
    .bind(price.currency.as_str())
    .bind(version)
    .bind(at)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO read.credit_package_versions (package_id, version, name, credits, \
         price_minor, currency, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(version)
    .bind(name.as_str())
    .bind(credits.get())
    .bind(price.minor_units)
    .bind(price.currency.as_str())
    .bind(at)
    .bind(&metadata.actor.id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_cost(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let Some(parsed) = event.decode::<CreditCostEvent>()? else {
        return Ok(());
    };
    let metadata = event.metadata()?;
    match parsed {
        CreditCostEvent::CreditCostScheduled {
            operation,
            version,
            credits_per_unit,
            effective_from,
        } => {
            sqlx::query(
                "INSERT INTO read.credit_costs (operation, version, credits_per_unit, \
                 effective_from, withdrawn, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, false, $5, $6)",
            )
            .bind(operation.as_str())
            .bind(version)
            .bind(credits_per_unit.get())
            .bind(effective_from)
            .bind(metadata.occurred_at)
            .bind(&metadata.actor.id)
            .execute(conn)
            .await?;
        }
        CreditCostEvent::CreditCostWithdrawn { operation, version } => {
            sqlx::query(
                "UPDATE read.credit_costs SET withdrawn = true WHERE operation = $1 AND version = $2",
            )
            .bind(operation.as_str())
            .bind(version)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

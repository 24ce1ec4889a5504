//! Credit packages: credits sold at a price, created, revised, activated and deactivated by
//! billing staff, and bought with a manual payment.

use super::plans::{catalog_bulk_action, BulkCatalogInput};
use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::page::Page;
use crate::graphql::operations::bulk::{self, BulkResult, Selection};
use crate::graphql::{parse_id, run_explained, services, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::package::{CreditPackage, PackageChanges, PackageCommand, PackageTerms};
use domain::identity::permission::Permission;
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::PackageName;
use sqlx::PgPool;
use uuid::Uuid;

/// A credit package, with the terms of its version in force.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex)]
pub struct CreditPackageNode {
    pub id: Uuid,
    pub name: String,
    pub credits: i64,
    /// The price in minor units (cents) of `currency`.
    pub price_minor: i64,
    pub currency: String,
    pub current_version: i32,
    /// Inactive packages take no new payments.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One version of a package's terms.
#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct CreditPackageVersion {
    pub version: i32,
    pub name: String,
    pub credits: i64,
    pub price_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    /// Who made it. Staff only.
    #[graphql(guard = "Rule::Staff")]
    pub created_by: String,
}

const PACKAGES: &str = "SELECT id, name, credits, price_minor, currency, current_version, active, \
     created_at, updated_at FROM read.credit_packages";

pub(crate) async fn find_package(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<CreditPackageNode>, ApiError> {
    Ok(sqlx::query_as(&format!("{PACKAGES} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

#[ComplexObject]
impl CreditPackageNode {
    /// Every version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<CreditPackageVersion>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT version, name, credits, price_minor, currency, created_at, created_by \
             FROM read.credit_package_versions WHERE package_id = $1 ORDER BY version DESC",
        )
        .bind(self.id)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        let id = self.id.to_string();
        versions(ctx, CreditPackage::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, CreditPackage::TYPE, &self.id.to_string(), at).await
    }
}

catalog_bulk_action!(
    /// A catalogue action on credit packages.
    PackageBulkAction {
        aggregate: CreditPackage,
        kind: "credit_package",
        permission: BillingWrite,
        name: "package",
        command: PackageCommand,
    }
);

#[derive(Default)]
pub struct PackageQuery;

#[Object]
impl PackageQuery {
    /// The credit packages, fewest credits first (there are few: no paging). Tenants see them
    /// too: it is what they may buy.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn credit_packages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only active packages (true) or only inactive ones (false).")]
        active: Option<bool>,
    ) -> Result<Vec<CreditPackageNode>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "{PACKAGES} WHERE ($1::boolean IS NULL OR active = $1) ORDER BY credits, name, id"
        ))
        .bind(active)
        .fetch_all(&services(ctx).pool)
        .await?)
    }

    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn credit_package(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<CreditPackageNode>, ApiError> {
        find_package(&services(ctx).pool, parse_id("id", &id)?).await
    }
}

#[derive(InputObject)]
pub struct CreateCreditPackageInput {
    pub name: String,
    pub credits: i64,
    /// The price in minor units (cents).
    pub price_minor: i64,
    pub currency: String,
    pub reason: String,
    /// Also names the package: the same key creates the same package once.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct ReviseCreditPackageInput {
    pub package_id: ID,
    pub name: Option<String>,
    pub credits: Option<i64>,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct CreditPackageInput {
    pub package_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreditPackagePayload {
    pub package: Option<CreditPackageNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}
/// Runs a package command and answers with the package as the catalogue shows it afterwards.
async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: PackageCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<CreditPackagePayload, ApiError> {
    let receipt = run_explained::<CreditPackage>(ctx, id, command, reason, idempotency_key).await?;
    Ok(CreditPackagePayload {
        package: find_package(&services(ctx).pool, id).await?,
        receipt,
    })
}

#[derive(Default)]
pub struct PackageMutation;

#[Object]
impl PackageMutation {
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn create_credit_package(
        &self,
        ctx: &Context<'_>,
        input: CreateCreditPackageInput,
    ) -> Result<CreditPackagePayload, ApiError> {
        let terms = PackageTerms {
            name: PackageName::parse(&input.name)?,
            credits: Credits::new(input.credits),
            price: Money::new(input.price_minor, Currency::parse(&input.currency)?),
        };
        let id = match &input.idempotency_key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("create-credit-package:{key}").as_bytes(),
            ),
            None => Uuid::now_v7(),
        };
        let command = PackageCommand::Create { terms };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Records new terms as the package's next version; changing nothing records nothing.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn revise_credit_package(
        &self,
        ctx: &Context<'_>,
        input: ReviseCreditPackageInput,
    ) -> Result<CreditPackagePayload, ApiError> {
        let id = parse_id("packageId", &input.package_id)?;
        let changes = PackageChanges {
            name: input.name.as_deref().map(PackageName::parse).transpose()?,
            credits: input.credits.map(Credits::new),
            price_minor: input.price_minor,
            currency: input.currency.as_deref().map(Currency::parse).transpose()?,
        };
        let command = PackageCommand::Revise { changes };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn activate_credit_package(
        &self,
        ctx: &Context<'_>,
        input: CreditPackageInput,
    ) -> Result<CreditPackagePayload, ApiError> {
        let id = parse_id("packageId", &input.package_id)?;
        let command = PackageCommand::Activate;
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Activates or deactivates many credit packages, answered per package.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn bulk_credit_package_action(
        &self,
        ctx: &Context<'_>,
        input: BulkCatalogInput,
    ) -> Result<BulkResult, ApiError> {
        let action = PackageBulkAction(input.action);
        let selection = Selection::Ids(input.ids);
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }

    /// The package takes no new payments; those recorded keep it. Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn deactivate_credit_package(
        &self,
        ctx: &Context<'_>,
        input: CreditPackageInput,
    ) -> Result<CreditPackagePayload, ApiError> {
        let id = parse_id("packageId", &input.package_id)?;
        let command = PackageCommand::Deactivate;
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }
}

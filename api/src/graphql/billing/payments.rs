//! Manual payments: the approval queue, its history, and the approval workflow.

use super::packages::find_package;
use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::{db_enum, ids_matching, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::tenancy::accounts::{find_account, AccountNode};
use crate::graphql::{
    command_context, confine, parse_id, principal, services, settle, visible, Rule, WriteReceipt,
};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::invoice::Invoice;
use domain::billing::package::PackageVersionRef;
use domain::billing::payment::{Payment, PaymentCommand};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{Note, PaymentReference, Reason};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "PaymentMethod",
    remote = "domain::billing::payment::PaymentMethod"
)]
pub enum Method {
    Wire,
    Check,
    Cash,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::billing::payment::PaymentStatus")]
pub enum PaymentStatus {
    Pending,
    Approved,
    Rejected,
    Refunded,
}

db_enum!(
    Method => domain::billing::payment::PaymentMethod,
    PaymentStatus => domain::billing::payment::PaymentStatus,
);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "Payment")]
pub struct PaymentNode {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The amount in minor units (cents) of `currency`.
    pub amount_minor: i64,
    pub currency: String,
    pub credits: i64,
    #[sqlx(try_from = "String")]
    pub method: Method,
    pub reference: Option<String>,
    pub note: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_reason: Option<String>,
    pub refund_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The invoice it pays (a credit package's, or one named when it was recorded).
    pub invoice_id: Option<Uuid>,
    /// The credit package (and version) it buys.
    pub package_id: Option<Uuid>,
    pub package_version: Option<i32>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

#[ComplexObject]
impl PaymentNode {
    /// The payment's versions, oldest first, field by field, read from the event log.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> Result<Page<i64, AggregateVersion>, ApiError> {
        versions(
            ctx,
            Payment::TYPE,
            &self.id.to_string(),
            first,
            after,
            filter,
        )
        .await
    }

    /// The payment as it was at a version, a recording time or a business time.
    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Payment::TYPE, &self.id.to_string(), at).await
    }
}

crate::graphql::kit::lists::listed!(PaymentNode);

const PAYMENT_COLUMNS: &str =
    "id, account_id, amount_minor, currency, credits, method, reference, \
     note, status, recorded_by, recorded_at, approved_by, approved_at, rejected_reason, \
     refund_reason, updated_at, invoice_id, package_id, package_version";

async fn find_payment(pool: &PgPool, id: Uuid) -> Result<Option<PaymentNode>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM read.payments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

#[derive(InputObject, Default)]
pub struct PaymentFilter {
    pub status: Option<Vec<PaymentStatus>>,
    pub method: Option<Vec<Method>>,
    pub account_id: Option<ID>,
    /// When the payment was recorded.
    pub recorded: Option<DateRange>,
}

impl PaymentFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(statuses) = &self.status {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
            qb.push(" AND status = ANY(").push_bind(statuses).push(")");
        }
        if let Some(methods) = &self.method {
            let methods: Vec<&str> = methods.iter().map(|m| m.as_db()).collect();
            qb.push(" AND method = ANY(").push_bind(methods).push(")");
        }
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        if let Some(recorded) = &self.recorded {
            recorded.push(qb, "recorded_at")?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct PaymentQuery;

#[Object]
impl PaymentQuery {
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn payment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PaymentNode>, ApiError> {
        let found = find_payment(&services(ctx).pool, parse_id("id", &id)?).await?;
        Ok(found.filter(|payment| visible(ctx, payment.account_id)))
    }

    /// Payments, newest first by default; filter on `PENDING` for the approval queue.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<PaymentFilter>,
        #[graphql(default_with = "Some(SortDirection::default())")] direction: Option<
            SortDirection,
        >,
    ) -> Result<Page<Key, PaymentNode>, ApiError> {
        // An unset variable arrives as null, which the schema's default does not replace.
        let direction = direction.unwrap_or_default();
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.payments",
            columns: PAYMENT_COLUMNS,
            order: Order {
                column: "recorded_at",
                cast: "timestamptz",
                id: "id",
                id_cast: "uuid",
                direction,
            },
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "account_id");
            filter.push(query)
        })
        .await
    }
}

/// A payment buys a credit package (`packageId`: its price, its credits, and an invoice for
/// it), pays an invoice (`invoiceId`: its total; no credits unless given), or neither (amount,
/// currency and credits given).
#[derive(InputObject)]
pub struct RecordPaymentInput {
    pub account_id: ID,
    /// In minor units (cents) of `currency`. A package's price or an invoice's total when left
    /// out; when given for either, it must be that amount.
    pub amount_minor: Option<i64>,
    /// ISO 4217, e.g. `USD`.
    pub currency: Option<String>,
    /// Credits the account receives when the payment is approved: a package's credits (and
    /// no other number) for a package payment, none by default for an invoice.
    pub credits: Option<i64>,
    /// The credit package it buys; must be active.
    pub package_id: Option<ID>,
    /// The (pending) invoice of this account it pays.
    pub invoice_id: Option<ID>,
    pub method: Method,
    /// The bank or cheque reference.
    pub reference: Option<String>,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
}

/// What a payment is for, settled from its input and the catalogue or the invoice it names.
struct PaymentTerms {
    amount: Money,
    credits: Credits,
    invoice_id: Option<Uuid>,
    package: Option<PackageVersionRef>,
}

impl PaymentTerms {
    async fn of(
        pool: &PgPool,
        input: &RecordPaymentInput,
        account_id: Uuid,
        payment_id: Uuid,
    ) -> Result<Self, ApiError> {
        let currency = input.currency.as_deref().map(Currency::parse).transpose()?;
        // A stated figure must agree with the one the package or invoice sets.
        let agree = |field: &str, stated: Option<i64>, set: i64| match stated {
            Some(stated) if stated != set => Err(ApiError::validation(format!(
                "`{field}` is {set} for this {}; leave it out or give {set}, not {stated}",
                if input.package_id.is_some() {
                    "package"
                } else {
                    "invoice"
                }
            ))),
            _ => Ok(set),
        };
        let same_currency = |set: &str| match &currency {
            Some(stated) if stated.as_str() != set => Err(ApiError::validation(format!(
                "`currency` is {set} here, not {stated}"
            ))),
            _ => Ok(Currency::parse(set)?),
        };
        match (&input.package_id, &input.invoice_id) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "a payment buys a package or pays an invoice, not both",
            )),
            (Some(package_id), None) => {
                let package = find_package(pool, parse_id("packageId", package_id)?)
                    .await?
                    .ok_or_else(|| ApiError::not_found("no such credit package"))?;
                if !package.active {
                    return Err(ApiError::new(
                        domain::ErrorCode::Conflict,
                        "the credit package is inactive and takes no new payments",
                    ));
                }
                Ok(Self {
                    amount: Money::new(
                        agree("amountMinor", input.amount_minor, package.price_minor)?,
                        same_currency(&package.currency)?,
                    ),
                    credits: Credits::new(agree("credits", input.credits, package.credits)?),
                    invoice_id: Some(Invoice::id_for_payment(payment_id)),
                    package: Some(PackageVersionRef {
                        package_id: package.id,
                        version: package.current_version,
                    }),
                })
            }
            (None, Some(invoice_id)) => {
                let id = parse_id("invoiceId", invoice_id)?;
                let invoice: Option<(Uuid, String, i64, String)> = sqlx::query_as(
                    "SELECT account_id, status, total_minor, currency FROM read.invoices WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(pool)
                .await?;
                let (owner, status, total, invoice_currency) =
                    invoice.ok_or_else(|| ApiError::not_found("no such invoice"))?;
                if owner != account_id {
                    return Err(ApiError::validation("the invoice is another account's"));
                }
                if status != domain::billing::invoice::InvoiceStatus::Pending.as_str() {
                    return Err(ApiError::new(
                        domain::ErrorCode::Conflict,
                        format!("the invoice is {status}; only a pending invoice is paid"),
                    ));
                }
                Ok(Self {
                    amount: Money::new(
                        agree("amountMinor", input.amount_minor, total)?,
                        same_currency(&invoice_currency)?,
                    ),
                    credits: Credits::new(input.credits.unwrap_or(0)),
                    invoice_id: Some(id),
                    package: None,
                })
            }
            (None, None) => {
                let (Some(amount), Some(currency), Some(credits)) =
                    (input.amount_minor, currency, input.credits)
                else {
                    return Err(ApiError::validation(
                        "give `amountMinor`, `currency` and `credits`, or a `packageId` or an `invoiceId`",
                    ));
                };
                if amount <= 0 {
                    return Err(ApiError::validation("`amountMinor` must be positive"));
                }
                Ok(Self {
                    amount: Money::new(amount, currency),
                    credits: Credits::positive(credits)?,
                    invoice_id: None,
                    package: None,
                })
            }
        }
    }
}

#[derive(InputObject)]
pub struct PaymentInput {
    pub payment_id: ID,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct PaymentReasonInput {
    pub payment_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct PaymentPayload {
    pub payment: Option<PaymentNode>,
    /// The paying account after the change (credits granted or reversed, status).
    pub account: Option<AccountNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

async fn run(
    ctx: &Context<'_>,
    payment_id: Uuid,
    command: PaymentCommand,
    reason: Option<String>,
    idempotency_key: Option<String>,
) -> Result<PaymentPayload, ApiError> {
    let me = principal(ctx)?;
    let context = command_context(ctx, me, idempotency_key, reason);
    let services = services(ctx);
    let appended = services
        .bus
        .execute::<Payment>(&payment_id.to_string(), command, &context)
        .await?;
    // Waits for the payment-approval process manager too, and for what its commands change.
    let receipt = settle(ctx, &appended, Payment::TYPE).await;
    let payment = find_payment(&services.pool, payment_id).await?;
    let account = match &payment {
        Some(p) => find_account(&services.pool, p.account_id).await?,
        None => None,
    };
    Ok(PaymentPayload {
        payment,
        account,
        receipt,
    })
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PaymentBulkAction {
    Approve,
    Reject,
    Refund,
}

impl BulkAction for PaymentBulkAction {
    type Aggregate = Payment;
    const KIND: &'static str = "payment";
    const PERMISSION: Permission = Permission::PaymentsApprove;

    fn name(&self) -> String {
        format!("payment-{self:?}")
    }

    fn command(&self, actor: &Actor, reason: &Reason, _at: DateTime<Utc>) -> PaymentCommand {
        match self {
            Self::Approve => PaymentCommand::Approve {
                approver: actor.id.clone(),
            },
            Self::Reject => PaymentCommand::Reject {
                reason: reason.clone(),
            },
            Self::Refund => PaymentCommand::Refund {
                reason: reason.clone(),
            },
        }
    }
}

#[derive(InputObject)]
pub struct BulkPaymentInput {
    pub action: PaymentBulkAction,
    /// The payments by id: up to 500 are answered at once, more (up to 50,000) run as a job.
    pub ids: Option<Vec<ID>>,
    /// Instead of `ids`: every payment the list's filter lets through, as a job.
    pub filter: Option<PaymentFilter>,
    /// Recorded on every item; a rejection's or a refund's reason.
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Records a manual payment (wire, check, cash) awaiting approval.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPaymentInput,
    ) -> Result<PaymentPayload, ApiError> {
        let account_id = parse_id("accountId", &input.account_id)?;
        let pool = &services(ctx).pool;
        let account = find_account(pool, account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such account"))?;
        if account.status == crate::graphql::tenancy::accounts::AccountStatus::Deleted {
            return Err(ApiError::new(
                domain::ErrorCode::Conflict,
                "the account is deleted; restore it first",
            ));
        }
        let payment_id = match &input.idempotency_key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("record-payment:{key}").as_bytes(),
            ),
            None => Uuid::now_v7(),
        };
        let terms = PaymentTerms::of(pool, &input, account_id, payment_id).await?;
        let command = PaymentCommand::Record {
            account_id,
            amount: terms.amount,
            credits: terms.credits,
            invoice_id: terms.invoice_id,
            package: terms.package,
            method: input.method.into(),
            reference: input
                .reference
                .as_deref()
                .map(PaymentReference::parse)
                .transpose()?,
            note: input.note.as_deref().map(Note::parse).transpose()?,
        };
        run(ctx, payment_id, command, None, input.idempotency_key).await
    }

    /// Approves a pending payment: the account is granted its credits (once, however often this
    /// is called) and activated if it was suspended.
    #[graphql(guard = "Rule::Can(Permission::PaymentsApprove)")]
    async fn approve_payment(
        &self,
        ctx: &Context<'_>,
        input: PaymentInput,
    ) -> Result<PaymentPayload, ApiError> {
        let me = principal(ctx)?;
        let command = PaymentCommand::Approve {
            approver: me.id.to_string(),
        };
        run(
            ctx,
            parse_id("paymentId", &input.payment_id)?,
            command,
            None,
            input.idempotency_key,
        )
        .await
    }

    #[graphql(guard = "Rule::Can(Permission::PaymentsApprove)")]
    async fn reject_payment(
        &self,
        ctx: &Context<'_>,
        input: PaymentReasonInput,
    ) -> Result<PaymentPayload, ApiError> {
        let reason = Reason::parse(&input.reason)?;
        let command = PaymentCommand::Reject {
            reason: reason.clone(),
        };
        let id = parse_id("paymentId", &input.payment_id)?;
        run(
            ctx,
            id,
            command,
            Some(reason.to_string()),
            input.idempotency_key,
        )
        .await
    }

    /// Approves, rejects or refunds many payments, answered per payment.
    #[graphql(guard = "Rule::Can(Permission::PaymentsApprove)")]
    async fn bulk_payment_action(
        &self,
        ctx: &Context<'_>,
        input: BulkPaymentInput,
    ) -> Result<BulkResult, ApiError> {
        let pool = &services(ctx).pool;
        let selection = Selection::of(input.ids, input.filter, |filter, limit| {
            ids_matching(pool, "read.payments", limit, move |query| {
                filter.push(query)
            })
        })
        .await?;
        bulk::run(ctx, input.action, &input.bulk_key, &input.reason, selection).await
    }

    /// Refunds an approved payment; its credits are taken back (what is left of them).
    #[graphql(guard = "Rule::Can(Permission::PaymentsApprove)")]
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        input: PaymentReasonInput,
    ) -> Result<PaymentPayload, ApiError> {
        let reason = Reason::parse(&input.reason)?;
        let command = PaymentCommand::Refund {
            reason: reason.clone(),
        };
        let id = parse_id("paymentId", &input.payment_id)?;
        run(
            ctx,
            id,
            command,
            Some(reason.to_string()),
            input.idempotency_key,
        )
        .await
    }
}

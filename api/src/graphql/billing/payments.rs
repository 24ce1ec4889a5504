//! Manual payments: the approval queue, its history, and the approval workflow.

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::{db_enum, DateRange, List, Order, SortDirection};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::tenancy::accounts::{find_account, AccountNode};
use crate::graphql::{
    command_context, confine, parse_id, principal, services, settle, visible, Rule, WriteReceipt,
};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::billing::payment::{Payment, PaymentCommand};
use domain::identity::permission::Permission;
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
     refund_reason, updated_at";

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
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
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
        #[graphql(default)] direction: SortDirection,
    ) -> Result<Page<Key, PaymentNode>, ApiError> {
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

#[derive(InputObject)]
pub struct RecordPaymentInput {
    pub account_id: ID,
    /// In minor units (cents) of `currency`.
    pub amount_minor: i64,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    /// Credits the account receives when the payment is approved.
    pub credits: i64,
    pub method: Method,
    /// The bank or cheque reference.
    pub reference: Option<String>,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
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
        if input.amount_minor <= 0 {
            return Err(ApiError::validation("`amountMinor` must be positive"));
        }
        let account = find_account(&services(ctx).pool, account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such account"))?;
        if account.status == crate::graphql::tenancy::accounts::AccountStatus::Deleted {
            return Err(ApiError::new(
                domain::ErrorCode::Conflict,
                "the account is deleted; restore it first",
            ));
        }
        let command = PaymentCommand::Record {
            account_id,
            amount: Money::new(input.amount_minor, Currency::parse(&input.currency)?),
            credits: Credits::positive(input.credits)?,
            method: input.method.into(),
            reference: input
                .reference
                .as_deref()
                .map(PaymentReference::parse)
                .transpose()?,
            note: input.note.as_deref().map(Note::parse).transpose()?,
        };
        let payment_id = match &input.idempotency_key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("record-payment:{key}").as_bytes(),
            ),
            None => Uuid::now_v7(),
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

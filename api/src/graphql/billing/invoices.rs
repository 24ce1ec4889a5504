//! Invoices: the list and its filters, one invoice with its lines, and drafting, issuing,
//! paying by hand, reopening, cancelling, voiding and reminding.

use crate::error::ApiError;
use crate::graphql::audit::history::{
    state_as_of, versions, AggregateState, AggregateVersion, AsOf, HistoryFilter,
};
use crate::graphql::kit::lists::{
    db_enum, ids_matching, like_pattern, DateRange, List, Order, SortDirection,
};
use crate::graphql::kit::page::{Key, Page, PageRequest};
use crate::graphql::operations::bulk::{self, BulkAction, BulkResult, Selection};
use crate::graphql::{confine, parse_id, run_explained, services, visible, Rule, WriteReceipt};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::Aggregate;
use domain::billing::invoice::{Invoice, InvoiceCommand, InvoiceLine, LateFeePolicy};
use domain::identity::permission::Permission;
use domain::kit::actor::Actor;
use domain::kit::money::Currency;
use domain::kit::values::Reason;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::billing::invoice::InvoiceStatus")]
pub enum InvoiceStatus {
    Draft,
    /// Issued, awaiting payment.
    Pending,
    Paid,
    Cancelled,
    Void,
    Refunded,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "InvoiceLineKind",
    remote = "domain::billing::invoice::LineKind"
)]
pub enum LineKind {
    SubscriptionPeriod,
    Proration,
    CreditPackage,
    LateFee,
    Manual,
}

/// How far an unpaid invoice has been chased.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::billing::invoice::DunningStage")]
pub enum DunningStage {
    /// Past its due date: reminded, and its subscription (if any) past due.
    Overdue,
    /// Charged a late fee (a separate invoice), 7 days past due.
    LateFee,
    /// Its account suspended at the end of the 14-day grace period.
    Suspension,
}

db_enum!(
    InvoiceStatus => domain::billing::invoice::InvoiceStatus,
    LineKind => domain::billing::invoice::LineKind,
    DunningStage => domain::billing::invoice::DunningStage,
);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
#[graphql(complex, name = "Invoice")]
pub struct InvoiceNode {
    pub id: Uuid,
    pub account_id: Uuid,
    /// `INV-2026-000123`, once issued: numbers run without gaps within a year.
    pub number: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: InvoiceStatus,
    pub currency: String,
    /// The sum of the lines, in minor units of `currency`.
    pub total_minor: i64,
    /// What it bills for: `subscription`, `credit_package`, `late_fee`; null for a manual one.
    pub subject_kind: Option<String>,
    pub subject_id: Option<Uuid>,
    pub issued_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The payment that paid it; null when marked paid by hand.
    pub payment_id: Option<Uuid>,
    pub reminders_sent: i32,
    pub last_reminder_on: Option<NaiveDate>,
    /// Late fees charged on it (each a separate invoice), one per overdue period at most.
    pub late_fees: i32,
    #[graphql(skip)]
    pub dunning_stage: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_value: Option<String>,
    #[graphql(skip)]
    #[sqlx(default)]
    pub sort_id: Option<String>,
}

crate::graphql::kit::lists::listed!(InvoiceNode);

#[derive(SimpleObject, sqlx::FromRow, Debug, Clone)]
pub struct InvoiceLineNode {
    pub line_no: i32,
    #[sqlx(try_from = "String")]
    pub kind: LineKind,
    pub description: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
}

const INVOICE_COLUMNS: &str = "id, account_id, number, status, currency, total_minor, \
     subject_kind, subject_id, issued_at, due_at, paid_at, payment_id, reminders_sent, \
     last_reminder_on, late_fees, dunning_stage, created_at, updated_at";

async fn find_invoice(pool: &PgPool, id: Uuid) -> Result<Option<InvoiceNode>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INVOICE_COLUMNS} FROM read.invoices WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

#[ComplexObject]
impl InvoiceNode {
    /// Pending and past its due date.
    async fn overdue(&self) -> bool {
        self.status == InvoiceStatus::Pending && self.due_at.is_some_and(|due| due < Utc::now())
    }

    /// How far it has been chased while unpaid; null if never.
    async fn dunning_stage(&self) -> Result<Option<DunningStage>, ApiError> {
        self.dunning_stage
            .clone()
            .map(DunningStage::try_from)
            .transpose()
            .map_err(|e| ApiError::new(domain::ErrorCode::Internal, e))
    }

    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<InvoiceLineNode>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT line_no, kind, description, quantity, unit_price_minor, amount_minor \
             FROM read.invoice_lines WHERE invoice_id = $1 ORDER BY line_no",
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
        versions(ctx, Invoice::TYPE, &id, first, after, filter).await
    }

    #[graphql(guard = "Rule::Can(Permission::AuditRead)")]
    async fn as_of(&self, ctx: &Context<'_>, at: AsOf) -> Result<AggregateState, ApiError> {
        state_as_of(ctx, Invoice::TYPE, &self.id.to_string(), at).await
    }
}

/// An inclusive range of amounts in minor units.
#[derive(InputObject, Default, Clone, Copy)]
pub struct AmountRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

#[derive(InputObject, Default)]
pub struct InvoiceFilter {
    pub status: Option<Vec<InvoiceStatus>>,
    /// Pending and past due (true), or not (false).
    pub overdue: Option<bool>,
    pub due: Option<DateRange>,
    pub account_id: Option<ID>,
    pub total: Option<AmountRange>,
    /// Part of the number, e.g. `2026-0001`.
    pub number: Option<String>,
}

impl InvoiceFilter {
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) -> Result<(), ApiError> {
        if let Some(statuses) = &self.status {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_db()).collect();
            qb.push(" AND status = ANY(").push_bind(statuses).push(")");
        }
        match self.overdue {
            Some(true) => {
                qb.push(" AND status = 'pending' AND due_at < now()");
            }
            Some(false) => {
                qb.push(" AND NOT (status = 'pending' AND due_at < now())");
            }
            None => {}
        }
        if let Some(due) = &self.due {
            due.push(qb, "due_at")?;
        }
        if let Some(account) = &self.account_id {
            qb.push(" AND account_id = ")
                .push_bind(parse_id("accountId", account)?);
        }
        if let Some(AmountRange { min, max }) = self.total {
            if let (Some(min), Some(max)) = (min, max) {
                if min > max {
                    return Err(ApiError::validation(
                        "a total range needs `min` at most `max`",
                    ));
                }
            }
            if let Some(min) = min {
                qb.push(" AND total_minor >= ").push_bind(min);
            }
            if let Some(max) = max {
                qb.push(" AND total_minor <= ").push_bind(max);
            }
        }
        if let Some(pattern) = self
            .number
            .as_deref()
            .map(|n| like_pattern("number", n))
            .transpose()?
            .flatten()
        {
            qb.push(" AND number ILIKE ").push_bind(pattern);
        }
        Ok(())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum InvoiceSortField {
    #[default]
    CreatedAt,
    /// Drafts (no due date) last.
    DueAt,
    Total,
    /// Drafts (no number) first.
    Number,
}

#[derive(InputObject, Default)]
pub struct InvoiceSort {
    #[graphql(default)]
    pub field: InvoiceSortField,
    #[graphql(default)]
    pub direction: SortDirection,
}

impl InvoiceSort {
    fn order(&self) -> Order {
        let (column, cast) = match self.field {
            InvoiceSortField::CreatedAt => ("created_at", "timestamptz"),
            InvoiceSortField::DueAt => ("coalesce(due_at, 'infinity')", "timestamptz"),
            InvoiceSortField::Total => ("total_minor", "bigint"),
            InvoiceSortField::Number => ("coalesce(number, '')", "text"),
        };
        Order {
            column,
            cast,
            id: "id",
            id_cast: "uuid",
            direction: self.direction,
        }
    }
}

#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InvoiceNode>, ApiError> {
        let found = find_invoice(&services(ctx).pool, parse_id("id", &id)?).await?;
        Ok(found.filter(|invoice| visible(ctx, invoice.account_id)))
    }

    /// Invoices, newest first by default.
    #[graphql(guard = "Rule::Scoped(Permission::BillingRead)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<InvoiceFilter>,
        sort: Option<InvoiceSort>,
    ) -> Result<Page<Key, InvoiceNode>, ApiError> {
        let page = PageRequest::<Key>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list = List {
            table: "read.invoices",
            columns: INVOICE_COLUMNS,
            order: sort.unwrap_or_default().order(),
        };
        list.page(ctx, page, |query| {
            confine(ctx, query, "account_id");
            filter.push(query)
        })
        .await
    }
}

#[derive(InputObject)]
pub struct InvoiceLineInput {
    pub kind: LineKind,
    pub description: String,
    #[graphql(default = 1)]
    pub quantity: i64,
    /// In minor units; negative only on a proration.
    pub unit_price_minor: i64,
}

impl From<InvoiceLineInput> for InvoiceLine {
    fn from(input: InvoiceLineInput) -> Self {
        InvoiceLine {
            kind: input.kind.into(),
            description: input.description.trim().to_string(),
            quantity: input.quantity,
            unit_price_minor: input.unit_price_minor,
        }
    }
}

#[derive(InputObject)]
pub struct DraftInvoiceInput {
    pub account_id: ID,
    pub currency: String,
    pub lines: Vec<InvoiceLineInput>,
    pub reason: String,
    /// Also names the invoice: the same key drafts the same invoice once.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct AddInvoiceLineInput {
    pub invoice_id: ID,
    pub line: InvoiceLineInput,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct IssueInvoiceInput {
    pub invoice_id: ID,
    /// When payment is due; 14 days from now when left out.
    pub due_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct InvoiceInput {
    pub invoice_id: ID,
    pub reason: String,
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct InvoicePayload {
    pub invoice: Option<InvoiceNode>,
    #[graphql(flatten)]
    pub receipt: WriteReceipt,
}

/// How long an invoice is payable for when no due date is given.
const DEFAULT_TERMS: Duration = Duration::days(14);

async fn run(
    ctx: &Context<'_>,
    id: Uuid,
    command: InvoiceCommand,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<InvoicePayload, ApiError> {
    let receipt = run_explained::<Invoice>(ctx, id, command, reason, idempotency_key).await?;
    Ok(InvoicePayload {
        invoice: find_invoice(&services(ctx).pool, id).await?,
        receipt,
    })
}

async fn act(
    ctx: &Context<'_>,
    input: InvoiceInput,
    command: InvoiceCommand,
) -> Result<InvoicePayload, ApiError> {
    let id = parse_id("invoiceId", &input.invoice_id)?;
    run(ctx, id, command, &input.reason, input.idempotency_key).await
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InvoiceBulkAction {
    MarkPaid,
    MarkPending,
    Cancel,
    Void,
    SendReminder,
    /// Charges the late fee on overdue invoices now (see `applyLateFee`).
    ApplyLateFee,
}

/// A bulk action on invoices, with the late-fee policy in force when it was asked for.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct InvoiceBulk {
    action: InvoiceBulkAction,
    late_fee: LateFeePolicy,
}

impl BulkAction for InvoiceBulk {
    type Aggregate = Invoice;
    const KIND: &'static str = "invoice";
    const PERMISSION: Permission = Permission::BillingWrite;

    fn name(&self) -> String {
        format!("invoice-{:?}", self.action)
    }

    fn command(&self, _actor: &Actor, _reason: &Reason, at: DateTime<Utc>) -> InvoiceCommand {
        use InvoiceBulkAction as A;
        match self.action {
            A::MarkPaid => InvoiceCommand::MarkPaid { payment_id: None },
            A::MarkPending => InvoiceCommand::MarkPending,
            A::Cancel => InvoiceCommand::Cancel,
            A::Void => InvoiceCommand::Void,
            A::SendReminder => InvoiceCommand::SendReminder {
                on: at.date_naive(),
            },
            A::ApplyLateFee => InvoiceCommand::ChargeLateFee {
                at,
                late_fee: self.late_fee,
            },
        }
    }
}

#[derive(InputObject)]
pub struct BulkInvoiceInput {
    pub action: InvoiceBulkAction,
    /// The invoices by id: up to 500 are answered at once, more (up to 50,000) run as a job.
    pub ids: Option<Vec<ID>>,
    /// Instead of `ids`: every invoice the list's filter lets through, as a job.
    pub filter: Option<InvoiceFilter>,
    pub reason: String,
    /// Names this bulk request: retrying with the same key does nothing twice.
    pub bulk_key: String,
}

#[derive(Default)]
pub struct InvoiceMutation;

#[Object]
impl InvoiceMutation {
    /// Drafts a manual invoice; lines may be added until it is issued.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn draft_invoice(
        &self,
        ctx: &Context<'_>,
        input: DraftInvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        let account_id = parse_id("accountId", &input.account_id)?;
        crate::graphql::tenancy::accounts::find_account(&services(ctx).pool, account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such account"))?;
        let command = InvoiceCommand::Draft {
            account_id,
            currency: Currency::parse(&input.currency)?,
            lines: input.lines.into_iter().map(Into::into).collect(),
            subject: None,
        };
        let id = match &input.idempotency_key {
            Some(key) => Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("draft-invoice:{key}").as_bytes(),
            ),
            None => Uuid::now_v7(),
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn add_invoice_line(
        &self,
        ctx: &Context<'_>,
        input: AddInvoiceLineInput,
    ) -> Result<InvoicePayload, ApiError> {
        let id = parse_id("invoiceId", &input.invoice_id)?;
        let command = InvoiceCommand::AddLine {
            line: input.line.into(),
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Issues a draft: it gets the next number of the year and can no longer change. Safe to
    /// repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn issue_invoice(
        &self,
        ctx: &Context<'_>,
        input: IssueInvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        let id = parse_id("invoiceId", &input.invoice_id)?;
        let now = Utc::now();
        let due_at = match input.due_at {
            Some(due) => domain::kit::time::filter_date("dueAt", due)?,
            None => now + DEFAULT_TERMS,
        };
        let command = InvoiceCommand::RequestIssue {
            issued_at: now,
            due_at,
        };
        run(ctx, id, command, &input.reason, input.idempotency_key).await
    }

    /// Marks a pending invoice paid by hand (the reason says how it was paid). Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn mark_invoice_paid(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        act(ctx, input, InvoiceCommand::MarkPaid { payment_id: None }).await
    }

    /// Puts a paid invoice back to pending (the payment did not arrive after all).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn mark_invoice_pending(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        act(ctx, input, InvoiceCommand::MarkPending).await
    }

    /// Cancels a draft or a pending invoice: nobody is to pay it. Safe to repeat.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn cancel_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        act(ctx, input, InvoiceCommand::Cancel).await
    }

    /// Voids an issued invoice (issued in error); a corrected one is a new invoice.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn void_invoice(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        act(ctx, input, InvoiceCommand::Void).await
    }

    /// Records a payment reminder for a pending invoice: at most one a day (a second is a
    /// no-op).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn send_invoice_reminder(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        let on = Utc::now().date_naive();
        act(ctx, input, InvoiceCommand::SendReminder { on }).await
    }

    /// Charges the late fee (the installation's `IGNY8_LATE_FEE` of its total) on an overdue
    /// pending invoice now, as dunning does 7 days after the due date: a `LATE_FEE` invoice
    /// is issued for it and the account reminded. Once per invoice, whoever charges it first;
    /// repeating records nothing. Before the due date: `CONFLICT`.
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn apply_late_fee(
        &self,
        ctx: &Context<'_>,
        input: InvoiceInput,
    ) -> Result<InvoicePayload, ApiError> {
        let late_fee = services(ctx).late_fee;
        let command = InvoiceCommand::ChargeLateFee {
            at: Utc::now(),
            late_fee,
        };
        act(ctx, input, command).await
    }

    /// One action on many invoices, answered per invoice (see `BulkResult`).
    #[graphql(guard = "Rule::Can(Permission::BillingWrite)")]
    async fn bulk_invoice_action(
        &self,
        ctx: &Context<'_>,
        input: BulkInvoiceInput,
    ) -> Result<BulkResult, ApiError> {
        let pool = &services(ctx).pool;
        let selection = Selection::of(input.ids, input.filter, |filter, limit| {
            ids_matching(pool, "read.invoices", limit, move |query| {
                filter.push(query)
            })
        })
        .await?;
        let action = InvoiceBulk {
            action: input.action,
            late_fee: services(ctx).late_fee,
        };
        bulk::run(ctx, action, &input.bulk_key, &input.reason, selection).await
    }
}

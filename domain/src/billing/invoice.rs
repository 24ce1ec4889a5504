//! Invoices: what an account owes, line by line, numbered without gaps per year.
//!
//! An invoice is drafted (lines may still be added), then issued: issuing first locks the
//! draft (`InvoiceIssueRequested`), then the year's [`register`](super::invoice_register)
//! assigns the next number, then the invoice records it (`InvoiceIssued`). The locked draft can
//! no longer be cancelled or changed, so a number once assigned is always issued: no gaps, even
//! when a server dies between the steps (the process manager that drives them resumes).
//!
//! Issued invoices never change: their lines and total are fixed. What happens after is a
//! status (paid, pending again, cancelled, void, refunded) or another invoice (a late fee).
//!
//! Decisions:
//! - Marking a paid invoice paid, cancelling a cancelled one, voiding a void one, and a second
//!   reminder on the same day succeed and record nothing (bulk actions report no-ops).
//! - Cancel is for invoices nobody should pay (a draft, or pending); a paid invoice is voided
//!   or refunded instead, so the payment it records is never silently dropped.
//! - A late fee is itself an invoice; the overdue invoice records which period it was for, so
//!   each overdue period is charged at most once.
//! - **Dunning**: an issued invoice left unpaid is chased in [`DunningStage`]s, each at a fixed
//!   time after its due date and recorded once (`InvoiceDunned`): overdue at the due date (a
//!   reminder; a subscription's invoice makes the subscription past due), a late fee
//!   [`LATE_FEE_AFTER`] later, the account's suspension [`SUSPENSION_AFTER`] later (the grace
//!   period). A paid, cancelled or void invoice is chased no more (dunning it records nothing);
//!   a late-fee invoice is never dunned itself.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{Currency, Money, MAX_PRICE_MINOR_UNITS};
use crate::kit::text_enum;
use crate::kit::values::{bounded_text, InvalidValue};
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const INVOICE_NAMESPACE: Uuid = Uuid::from_u128(0x7d3e_9a10_c4f2_4b58_a0e6_1f93_b82d_65c7);

/// The most lines one invoice may have.
pub const MAX_LINES: usize = 100;

text_enum! {
    pub enum InvoiceStatus {
        Draft,
        /// Issued, awaiting payment.
        Pending,
        Paid,
        Cancelled,
        Void,
        Refunded,
    }
}

text_enum! {
    pub enum LineKind {
        SubscriptionPeriod,
        Proration,
        CreditPackage,
        LateFee,
        Manual,
    }
}

text_enum! {
    /// The steps of chasing an unpaid invoice, in order.
    #[derive(PartialOrd, Ord)]
    pub enum DunningStage {
        /// At the due date: a reminder; a subscription's invoice makes it past due.
        Overdue,
        /// [`LATE_FEE_AFTER`] past due: a late fee (a separate invoice) and a reminder.
        LateFee,
        /// [`SUSPENSION_AFTER`] past due, the end of the grace period: the account is suspended.
        Suspension,
    }
}

/// How long after the due date an unpaid invoice is charged a late fee.
pub const LATE_FEE_AFTER: chrono::Duration = chrono::Duration::days(7);

/// The grace period: how long after the due date an unpaid invoice suspends its account.
pub const SUSPENSION_AFTER: chrono::Duration = chrono::Duration::days(14);

impl DunningStage {
    /// Every stage, in order.
    pub const ALL: [Self; 3] = [Self::Overdue, Self::LateFee, Self::Suspension];

    /// When an invoice due at `due_at` reaches this stage.
    pub fn at(self, due_at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Overdue => due_at,
            Self::LateFee => due_at + LATE_FEE_AFTER,
            Self::Suspension => due_at + SUSPENSION_AFTER,
        }
    }
}

/// How the late fee on an overdue invoice is computed (configured per installation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LateFeePolicy {
    /// A share of the invoice's total in basis points (500 = 5 %), rounded half to even.
    Percent { basis_points: i64 },
    /// The same amount on every overdue invoice, in its currency's minor units.
    Fixed { minor_units: i64 },
}

impl LateFeePolicy {
    /// The fee on an invoice of `total`; zero means none is charged.
    pub fn fee(self, total: &Money) -> Money {
        let minor = match self {
            Self::Percent { basis_points } => {
                crate::kit::money::prorate(total.minor_units, basis_points, 10_000)
            }
            Self::Fixed { minor_units } => minor_units,
        };
        Money::new(minor.max(0), total.currency.clone())
    }

    /// Parses `5%`, `2.5%` (basis points to two decimals) or a fixed amount in minor units
    /// (`1500`).
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let text = text.trim();
        let invalid = || {
            InvalidValue(format!(
                "a late fee is a percentage (`5%`, `2.5%`) or minor units (`1500`), got `{text}`"
            ))
        };
        let policy = match text.strip_suffix('%') {
            Some(percent) => {
                let (whole, fraction) = percent.split_once('.').unwrap_or((percent, ""));
                if fraction.len() > 2 || whole.is_empty() {
                    return Err(invalid());
                }
                let whole: i64 = whole.parse().map_err(|_| invalid())?;
                let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
                Self::Percent {
                    basis_points: whole * 100 + fraction,
                }
            }
            None => Self::Fixed {
                minor_units: text.parse().map_err(|_| invalid())?,
            },
        };
        match policy {
            Self::Percent { basis_points } if !(0..=10_000).contains(&basis_points) => Err(
                InvalidValue(format!("a late fee percentage is 0% to 100%, got `{text}`")),
            ),
            Self::Fixed { minor_units } if !(0..=MAX_PRICE_MINOR_UNITS).contains(&minor_units) => {
                Err(InvalidValue(format!(
                    "a fixed late fee is 0 to {MAX_PRICE_MINOR_UNITS} minor units, got `{text}`"
                )))
            }
            policy => Ok(policy),
        }
    }
}

/// One line: `quantity` times `unit_price_minor`. Only a proration may be negative (the unused
/// part of the period left behind by an upgrade).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

impl InvoiceLine {
    pub fn amount_minor(&self) -> i64 {
        self.quantity * self.unit_price_minor
    }

    fn check(&self) -> Result<(), InvalidValue> {
        bounded_text("a line's description", &self.description, 200)?;
        if !(1..=1_000_000).contains(&self.quantity) {
            return Err(InvalidValue(format!(
                "a line's quantity must be between 1 and 1000000, got {}",
                self.quantity
            )));
        }
        let floor = if self.kind == LineKind::Proration {
            -MAX_PRICE_MINOR_UNITS
        } else {
            0
        };
        if !(floor..=MAX_PRICE_MINOR_UNITS).contains(&self.unit_price_minor) {
            return Err(InvalidValue(format!(
                "a {} line's unit price must be between {floor} and {MAX_PRICE_MINOR_UNITS} minor units, got {}",
                self.kind, self.unit_price_minor
            )));
        }
        match self.quantity.checked_mul(self.unit_price_minor) {
            Some(amount) if amount.abs() <= MAX_PRICE_MINOR_UNITS * 1_000 => Ok(()),
            _ => Err(InvalidValue("a line's amount is out of range".into())),
        }
    }
}

/// What an invoice bills for, when it is not a manual invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InvoiceSubject {
    /// A subscription's period starting at `period_start`.
    Subscription {
        subscription_id: Uuid,
        period_start: DateTime<Utc>,
    },
    /// A credit package bought with a payment.
    CreditPackage { package_id: Uuid, version: i32 },
    /// The late fee on an overdue invoice for one overdue period.
    LateFee { invoice_id: Uuid, period: i32 },
    /// The prorated charge of a subscription's upgrade at `at`.
    Upgrade {
        subscription_id: Uuid,
        at: DateTime<Utc>,
    },
}

/// An invoice number: `INV-<year>-<six digits>`, the `n`th invoice issued in `year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InvoiceNumber {
    pub year: i32,
    pub sequence: i64,
}

impl std::fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "INV-{}-{:06}", self.year, self.sequence)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InvoiceCommand {
    Draft {
        account_id: Uuid,
        currency: Currency,
        lines: Vec<InvoiceLine>,
        subject: Option<InvoiceSubject>,
    },
    AddLine {
        line: InvoiceLine,
    },
    /// Locks the draft for issuing on `issued_at`, payable by `due_at`. Safe to repeat.
    RequestIssue {
        issued_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
    /// Records the number the register assigned. Safe to repeat with the same number.
    Issue {
        number: InvoiceNumber,
    },
    MarkPaid {
        payment_id: Option<Uuid>,
    },
    /// Back to pending, e.g. the payment bounced.
    MarkPending,
    Cancel,
    Void,
    SendReminder {
        on: NaiveDate,
    },
    /// Records the late-fee invoice charged for overdue period `period`.
    ApplyLateFee {
        period: i32,
        fee_invoice_id: Uuid,
    },
    /// The payment that paid it was refunded.
    Refund {
        payment_id: Uuid,
    },
    /// A person charges the late fee on an overdue invoice at `at`, before the scheduler
    /// would (7 days after the due date): the same `LateFee` dunning stage, so it is charged
    /// once either way. Safe to repeat.
    ChargeLateFee {
        at: DateTime<Utc>,
        late_fee: LateFeePolicy,
    },
    /// The scheduler's step when an unpaid invoice reaches `stage`; `late_fee` prices the
    /// `LateFee` stage. Records nothing for a stage already reached or an invoice no longer
    /// pending.
    Dun {
        stage: DunningStage,
        late_fee: LateFeePolicy,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum InvoiceEvent {
    InvoiceDrafted {
        account_id: Uuid,
        currency: Currency,
        lines: Vec<InvoiceLine>,
        subject: Option<InvoiceSubject>,
    },
    InvoiceLineAdded {
        line: InvoiceLine,
    },
    InvoiceIssueRequested {
        issued_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
    InvoiceIssued {
        account_id: Uuid,
        number: InvoiceNumber,
        issued_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
        total: Money,
        /// What it bills for (as drafted), for readers that act on it: dunning, reinstating
        /// a subscription. Optional and omitted when empty, so older payloads read unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<InvoiceSubject>,
    },
    InvoicePaid {
        account_id: Uuid,
        payment_id: Option<Uuid>,
        total: Money,
        /// As on `InvoiceIssued`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<InvoiceSubject>,
    },
    /// The unpaid invoice reached a dunning stage; `late_fee` is the fee to charge at the
    /// `LateFee` stage (none when the policy makes it zero).
    InvoiceDunned {
        account_id: Uuid,
        stage: DunningStage,
        due_at: DateTime<Utc>,
        total: Money,
        subject: Option<InvoiceSubject>,
        late_fee: Option<Money>,
    },
    InvoiceReopened {
        account_id: Uuid,
    },
    InvoiceCancelled {
        account_id: Uuid,
    },
    InvoiceVoided {
        account_id: Uuid,
    },
    InvoiceReminderSent {
        account_id: Uuid,
        on: NaiveDate,
    },
    InvoiceLateFeeApplied {
        account_id: Uuid,
        period: i32,
        fee_invoice_id: Uuid,
    },
    InvoiceRefunded {
        account_id: Uuid,
        payment_id: Uuid,
        total: Money,
    },
}

crate::stored_event!(InvoiceEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `NOT_FOUND`
    #[error("no such invoice")]
    NotFound,
    /// `CONFLICT`
    #[error("this invoice already exists")]
    AlreadyExists,
    /// `CONFLICT`
    #[error("the invoice is {0}; {1}")]
    WrongStatus(InvoiceStatus, &'static str),
    /// `CONFLICT`
    #[error("the invoice is being issued and can no longer change")]
    Issuing,
    /// `CONFLICT`
    #[error("the invoice already has number {0}")]
    NumberDiffers(InvoiceNumber),
    /// `CONFLICT`
    #[error("the invoice is not overdue until {}", .0.format("%Y-%m-%d %H:%M UTC"))]
    NotOverdue(DateTime<Utc>),
}

impl From<InvalidValue> for InvoiceError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for InvoiceError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyExists
            | Self::WrongStatus(..)
            | Self::Issuing
            | Self::NumberDiffers(_)
            | Self::NotOverdue(_) => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Issuing {
    issued_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    account_id: Uuid,
    currency: Currency,
    lines: Vec<InvoiceLine>,
    status: InvoiceStatus,
    issuing: Option<Issuing>,
    number: Option<InvoiceNumber>,
    paid_by: Option<Uuid>,
    last_reminder: Option<NaiveDate>,
    late_fee_periods: Vec<i32>,
    #[serde(default)]
    subject: Option<InvoiceSubject>,
    #[serde(default)]
    dunned: Vec<DunningStage>,
}

impl State {
    fn total(&self) -> Money {
        Money::new(
            self.lines.iter().map(InvoiceLine::amount_minor).sum(),
            self.currency.clone(),
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    state: Option<State>,
}

fn check_lines(lines: &[InvoiceLine]) -> Result<(), InvoiceError> {
    if lines.len() > MAX_LINES {
        return Err(InvoiceError::Invalid(format!(
            "an invoice has at most {MAX_LINES} lines"
        )));
    }
    for line in lines {
        line.check()?;
    }
    Ok(())
}

impl Invoice {
    /// The id of the invoice drafted for what payment `payment_id` buys (a credit package).
    pub fn id_for_payment(payment_id: Uuid) -> Uuid {
        Uuid::new_v5(&INVOICE_NAMESPACE, payment_id.as_bytes())
    }

    /// The id of the invoice billing `subject` (a subscription's period, an upgrade's proration,
    /// a late fee): derived, so billing the same thing twice names the same invoice.
    pub fn id_for_subject(subject: &InvoiceSubject) -> Uuid {
        let key = serde_json::to_vec(subject).expect("a subject serializes");
        Uuid::new_v5(&INVOICE_NAMESPACE, &key)
    }

    pub fn status(&self) -> Option<InvoiceStatus> {
        self.state.as_ref().map(|s| s.status)
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: InvoiceCommand) -> Result<Option<InvoiceEvent>, InvoiceError> {
        use InvoiceCommand as C;
        use InvoiceEvent as E;
        use InvoiceStatus as S;
        let Some(state) = &self.state else {
            let C::Draft {
                account_id,
                currency,
                lines,
                subject,
            } = command
            else {
                return Err(InvoiceError::NotFound);
            };
            if account_id.is_nil() {
                return Err(InvoiceError::Invalid(
                    "an invoice must name an account".into(),
                ));
            }
            check_lines(&lines)?;
            return Ok(Some(E::InvoiceDrafted {
                account_id,
                currency,
                lines,
                subject,
            }));
        };
        let account_id = state.account_id;
        let wrong = |why| Err(InvoiceError::WrongStatus(state.status, why));
        match command {
            C::Draft { .. } => Err(InvoiceError::AlreadyExists),
            C::AddLine { .. } if state.issuing.is_some() && state.number.is_none() => {
                Err(InvoiceError::Issuing)
            }
            C::AddLine { .. } if state.status != S::Draft => {
                wrong("an issued invoice never changes")
            }
            C::AddLine { line } => {
                let mut lines = state.lines.clone();
                lines.push(line.clone());
                check_lines(&lines)?;
                Ok(Some(E::InvoiceLineAdded { line }))
            }
            C::RequestIssue { .. } if state.issuing.is_some() || state.number.is_some() => Ok(None),
            C::RequestIssue { .. } if state.status != S::Draft => wrong("only a draft is issued"),
            C::RequestIssue { issued_at, due_at } => {
                if state.lines.is_empty() {
                    return Err(InvoiceError::Invalid(
                        "an invoice needs at least one line to be issued".into(),
                    ));
                }
                if state.total().minor_units < 0 {
                    return Err(InvoiceError::Invalid(
                        "an invoice's total cannot be negative".into(),
                    ));
                }
                if due_at < issued_at {
                    return Err(InvoiceError::Invalid(
                        "an invoice cannot be due before it is issued".into(),
                    ));
                }
                Ok(Some(E::InvoiceIssueRequested { issued_at, due_at }))
            }
            C::Issue { number } => match (state.number, &state.issuing) {
                (Some(existing), _) if existing == number => Ok(None),
                (Some(existing), _) => Err(InvoiceError::NumberDiffers(existing)),
                (None, None) => wrong("issuing it must be requested first"),
                (None, Some(issuing)) => Ok(Some(E::InvoiceIssued {
                    account_id,
                    number,
                    issued_at: issuing.issued_at,
                    due_at: issuing.due_at,
                    total: state.total(),
                    subject: state.subject.clone(),
                })),
            },
            C::MarkPaid { .. } if state.status == S::Paid => Ok(None),
            C::MarkPaid { payment_id } if state.status == S::Pending => Ok(Some(E::InvoicePaid {
                account_id,
                payment_id,
                total: state.total(),
                subject: state.subject.clone(),
            })),
            C::MarkPaid { .. } => wrong("only a pending invoice can be paid"),
            C::MarkPending if state.status == S::Pending => Ok(None),
            C::MarkPending if state.status == S::Paid => {
                Ok(Some(E::InvoiceReopened { account_id }))
            }
            C::MarkPending => wrong("only a paid invoice goes back to pending"),
            C::Cancel if state.status == S::Cancelled => Ok(None),
            C::Cancel if state.issuing.is_some() && state.number.is_none() => {
                Err(InvoiceError::Issuing)
            }
            C::Cancel if matches!(state.status, S::Draft | S::Pending) => {
                Ok(Some(E::InvoiceCancelled { account_id }))
            }
            C::Cancel => wrong("only a draft or a pending invoice can be cancelled"),
            C::Void if state.status == S::Void => Ok(None),
            C::Void if matches!(state.status, S::Pending | S::Paid) => {
                Ok(Some(E::InvoiceVoided { account_id }))
            }
            C::Void => wrong("only an issued invoice (pending or paid) can be voided"),
            C::SendReminder { .. } if state.status != S::Pending => {
                wrong("reminders are for pending invoices")
            }
            C::SendReminder { on } if state.last_reminder == Some(on) => Ok(None),
            C::SendReminder { on } => Ok(Some(E::InvoiceReminderSent { account_id, on })),
            C::ApplyLateFee { period, .. } if state.late_fee_periods.contains(&period) => Ok(None),
            C::ApplyLateFee { .. } if state.status != S::Pending => {
                wrong("late fees are for pending invoices")
            }
            C::ApplyLateFee {
                period,
                fee_invoice_id,
            } => {
                if period < 1 {
                    return Err(InvoiceError::Invalid(format!(
                        "an overdue period is counted from 1, got {period}"
                    )));
                }
                Ok(Some(E::InvoiceLateFeeApplied {
                    account_id,
                    period,
                    fee_invoice_id,
                }))
            }
            C::Refund { .. } if state.status == S::Refunded => Ok(None),
            C::Refund { payment_id } if state.status == S::Paid => Ok(Some(E::InvoiceRefunded {
                account_id,
                payment_id,
                total: state.total(),
            })),
            C::Refund { .. } => wrong("only a paid invoice is refunded"),
            C::ChargeLateFee { .. } if state.status != S::Pending => {
                wrong("late fees are for pending invoices")
            }
            C::ChargeLateFee { .. }
                if matches!(state.subject, Some(InvoiceSubject::LateFee { .. })) =>
            {
                Err(InvoiceError::Invalid(
                    "a late fee is not itself charged a late fee".into(),
                ))
            }
            C::ChargeLateFee { .. } if state.dunned.contains(&DunningStage::LateFee) => Ok(None),
            C::ChargeLateFee { at, late_fee } => {
                let Some(issuing) = &state.issuing else {
                    return wrong("only an issued invoice is charged a late fee");
                };
                if at < issuing.due_at {
                    return Err(InvoiceError::NotOverdue(issuing.due_at));
                }
                if !late_fee.fee(&state.total()).is_positive() {
                    return Err(InvoiceError::Invalid(
                        "the late-fee policy charges nothing on this invoice".into(),
                    ));
                }
                self.decide(C::Dun {
                    stage: DunningStage::LateFee,
                    late_fee,
                })
            }
            C::Dun { .. } if state.status != S::Pending => Ok(None),
            C::Dun { .. } if matches!(state.subject, Some(InvoiceSubject::LateFee { .. })) => {
                Ok(None)
            }
            C::Dun { stage, .. } if state.dunned.contains(&stage) => Ok(None),
            C::Dun { stage, late_fee } => {
                let Some(issuing) = &state.issuing else {
                    return wrong("only an issued invoice is chased");
                };
                let total = state.total();
                let late_fee = (stage == DunningStage::LateFee)
                    .then(|| late_fee.fee(&total))
                    .filter(Money::is_positive);
                Ok(Some(E::InvoiceDunned {
                    account_id,
                    stage,
                    due_at: issuing.due_at,
                    total,
                    subject: state.subject.clone(),
                    late_fee,
                }))
            }
        }
    }
}

impl crate::kit::event::StoredAggregate for Invoice {}

impl Aggregate for Invoice {
    const TYPE: &'static str = "invoice";
    type Command = InvoiceCommand;
    type Event = InvoiceEvent;
    type Error = InvoiceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use InvoiceEvent as E;
        if let E::InvoiceDrafted {
            account_id,
            currency,
            lines,
            subject,
        } = event
        {
            self.state = Some(State {
                account_id,
                currency,
                lines,
                status: InvoiceStatus::Draft,
                issuing: None,
                number: None,
                paid_by: None,
                last_reminder: None,
                late_fee_periods: Vec::new(),
                subject,
                dunned: Vec::new(),
            });
            return;
        }
        let Some(state) = &mut self.state else {
            return;
        };
        match event {
            E::InvoiceDrafted { .. } => {}
            E::InvoiceLineAdded { line } => state.lines.push(line),
            E::InvoiceIssueRequested { issued_at, due_at } => {
                state.issuing = Some(Issuing { issued_at, due_at })
            }
            E::InvoiceIssued { number, .. } => {
                state.number = Some(number);
                state.status = InvoiceStatus::Pending;
            }
            E::InvoicePaid { payment_id, .. } => {
                state.paid_by = payment_id;
                state.status = InvoiceStatus::Paid;
            }
            E::InvoiceReopened { .. } => {
                state.paid_by = None;
                state.status = InvoiceStatus::Pending;
            }
            E::InvoiceCancelled { .. } => state.status = InvoiceStatus::Cancelled,
            E::InvoiceVoided { .. } => state.status = InvoiceStatus::Void,
            E::InvoiceReminderSent { on, .. } => state.last_reminder = Some(on),
            E::InvoiceLateFeeApplied { period, .. } => state.late_fee_periods.push(period),
            E::InvoiceRefunded { .. } => state.status = InvoiceStatus::Refunded,
            E::InvoiceDunned { stage, .. } => state.dunned.push(stage),
        }
    }
}

#[cfg(test)]
mod tests;

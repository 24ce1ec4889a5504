//! Process manager `invoice_issuing`: numbers the invoices locked for issuing, in log order.
//!
//! For each `InvoiceIssueRequested`, the year's register assigns the next number (or answers
//! the one the invoice already has), and the invoice records it. The engine runs one instance
//! across all servers, so the register has one writer and numbers follow the log; both steps
//! are safe to repeat, so a crash between them, or a replay after one, gives the invoice the
//! number it was assigned, never a second one. Issuing cannot be refused once requested (the
//! draft is locked), so no number is ever left without its invoice.

use crate::store::bus::{CommandBus, CommandContext, CommandError};
use crate::store::engine::{reaction_to, step, Consumes, HandlerError, ProcessManager, Refusal};
use crate::store::log::RecordedEvent;
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use cqrs_es::Aggregate;
use domain::billing::invoice::{Invoice, InvoiceCommand, InvoiceEvent};
use domain::billing::invoice_register::{InvoiceRegister, RegisterCommand};
use domain::kit::error::Coded;
use uuid::Uuid;

pub const NAME: &str = "invoice_issuing";

pub struct InvoiceIssuing {
    bus: CommandBus,
}

impl InvoiceIssuing {
    pub fn new(bus: CommandBus) -> Self {
        Self { bus }
    }
}

/// Drafts an invoice, locks it for issuing on `issued_at` (payable by `due_at`) and numbers it:
/// what a process manager does to bill something. Steps are keyed `{key}:invoice` and
/// `{key}:invoice-issue`; numbering is safe to repeat by itself.
pub(crate) async fn draft_and_issue(
    bus: &CommandBus,
    key: &str,
    invoice_id: Uuid,
    draft: InvoiceCommand,
    issued_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    context: &CommandContext,
) -> Result<Option<Refusal>, HandlerError> {
    let request = InvoiceCommand::RequestIssue { issued_at, due_at };
    for (name, command) in [("invoice", draft), ("invoice-issue", request)] {
        let key = format!("{key}:{name}");
        if let Some(refused) = step::<Invoice>(bus, key, invoice_id, command, context).await? {
            return Ok(Some(refused));
        }
    }
    issue(bus, invoice_id, issued_at, context).await
}

static REGISTER_IN_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Numbers an invoice locked for issuing on `issued_at` and records the number on it: the
/// year's register assigns the next number (or the one the invoice has), the invoice records
/// it. Safe to repeat, and to run from two process managers at once (the register decides
/// again after a lost race, never skips).
pub(crate) async fn issue(
    bus: &CommandBus,
    invoice_id: Uuid,
    issued_at: DateTime<Utc>,
    context: &CommandContext,
) -> Result<Option<Refusal>, HandlerError> {
    let year = issued_at.year();
    let assign = RegisterCommand::Assign { year, invoice_id };
    // One assignment at a time in this process: managers reacting side by side would
    // otherwise race for the register and decide again after each lost race. Other processes
    // still race, and decide again.
    let in_turn = REGISTER_IN_TURN.lock().await;
    let register = match bus
        .execute_and_read::<InvoiceRegister>(
            &InvoiceRegister::id_for(year).to_string(),
            assign,
            context,
        )
        .await
    {
        Ok((_, register)) => register,
        Err(CommandError::Rejected(refused)) => {
            return Ok(Some(refusal(invoice_id, "number", refused)))
        }
        Err(other) => return Err(Box::new(other)),
    };
    drop(in_turn);
    let Some(number) = register.number_of(invoice_id) else {
        return Err(format!("register {year} did not number invoice {invoice_id}").into());
    };
    match bus
        .execute::<Invoice>(
            &invoice_id.to_string(),
            InvoiceCommand::Issue { number },
            context,
        )
        .await
    {
        Ok(_) => Ok(None),
        Err(CommandError::Rejected(refused)) => Ok(Some(refusal(invoice_id, "issue", refused))),
        Err(other) => Err(Box::new(other)),
    }
}

fn refusal(invoice_id: Uuid, step: &str, error: impl Coded + std::fmt::Display) -> Refusal {
    Refusal {
        code: error.code(),
        message: format!("invoice {invoice_id}, step {step}: {error}"),
    }
}

#[async_trait]
impl ProcessManager for InvoiceIssuing {
    fn name(&self) -> &'static str {
        NAME
    }

    fn consumes(&self) -> Consumes {
        Consumes::Only(&[Invoice::TYPE])
    }

    fn emits(&self) -> &'static [&'static str] {
        &[InvoiceRegister::TYPE, Invoice::TYPE]
    }

    async fn react(&self, event: &RecordedEvent) -> Result<Option<Refusal>, HandlerError> {
        let Some(InvoiceEvent::InvoiceIssueRequested { issued_at, .. }) =
            event.decode::<InvoiceEvent>()?
        else {
            return Ok(None);
        };
        let invoice_id: Uuid = event.aggregate_id.parse()?;
        let context = reaction_to(event, NAME)?;
        issue(&self.bus, invoice_id, issued_at, &context).await
    }
}

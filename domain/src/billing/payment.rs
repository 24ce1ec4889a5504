//! Manual payments (wire, check, cash): recorded pending, then approved or rejected by an
//! operator, and refunded after approval.
//!
//! Approval is the moment credits are bought: a process manager reacts to `PaymentApproved` by
//! granting the credits to the account (idempotently, keyed by the payment id), and to
//! `PaymentRefunded` by reversing them. Each event therefore carries the account, the amount
//! and the credits, so neither the process manager nor a projection has to look anything up.
//!
//! Decisions:
//! - A payment may pay an invoice (`invoice_id`): the process manager marks it paid on approval
//!   and refunded on refund. A payment for a credit package names the package version it buys
//!   and pays the invoice drafted for it. A payment that pays an invoice may buy no credits (a
//!   subscription period); any other payment buys at least one.
//! - Approving an approved payment succeeds and records nothing, so any number of concurrent or
//!   repeated approvals yield exactly one `PaymentApproved` (the store's optimistic lock
//!   serialises them; each retry then sees the payment approved).
//! - Every other move out of the wrong status is a `CONFLICT`: approving or rejecting a rejected
//!   or refunded payment, rejecting an approved one, refunding one that is not approved
//!   (pending, rejected, or already refunded). A refunded payment is never approved again.

use super::package::PackageVersionRef;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::money::{Credits, Money};
use crate::kit::text_enum;
use crate::kit::values::{bounded_text, InvalidValue, Note, PaymentReference, Reason};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest principal id accepted as an approver.
pub const MAX_APPROVER_CHARS: usize = 200;

text_enum! {
    pub enum PaymentMethod {
        Wire,
        Check,
        Cash,
        Other,
    }
}

text_enum! {
    pub enum PaymentStatus {
        Pending,
        Approved,
        Rejected,
        Refunded,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentCommand {
    Record {
        account_id: Uuid,
        amount: Money,
        credits: Credits,
        method: PaymentMethod,
        reference: Option<PaymentReference>,
        note: Option<Note>,
        /// The invoice it pays, if any.
        invoice_id: Option<Uuid>,
        /// The credit package it buys, if any.
        package: Option<PackageVersionRef>,
    },
    /// Safe to repeat: approving an approved payment records nothing.
    Approve {
        /// The principal id of whoever approved it (the actor in the metadata, kept in the
        /// event because "who approved" is a business fact of the payment).
        approver: String,
    },
    Reject {
        reason: Reason,
    },
    Refund {
        reason: Reason,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum PaymentEvent {
    PaymentRecorded {
        account_id: Uuid,
        amount: Money,
        credits: Credits,
        method: PaymentMethod,
        reference: Option<PaymentReference>,
        note: Option<Note>,
        // Optional and omitted when empty: payments recorded before invoices read unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        package: Option<PackageVersionRef>,
    },
    PaymentApproved {
        account_id: Uuid,
        approver: String,
        amount: Money,
        /// The credits to grant to the account (zero for a payment that buys none).
        credits: Credits,
        /// The invoice to mark paid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<Uuid>,
    },
    PaymentRejected {
        account_id: Uuid,
        reason: Reason,
    },
    PaymentRefunded {
        account_id: Uuid,
        amount: Money,
        /// The credits to reverse on the account.
        credits: Credits,
        reason: Reason,
        /// The invoice to mark refunded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<Uuid>,
    },
}

crate::stored_event!(PaymentEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this payment is already recorded")]
    AlreadyRecorded,
    /// `NOT_FOUND`
    #[error("no such payment")]
    NotFound,
    /// `CONFLICT`
    #[error("the payment is {0}, not pending")]
    NotPending(PaymentStatus),
    /// `CONFLICT`
    #[error("the payment is {0}; only an approved payment can be refunded")]
    NotApproved(PaymentStatus),
}

impl From<InvalidValue> for PaymentError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for PaymentError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyRecorded | Self::NotPending(_) | Self::NotApproved(_) => {
                ErrorCode::Conflict
            }
        }
    }
}

/// What a recorded payment is about, fixed at recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Terms {
    account_id: Uuid,
    amount: Money,
    credits: Credits,
    #[serde(default)]
    invoice_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    terms: Option<Terms>,
    status: Option<PaymentStatus>,
}

impl Payment {
    /// `None` until the payment is recorded.
    pub fn status(&self) -> Option<PaymentStatus> {
        self.status
    }

    pub fn account_id(&self) -> Option<Uuid> {
        self.terms.as_ref().map(|terms| terms.account_id)
    }

    /// The first command a payment can take; anything else finds no payment.
    fn record(command: PaymentCommand) -> Result<Option<PaymentEvent>, PaymentError> {
        let PaymentCommand::Record {
            account_id,
            amount,
            credits,
            method,
            reference,
            note,
            invoice_id,
            package,
        } = command
        else {
            return Err(PaymentError::NotFound);
        };
        if account_id.is_nil() {
            return Err(PaymentError::Invalid(
                "a payment must name an account".into(),
            ));
        }
        if !amount.is_positive() {
            return Err(PaymentError::Invalid(format!(
                "a payment amount must be positive, got {amount}"
            )));
        }
        let credits = match (invoice_id, credits.get()) {
            (Some(_), 0) => Credits::ZERO,
            (_, credits) => Credits::positive(credits)?,
        };
        Ok(Some(PaymentEvent::PaymentRecorded {
            account_id,
            amount,
            credits,
            method,
            reference,
            note,
            invoice_id,
            package,
        }))
    }

    /// `Ok(None)` means the command is already satisfied and nothing is recorded.
    fn decide(&self, command: PaymentCommand) -> Result<Option<PaymentEvent>, PaymentError> {
        use PaymentCommand as C;
        use PaymentEvent as E;
        let (Some(terms), Some(status)) = (&self.terms, self.status) else {
            return Self::record(command);
        };
        match (command, status) {
            (C::Record { .. }, _) => Err(PaymentError::AlreadyRecorded),
            (C::Approve { .. }, PaymentStatus::Approved) => Ok(None),
            (C::Approve { approver }, PaymentStatus::Pending) => Ok(Some(E::PaymentApproved {
                account_id: terms.account_id,
                approver: bounded_text("approver", &approver, MAX_APPROVER_CHARS)?,
                amount: terms.amount.clone(),
                credits: terms.credits,
                invoice_id: terms.invoice_id,
            })),
            (C::Reject { reason }, PaymentStatus::Pending) => Ok(Some(E::PaymentRejected {
                account_id: terms.account_id,
                reason,
            })),
            (C::Approve { .. } | C::Reject { .. }, status) => Err(PaymentError::NotPending(status)),
            (C::Refund { reason }, PaymentStatus::Approved) => Ok(Some(E::PaymentRefunded {
                account_id: terms.account_id,
                amount: terms.amount.clone(),
                credits: terms.credits,
                reason,
                invoice_id: terms.invoice_id,
            })),
            (C::Refund { .. }, status) => Err(PaymentError::NotApproved(status)),
        }
    }
}

impl crate::kit::event::StoredAggregate for Payment {}

impl Aggregate for Payment {
    const TYPE: &'static str = "payment";
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = PaymentError;
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
        match event {
            PaymentEvent::PaymentRecorded {
                account_id,
                amount,
                credits,
                invoice_id,
                ..
            } => {
                self.terms = Some(Terms {
                    account_id,
                    amount,
                    credits,
                    invoice_id,
                });
                self.status = Some(PaymentStatus::Pending);
            }
            PaymentEvent::PaymentApproved { .. } => self.status = Some(PaymentStatus::Approved),
            PaymentEvent::PaymentRejected { .. } => self.status = Some(PaymentStatus::Rejected),
            PaymentEvent::PaymentRefunded { .. } => self.status = Some(PaymentStatus::Refunded),
        }
    }
}

#[cfg(test)]
mod aggregate_tests {
    use super::*;
    use crate::kit::money::{Currency, MAX_CREDIT_AMOUNT};
    use cqrs_es::test::TestFramework;
    use cqrs_es::DomainEvent;

    type PaymentTest = TestFramework<Payment>;

    const ACCOUNT: Uuid = Uuid::from_u128(0xacc);

    fn usd(minor_units: i64) -> Money {
        Money::new(minor_units, Currency::parse("USD").unwrap())
    }

    fn reason(value: &str) -> Reason {
        Reason::parse(value).unwrap()
    }

    fn record_with(amount: Money, credits: i64, account_id: Uuid) -> PaymentCommand {
        PaymentCommand::Record {
            account_id,
            amount,
            credits: Credits::new(credits),
            method: PaymentMethod::Wire,
            reference: Some(PaymentReference::parse("WIRE-2026-0042").unwrap()),
            note: Some(Note::parse("received on the operating account").unwrap()),
            invoice_id: None,
            package: None,
        }
    }

    fn record() -> PaymentCommand {
        record_with(usd(5_000), 500, ACCOUNT)
    }

    fn recorded() -> PaymentEvent {
        PaymentEvent::PaymentRecorded {
            account_id: ACCOUNT,
            amount: usd(5_000),
            credits: Credits::new(500),
            method: PaymentMethod::Wire,
            reference: Some(PaymentReference::parse("WIRE-2026-0042").unwrap()),
            note: Some(Note::parse("received on the operating account").unwrap()),
            invoice_id: None,
            package: None,
        }
    }

    fn approve() -> PaymentCommand {
        PaymentCommand::Approve {
            approver: "op-billing-1".into(),
        }
    }

    fn approved() -> PaymentEvent {
        PaymentEvent::PaymentApproved {
            account_id: ACCOUNT,
            approver: "op-billing-1".into(),
            amount: usd(5_000),
            credits: Credits::new(500),
            invoice_id: None,
        }
    }

    fn rejected() -> PaymentEvent {
        PaymentEvent::PaymentRejected {
            account_id: ACCOUNT,
            reason: reason("no transfer arrived"),
        }
    }

    fn refunded() -> PaymentEvent {
        PaymentEvent::PaymentRefunded {
            account_id: ACCOUNT,
            amount: usd(5_000),
            credits: Credits::new(500),
            reason: reason("customer asked"),
            invoice_id: None,
        }
    }

    fn reject() -> PaymentCommand {
        PaymentCommand::Reject {
            reason: reason("no transfer arrived"),
        }
    }

    fn refund() -> PaymentCommand {
        PaymentCommand::Refund {
            reason: reason("customer asked"),
        }
    }

    async fn expect_invalid(given: Vec<PaymentEvent>, command: PaymentCommand) {
        let result = PaymentTest::with(())
            .given(given)
            .when_async(command.clone())
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(PaymentError::Invalid(_))),
            "{command:?}: {result:?}"
        );
    }

    // Recording.

    #[tokio::test]
    async fn recording_a_manual_payment_records_it_pending_with_everything_projections_need() {
        PaymentTest::with(())
            .given_no_previous_events()
            .when_async(record())
            .await
            .then_expect_events(vec![recorded()]);
    }

    #[tokio::test]
    async fn a_payment_may_be_recorded_without_reference_or_note() {
        PaymentTest::with(())
            .given_no_previous_events()
            .when_async(PaymentCommand::Record {
                account_id: ACCOUNT,
                amount: usd(100),
                credits: Credits::new(10),
                method: PaymentMethod::Cash,
                reference: None,
                note: None,
                invoice_id: None,
                package: None,
            })
            .await
            .then_expect_events(vec![PaymentEvent::PaymentRecorded {
                account_id: ACCOUNT,
                amount: usd(100),
                credits: Credits::new(10),
                method: PaymentMethod::Cash,
                reference: None,
                note: None,
                invoice_id: None,
                package: None,
            }]);
    }

    #[tokio::test]
    async fn recording_a_payment_twice_is_a_conflict() {
        PaymentTest::with(())
            .given(vec![recorded()])
            .when_async(record())
            .await
            .then_expect_error(PaymentError::AlreadyRecorded);
    }

    #[tokio::test]
    async fn a_payment_amount_must_be_positive() {
        expect_invalid(vec![], record_with(usd(0), 500, ACCOUNT)).await;
        expect_invalid(vec![], record_with(usd(-5_000), 500, ACCOUNT)).await;
    }

    #[tokio::test]
    async fn a_payment_must_buy_a_positive_bounded_number_of_credits() {
        for credits in [0, -1, MAX_CREDIT_AMOUNT + 1] {
            expect_invalid(vec![], record_with(usd(5_000), credits, ACCOUNT)).await;
        }
    }

    #[tokio::test]
    async fn a_payment_must_name_an_account() {
        expect_invalid(vec![], record_with(usd(5_000), 500, Uuid::nil())).await;
    }

    #[tokio::test]
    async fn every_command_but_record_on_an_unknown_payment_is_not_found() {
        for command in [approve(), reject(), refund()] {
            PaymentTest::with(())
                .given_no_previous_events()
                .when_async(command)
                .await
                .then_expect_error(PaymentError::NotFound);
        }
    }

    #[tokio::test]
    async fn a_payment_of_an_invoice_may_buy_no_credits_and_carries_the_invoice_to_approval() {
        let invoice_id = Uuid::from_u128(0x1ce);
        let PaymentCommand::Record {
            account_id,
            amount,
            method,
            reference,
            note,
            ..
        } = record()
        else {
            unreachable!()
        };
        let pays_invoice = PaymentCommand::Record {
            account_id,
            amount: amount.clone(),
            credits: Credits::ZERO,
            method,
            reference: reference.clone(),
            note: note.clone(),
            invoice_id: Some(invoice_id),
            package: None,
        };
        let recorded = PaymentEvent::PaymentRecorded {
            account_id,
            amount: amount.clone(),
            credits: Credits::ZERO,
            method,
            reference,
            note,
            invoice_id: Some(invoice_id),
            package: None,
        };
        PaymentTest::with(())
            .given_no_previous_events()
            .when_async(pays_invoice)
            .await
            .then_expect_events(vec![recorded.clone()]);
        PaymentTest::with(())
            .given(vec![recorded])
            .when_async(approve())
            .await
            .then_expect_events(vec![PaymentEvent::PaymentApproved {
                account_id,
                approver: "op-billing-1".into(),
                amount,
                credits: Credits::ZERO,
                invoice_id: Some(invoice_id),
            }]);
        // Without an invoice, a payment buys at least one credit.
        expect_invalid(vec![], record_with(usd(5_000), 0, ACCOUNT)).await;
    }

    #[test]
    fn payments_recorded_before_invoices_read_and_write_unchanged() {
        let old = serde_json::json!({ "PaymentApproved": {
            "account_id": ACCOUNT, "approver": "op", "credits": 5,
            "amount": { "minor_units": 100, "currency": "USD" },
        }});
        let event: PaymentEvent = serde_json::from_value(old.clone()).unwrap();
        assert!(matches!(
            event,
            PaymentEvent::PaymentApproved {
                invoice_id: None,
                ..
            }
        ));
        assert_eq!(serde_json::to_value(&event).unwrap(), old);
    }

    // Approval.

    #[tokio::test]
    async fn approving_a_pending_payment_records_the_approver_account_and_credits() {
        PaymentTest::with(())
            .given(vec![recorded()])
            .when_async(approve())
            .await
            .then_expect_events(vec![approved()]);
    }

    #[tokio::test]
    async fn approving_an_approved_payment_records_nothing() {
        PaymentTest::with(())
            .given(vec![recorded(), approved()])
            .when_async(PaymentCommand::Approve {
                approver: "op-billing-2".into(),
            })
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn twenty_approvals_of_one_payment_record_exactly_one_approval() {
        let mut payment = Payment::default();
        payment.apply(recorded());
        let mut recorded_events = Vec::new();
        for n in 0..20 {
            let sink = EventSink::default();
            payment
                .handle(
                    PaymentCommand::Approve {
                        approver: format!("op-{n}"),
                    },
                    &(),
                    &sink,
                )
                .await
                .expect("every approval succeeds");
            recorded_events.extend(sink.collect().await);
        }
        assert_eq!(recorded_events.len(), 1);
        assert_eq!(payment.status(), Some(PaymentStatus::Approved));
    }

    #[tokio::test]
    async fn approving_needs_an_approver() {
        expect_invalid(
            vec![recorded()],
            PaymentCommand::Approve {
                approver: "  ".into(),
            },
        )
        .await;
        expect_invalid(
            vec![recorded()],
            PaymentCommand::Approve {
                approver: "x".repeat(MAX_APPROVER_CHARS + 1),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn approving_a_rejected_payment_is_a_conflict() {
        PaymentTest::with(())
            .given(vec![recorded(), rejected()])
            .when_async(approve())
            .await
            .then_expect_error(PaymentError::NotPending(PaymentStatus::Rejected));
    }

    #[tokio::test]
    async fn a_refunded_payment_is_never_approved_again() {
        PaymentTest::with(())
            .given(vec![recorded(), approved(), refunded()])
            .when_async(approve())
            .await
            .then_expect_error(PaymentError::NotPending(PaymentStatus::Refunded));
    }

    // Rejection.

    #[tokio::test]
    async fn rejecting_a_pending_payment_records_the_reason() {
        PaymentTest::with(())
            .given(vec![recorded()])
            .when_async(reject())
            .await
            .then_expect_events(vec![rejected()]);
    }

    #[tokio::test]
    async fn rejecting_a_payment_that_is_not_pending_is_a_conflict() {
        for (given, status) in [
            (vec![recorded(), approved()], PaymentStatus::Approved),
            (vec![recorded(), rejected()], PaymentStatus::Rejected),
            (
                vec![recorded(), approved(), refunded()],
                PaymentStatus::Refunded,
            ),
        ] {
            PaymentTest::with(())
                .given(given)
                .when_async(reject())
                .await
                .then_expect_error(PaymentError::NotPending(status));
        }
    }

    // Refund.

    #[tokio::test]
    async fn refunding_an_approved_payment_records_the_credits_to_reverse() {
        PaymentTest::with(())
            .given(vec![recorded(), approved()])
            .when_async(refund())
            .await
            .then_expect_events(vec![refunded()]);
    }

    #[tokio::test]
    async fn only_an_approved_payment_can_be_refunded() {
        for (given, status) in [
            (vec![recorded()], PaymentStatus::Pending),
            (vec![recorded(), rejected()], PaymentStatus::Rejected),
            (
                vec![recorded(), approved(), refunded()],
                PaymentStatus::Refunded,
            ),
        ] {
            PaymentTest::with(())
                .given(given)
                .when_async(refund())
                .await
                .then_expect_error(PaymentError::NotApproved(status));
        }
    }

    // Codes and names.

    #[test]
    fn refusals_map_to_their_documented_codes() {
        assert_eq!(PaymentError::NotFound.code(), ErrorCode::NotFound);
        assert_eq!(
            PaymentError::NotPending(PaymentStatus::Rejected).code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            PaymentError::NotApproved(PaymentStatus::Pending).code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            PaymentError::Invalid("x".into()).code(),
            ErrorCode::Validation
        );
    }

    #[test]
    fn payment_methods_round_trip_through_their_names() {
        use strum::IntoEnumIterator;
        for method in PaymentMethod::iter() {
            assert_eq!(method.as_str().parse::<PaymentMethod>(), Ok(method));
            assert_eq!(
                serde_json::to_value(method).unwrap(),
                serde_json::json!(method.as_str())
            );
        }
        assert!("card".parse::<PaymentMethod>().is_err());
    }

    #[test]
    fn events_are_named_and_versioned() {
        assert_eq!(recorded().event_type(), "PaymentRecorded");
        assert_eq!(approved().event_type(), "PaymentApproved");
        assert_eq!(rejected().event_type(), "PaymentRejected");
        assert_eq!(refunded().event_type(), "PaymentRefunded");
        assert_eq!(approved().event_version(), "1");
    }
}

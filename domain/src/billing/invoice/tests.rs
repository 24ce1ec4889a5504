use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type InvoiceTest = TestFramework<Invoice>;

const ACCOUNT: Uuid = Uuid::from_u128(0xacc);
const PAYMENT: Uuid = Uuid::from_u128(0xbee);

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn line(kind: LineKind, quantity: i64, unit_price_minor: i64) -> InvoiceLine {
    InvoiceLine {
        kind,
        description: format!("{kind} line"),
        quantity,
        unit_price_minor,
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap()
}

fn number() -> InvoiceNumber {
    InvoiceNumber {
        year: 2026,
        sequence: 42,
    }
}

fn drafted() -> InvoiceEvent {
    InvoiceEvent::InvoiceDrafted {
        account_id: ACCOUNT,
        currency: usd(),
        lines: vec![line(LineKind::SubscriptionPeriod, 1, 7_900)],
        subject: None,
    }
}

fn requested() -> InvoiceEvent {
    InvoiceEvent::InvoiceIssueRequested {
        issued_at: at(1),
        due_at: at(15),
    }
}

fn issued() -> InvoiceEvent {
    InvoiceEvent::InvoiceIssued {
        account_id: ACCOUNT,
        number: number(),
        issued_at: at(1),
        due_at: at(15),
        total: Money::new(7_900, usd()),
        subject: None,
    }
}

fn pending() -> Vec<InvoiceEvent> {
    vec![drafted(), requested(), issued()]
}

fn paid() -> Vec<InvoiceEvent> {
    let mut events = pending();
    events.push(InvoiceEvent::InvoicePaid {
        account_id: ACCOUNT,
        payment_id: Some(PAYMENT),
        total: Money::new(7_900, usd()),
        subject: None,
    });
    events
}

async fn expect(given: Vec<InvoiceEvent>, command: InvoiceCommand, events: Vec<InvoiceEvent>) {
    InvoiceTest::with(())
        .given(given)
        .when_async(command)
        .await
        .then_expect_events(events);
}

async fn expect_error(given: Vec<InvoiceEvent>, command: InvoiceCommand) -> InvoiceError {
    InvoiceTest::with(())
        .given(given)
        .when_async(command.clone())
        .await
        .inspect_result()
        .expect_err(&format!("{command:?} should be refused"))
}

#[tokio::test]
async fn a_draft_takes_lines_and_is_issued_in_two_steps() {
    expect(
        vec![],
        InvoiceCommand::Draft {
            account_id: ACCOUNT,
            currency: usd(),
            lines: vec![line(LineKind::SubscriptionPeriod, 1, 7_900)],
            subject: None,
        },
        vec![drafted()],
    )
    .await;
    let late_fee = line(LineKind::Manual, 2, 500);
    expect(
        vec![drafted()],
        InvoiceCommand::AddLine {
            line: late_fee.clone(),
        },
        vec![InvoiceEvent::InvoiceLineAdded { line: late_fee }],
    )
    .await;
    let request = InvoiceCommand::RequestIssue {
        issued_at: at(1),
        due_at: at(15),
    };
    expect(vec![drafted()], request.clone(), vec![requested()]).await;
    expect(vec![drafted(), requested()], request, vec![]).await;
    expect(
        vec![drafted(), requested()],
        InvoiceCommand::Issue { number: number() },
        vec![issued()],
    )
    .await;
    expect(
        pending(),
        InvoiceCommand::Issue { number: number() },
        vec![],
    )
    .await;
    let other = InvoiceNumber {
        year: 2026,
        sequence: 43,
    };
    assert_eq!(
        expect_error(pending(), InvoiceCommand::Issue { number: other }).await,
        InvoiceError::NumberDiffers(number())
    );
}

#[tokio::test]
async fn a_locked_draft_neither_changes_nor_is_cancelled_so_its_number_is_never_lost() {
    let locked = vec![drafted(), requested()];
    assert_eq!(
        expect_error(
            locked.clone(),
            InvoiceCommand::AddLine {
                line: line(LineKind::Manual, 1, 1)
            }
        )
        .await,
        InvoiceError::Issuing
    );
    assert_eq!(
        expect_error(locked, InvoiceCommand::Cancel).await,
        InvoiceError::Issuing
    );
    assert!(matches!(
        expect_error(
            pending(),
            InvoiceCommand::AddLine {
                line: line(LineKind::Manual, 1, 1)
            }
        )
        .await,
        InvoiceError::WrongStatus(InvoiceStatus::Pending, _)
    ));
    assert!(matches!(
        expect_error(vec![drafted()], InvoiceCommand::Issue { number: number() }).await,
        InvoiceError::WrongStatus(InvoiceStatus::Draft, _)
    ));
}

#[tokio::test]
async fn bad_lines_and_dates_are_refused() {
    let draft = |lines| InvoiceCommand::Draft {
        account_id: ACCOUNT,
        currency: usd(),
        lines,
        subject: None,
    };
    for lines in [
        vec![line(LineKind::Manual, 0, 100)],
        vec![line(LineKind::Manual, 1, -100)],
        vec![line(LineKind::Manual, 1, MAX_PRICE_MINOR_UNITS + 1)],
        vec![InvoiceLine {
            description: " ".into(),
            ..line(LineKind::Manual, 1, 100)
        }],
        vec![line(LineKind::Manual, 1, 1); MAX_LINES + 1],
    ] {
        assert!(matches!(
            expect_error(vec![], draft(lines)).await,
            InvoiceError::Invalid(_)
        ));
    }
    // A proration may be negative, but the total may not.
    let credit_only = InvoiceEvent::InvoiceDrafted {
        account_id: ACCOUNT,
        currency: usd(),
        lines: vec![line(LineKind::Proration, 1, -500)],
        subject: None,
    };
    let request = |issued_at, due_at| InvoiceCommand::RequestIssue { issued_at, due_at };
    assert!(matches!(
        expect_error(vec![credit_only], request(at(1), at(15))).await,
        InvoiceError::Invalid(_)
    ));
    assert!(matches!(
        expect_error(vec![drafted()], request(at(15), at(1))).await,
        InvoiceError::Invalid(_)
    ));
    let empty = InvoiceEvent::InvoiceDrafted {
        account_id: ACCOUNT,
        currency: usd(),
        lines: vec![],
        subject: None,
    };
    assert!(matches!(
        expect_error(vec![empty], request(at(1), at(15))).await,
        InvoiceError::Invalid(_)
    ));
    assert_eq!(
        expect_error(vec![], InvoiceCommand::Cancel).await,
        InvoiceError::NotFound
    );
}

#[tokio::test]
async fn paying_is_for_pending_invoices_and_safe_to_repeat() {
    let pay = InvoiceCommand::MarkPaid {
        payment_id: Some(PAYMENT),
    };
    expect(pending(), pay.clone(), paid()[3..].to_vec()).await;
    expect(paid(), pay.clone(), vec![]).await;
    let mut void = pending();
    void.push(InvoiceEvent::InvoiceVoided {
        account_id: ACCOUNT,
    });
    assert!(matches!(
        expect_error(void, pay.clone()).await,
        InvoiceError::WrongStatus(InvoiceStatus::Void, _)
    ));
    assert!(matches!(
        expect_error(vec![drafted()], pay).await,
        InvoiceError::WrongStatus(InvoiceStatus::Draft, _)
    ));
    expect(
        paid(),
        InvoiceCommand::MarkPending,
        vec![InvoiceEvent::InvoiceReopened {
            account_id: ACCOUNT,
        }],
    )
    .await;
    expect(pending(), InvoiceCommand::MarkPending, vec![]).await;
}

#[tokio::test]
async fn cancel_void_and_refund_each_have_their_statuses() {
    let cancelled = vec![InvoiceEvent::InvoiceCancelled {
        account_id: ACCOUNT,
    }];
    expect(vec![drafted()], InvoiceCommand::Cancel, cancelled.clone()).await;
    expect(pending(), InvoiceCommand::Cancel, cancelled.clone()).await;
    let mut done = pending();
    done.extend(cancelled);
    expect(done, InvoiceCommand::Cancel, vec![]).await;
    assert!(matches!(
        expect_error(paid(), InvoiceCommand::Cancel).await,
        InvoiceError::WrongStatus(InvoiceStatus::Paid, _)
    ));
    expect(
        paid(),
        InvoiceCommand::Void,
        vec![InvoiceEvent::InvoiceVoided {
            account_id: ACCOUNT,
        }],
    )
    .await;
    assert!(matches!(
        expect_error(vec![drafted()], InvoiceCommand::Void).await,
        InvoiceError::WrongStatus(InvoiceStatus::Draft, _)
    ));
    let refund = InvoiceCommand::Refund {
        payment_id: PAYMENT,
    };
    let refunded = InvoiceEvent::InvoiceRefunded {
        account_id: ACCOUNT,
        payment_id: PAYMENT,
        total: Money::new(7_900, usd()),
    };
    expect(paid(), refund.clone(), vec![refunded.clone()]).await;
    let mut done = paid();
    done.push(refunded);
    expect(done, refund.clone(), vec![]).await;
    assert!(matches!(
        expect_error(pending(), refund).await,
        InvoiceError::WrongStatus(InvoiceStatus::Pending, _)
    ));
}

#[tokio::test]
async fn one_reminder_a_day_and_one_late_fee_per_overdue_period() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let reminded = InvoiceEvent::InvoiceReminderSent {
        account_id: ACCOUNT,
        on: day(16),
    };
    expect(
        pending(),
        InvoiceCommand::SendReminder { on: day(16) },
        vec![reminded.clone()],
    )
    .await;
    let mut after = pending();
    after.push(reminded);
    expect(
        after.clone(),
        InvoiceCommand::SendReminder { on: day(16) },
        vec![],
    )
    .await;
    expect(
        after,
        InvoiceCommand::SendReminder { on: day(17) },
        vec![InvoiceEvent::InvoiceReminderSent {
            account_id: ACCOUNT,
            on: day(17),
        }],
    )
    .await;
    assert!(matches!(
        expect_error(paid(), InvoiceCommand::SendReminder { on: day(16) }).await,
        InvoiceError::WrongStatus(InvoiceStatus::Paid, _)
    ));

    let fee = Uuid::from_u128(0xfee);
    let applied = InvoiceEvent::InvoiceLateFeeApplied {
        account_id: ACCOUNT,
        period: 1,
        fee_invoice_id: fee,
    };
    let apply = |period| InvoiceCommand::ApplyLateFee {
        period,
        fee_invoice_id: fee,
    };
    expect(pending(), apply(1), vec![applied.clone()]).await;
    let mut after = pending();
    after.push(applied);
    expect(after, apply(1), vec![]).await;
    assert!(matches!(
        expect_error(pending(), apply(0)).await,
        InvoiceError::Invalid(_)
    ));
}

// Dunning.

fn dun(stage: DunningStage) -> InvoiceCommand {
    InvoiceCommand::Dun {
        stage,
        late_fee: LateFeePolicy::Percent { basis_points: 250 },
    }
}

fn dunned(stage: DunningStage, late_fee: Option<i64>) -> InvoiceEvent {
    InvoiceEvent::InvoiceDunned {
        account_id: ACCOUNT,
        stage,
        due_at: at(15),
        total: Money::new(7_900, usd()),
        subject: None,
        late_fee: late_fee.map(|fee| Money::new(fee, usd())),
    }
}

#[tokio::test]
async fn each_dunning_stage_is_recorded_once_and_only_on_a_pending_invoice() {
    expect(
        pending(),
        dun(DunningStage::Overdue),
        vec![dunned(DunningStage::Overdue, None)],
    )
    .await;
    // 2.5 % of 7,900 is 197.5: half to even, 198.
    expect(
        pending(),
        dun(DunningStage::LateFee),
        vec![dunned(DunningStage::LateFee, Some(198))],
    )
    .await;
    let mut given = pending();
    given.push(dunned(DunningStage::Overdue, None));
    expect(given, dun(DunningStage::Overdue), vec![]).await;
    expect(paid(), dun(DunningStage::Suspension), vec![]).await;
}

fn charge(day: u32) -> InvoiceCommand {
    InvoiceCommand::ChargeLateFee {
        at: at(day),
        late_fee: LateFeePolicy::Percent { basis_points: 250 },
    }
}

#[tokio::test]
async fn a_person_charges_the_late_fee_once_and_only_when_overdue() {
    // Due on day 15: from then on it is the late-fee stage, as the scheduler records it.
    expect(
        pending(),
        charge(16),
        vec![dunned(DunningStage::LateFee, Some(198))],
    )
    .await;
    let mut charged = pending();
    charged.push(dunned(DunningStage::LateFee, Some(198)));
    expect(charged.clone(), charge(17), vec![]).await;
    expect(charged, dun(DunningStage::LateFee), vec![]).await;
    assert_eq!(
        expect_error(pending(), charge(14)).await,
        InvoiceError::NotOverdue(at(15))
    );
    assert!(matches!(
        expect_error(paid(), charge(16)).await,
        InvoiceError::WrongStatus(..)
    ));
    let free = InvoiceCommand::ChargeLateFee {
        at: at(16),
        late_fee: LateFeePolicy::Fixed { minor_units: 0 },
    };
    assert!(matches!(
        expect_error(pending(), free).await,
        InvoiceError::Invalid(_)
    ));
}

#[tokio::test]
async fn a_late_fee_invoice_is_never_dunned_itself() {
    let mut given = pending();
    if let InvoiceEvent::InvoiceDrafted { subject, .. } = &mut given[0] {
        *subject = Some(InvoiceSubject::LateFee {
            invoice_id: Uuid::from_u128(0x1),
            period: 1,
        });
    }
    expect(given, dun(DunningStage::LateFee), vec![]).await;
}

#[test]
fn late_fee_policies_parse_percentages_and_fixed_amounts() {
    let parse = |text| LateFeePolicy::parse(text);
    assert_eq!(
        parse("5%"),
        Ok(LateFeePolicy::Percent { basis_points: 500 })
    );
    assert_eq!(
        parse("2.5%"),
        Ok(LateFeePolicy::Percent { basis_points: 250 })
    );
    assert_eq!(
        parse("0.05%"),
        Ok(LateFeePolicy::Percent { basis_points: 5 })
    );
    assert_eq!(
        parse("1500"),
        Ok(LateFeePolicy::Fixed { minor_units: 1_500 })
    );
    for bad in ["", "%", "5.555%", "101%", "-1", "-5%", "five", "1e3"] {
        assert!(parse(bad).is_err(), "{bad:?} should be refused");
    }
    let total = Money::new(2_900, usd());
    assert_eq!(
        LateFeePolicy::Percent { basis_points: 500 }
            .fee(&total)
            .minor_units,
        145
    );
    assert_eq!(
        LateFeePolicy::Fixed { minor_units: 1_500 }
            .fee(&total)
            .minor_units,
        1_500
    );
}

use super::*;
use crate::kit::money::Currency;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type SubscriptionTest = TestFramework<Subscription>;

const ACCOUNT: Uuid = Uuid::from_u128(0xacc);
const INVOICE: Uuid = Uuid::from_u128(0x1c);

fn plan(tier: PlanTier, cents: i64, credits: i64) -> SubscribedPlan {
    SubscribedPlan {
        plan_id: Uuid::from_u128(tier as u128 + 1),
        code: tier.code(),
        version: 1,
        tier,
        name: PlanName::parse(tier.as_str()).unwrap(),
        monthly_price: Money::new(cents, Currency::parse("USD").unwrap()),
        included_credits: Credits::new(credits),
    }
}

fn starter() -> SubscribedPlan {
    plan(PlanTier::Starter, 2_900, 1_000)
}

fn growth() -> SubscribedPlan {
    plan(PlanTier::Growth, 7_900, 5_000)
}

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 0, 0, 0).unwrap()
}

fn reason() -> Reason {
    Reason::parse("customer asked").unwrap()
}

fn started(plan: SubscribedPlan, start: DateTime<Utc>, end: DateTime<Utc>) -> SubscriptionEvent {
    SubscriptionEvent::SubscriptionStarted {
        account_id: ACCOUNT,
        plan,
        status: SubscriptionStatus::Active,
        period_start: start,
        period_end: end,
    }
}

/// Active on Starter for April.
fn april() -> Vec<SubscriptionEvent> {
    vec![started(starter(), at(4, 1), at(5, 1))]
}

async fn expect(
    given: Vec<SubscriptionEvent>,
    command: SubscriptionCommand,
    events: Vec<SubscriptionEvent>,
) {
    SubscriptionTest::with(())
        .given(given)
        .when_async(command)
        .await
        .then_expect_events(events);
}

async fn refused(
    given: Vec<SubscriptionEvent>,
    command: SubscriptionCommand,
    code: ErrorCode,
) -> String {
    let error = SubscriptionTest::with(())
        .given(given)
        .when_async(command)
        .await
        .inspect_result()
        .expect_err("refused");
    assert_eq!(error.code(), code, "{error}");
    error.to_string()
}

fn fold(events: Vec<SubscriptionEvent>) -> Subscription {
    let mut subscription = Subscription::default();
    for event in events {
        subscription.apply(event);
    }
    subscription
}

#[tokio::test]
async fn a_start_without_a_trial_is_active_for_a_calendar_month() {
    let command = SubscriptionCommand::Start {
        account_id: ACCOUNT,
        plan: starter(),
        at: at(1, 31),
        trial_days: None,
    };
    expect(
        vec![],
        command,
        vec![started(starter(), at(1, 31), at(2, 28))],
    )
    .await;
}

#[tokio::test]
async fn months_are_counted_from_the_anchor_so_short_months_do_not_drift() {
    let mut events = vec![started(starter(), at(1, 31), at(2, 28))];
    let mut ends = vec![];
    for _ in 0..3 {
        let subscription = fold(events.clone());
        let (_, end) = subscription.period().unwrap();
        let renewed = subscription
            .decide(SubscriptionCommand::EndPeriod { period_end: end })
            .unwrap()
            .unwrap();
        events.push(renewed);
        ends.push(fold(events.clone()).period().unwrap().1);
    }
    assert_eq!(ends, vec![at(3, 31), at(4, 30), at(5, 31)]);
}

#[tokio::test]
async fn a_trial_ends_into_the_first_paid_period() {
    let trial = SubscriptionEvent::SubscriptionStarted {
        account_id: ACCOUNT,
        plan: starter(),
        status: SubscriptionStatus::Trialing,
        period_start: at(3, 1),
        period_end: at(3, 15),
    };
    let command = SubscriptionCommand::Start {
        account_id: ACCOUNT,
        plan: starter(),
        at: at(3, 1),
        trial_days: Some(14),
    };
    expect(vec![], command, vec![trial.clone()]).await;
    let end = SubscriptionCommand::EndPeriod {
        period_end: at(3, 15),
    };
    let renewed = SubscriptionEvent::SubscriptionRenewed {
        account_id: ACCOUNT,
        plan: starter(),
        status: SubscriptionStatus::Active,
        period_start: at(3, 15),
        period_end: at(4, 15),
    };
    expect(vec![trial], end, vec![renewed]).await;
}

#[tokio::test]
async fn trials_are_one_to_ninety_days() {
    for days in [0, -1, 91] {
        let command = SubscriptionCommand::Start {
            account_id: ACCOUNT,
            plan: starter(),
            at: at(3, 1),
            trial_days: Some(days),
        };
        let message = refused(vec![], command, ErrorCode::Validation).await;
        assert!(message.contains("1 to 90 days"), "{message}");
    }
}

#[tokio::test]
async fn a_live_subscription_cannot_be_started_twice() {
    let command = SubscriptionCommand::Start {
        account_id: ACCOUNT,
        plan: growth(),
        at: at(4, 2),
        trial_days: None,
    };
    refused(april(), command, ErrorCode::Conflict).await;
}

#[tokio::test]
async fn ending_a_period_is_idempotent_per_period_end() {
    let end = || SubscriptionCommand::EndPeriod {
        period_end: at(5, 1),
    };
    let renewed = SubscriptionEvent::SubscriptionRenewed {
        account_id: ACCOUNT,
        plan: starter(),
        status: SubscriptionStatus::Active,
        period_start: at(5, 1),
        period_end: at(6, 1),
    };
    expect(april(), end(), vec![renewed.clone()]).await;
    let mut given = april();
    given.push(renewed);
    expect(given, end(), vec![]).await;
}

#[tokio::test]
async fn an_upgrade_charges_and_grants_the_difference_for_the_rest_of_the_period() {
    // April has 30 days; 10 of them are left on the 21st: a third of the difference.
    let command = SubscriptionCommand::Upgrade {
        plan: growth(),
        at: at(4, 21),
    };
    let upgraded = SubscriptionEvent::SubscriptionUpgraded {
        account_id: ACCOUNT,
        from: starter(),
        to: growth(),
        at: at(4, 21),
        period_start: at(4, 1),
        // (7900 - 2900) / 3 = 1666.67 → 1667; (5000 - 1000) / 3 = 1333.33 → 1333.
        charge: Money::new(1_667, Currency::parse("USD").unwrap()),
        credits: Credits::new(1_333),
    };
    expect(april(), command, vec![upgraded]).await;
}

#[tokio::test]
async fn an_upgrade_rounds_an_exact_half_to_even() {
    // Half of April left, 5,001 cents of difference: 2,500.5 → 2,500.
    let dearer = SubscribedPlan {
        monthly_price: Money::new(7_901, Currency::parse("USD").unwrap()),
        ..growth()
    };
    let command = SubscriptionCommand::Upgrade {
        plan: dearer,
        at: at(4, 16),
    };
    let events = SubscriptionTest::with(())
        .given(april())
        .when_async(command)
        .await
        .inspect_result()
        .unwrap();
    let SubscriptionEvent::SubscriptionUpgraded { charge, .. } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(charge.minor_units, 2_500);
}

#[tokio::test]
async fn a_cheaper_plan_is_a_downgrade_at_the_period_end_not_an_upgrade() {
    let mut given = april();
    given.push(SubscriptionEvent::SubscriptionUpgraded {
        account_id: ACCOUNT,
        from: starter(),
        to: growth(),
        at: at(4, 21),
        period_start: at(4, 1),
        charge: Money::new(1_667, Currency::parse("USD").unwrap()),
        credits: Credits::new(1_333),
    });
    let upgrade = SubscriptionCommand::Upgrade {
        plan: starter(),
        at: at(4, 22),
    };
    let message = refused(given.clone(), upgrade, ErrorCode::Validation).await;
    assert!(message.contains("downgrade"), "{message}");
    let scheduled = SubscriptionEvent::SubscriptionDowngradeScheduled {
        account_id: ACCOUNT,
        to: starter(),
        effective_at: at(5, 1),
    };
    let downgrade = || SubscriptionCommand::Downgrade { plan: starter() };
    expect(given.clone(), downgrade(), vec![scheduled.clone()]).await;
    given.push(scheduled);
    expect(given.clone(), downgrade(), vec![]).await;
    let renewed = SubscriptionEvent::SubscriptionRenewed {
        account_id: ACCOUNT,
        plan: starter(),
        status: SubscriptionStatus::Active,
        period_start: at(5, 1),
        period_end: at(6, 1),
    };
    let end = SubscriptionCommand::EndPeriod {
        period_end: at(5, 1),
    };
    expect(given, end, vec![renewed]).await;
}

#[tokio::test]
async fn plans_in_another_currency_are_refused() {
    let euro = SubscribedPlan {
        monthly_price: Money::new(9_900, Currency::parse("EUR").unwrap()),
        ..growth()
    };
    let command = SubscriptionCommand::Upgrade {
        plan: euro,
        at: at(4, 2),
    };
    refused(april(), command, ErrorCode::Validation).await;
}

#[tokio::test]
async fn a_cancellation_at_period_end_expires_the_subscription_then() {
    let cancel = SubscriptionCommand::Cancel {
        reason: reason(),
        at_period_end: true,
        at: at(4, 10),
    };
    let scheduled = SubscriptionEvent::SubscriptionCancellationScheduled {
        account_id: ACCOUNT,
        reason: reason(),
        effective_at: at(5, 1),
    };
    expect(april(), cancel, vec![scheduled.clone()]).await;
    let mut given = april();
    given.push(scheduled);
    let renew = SubscriptionCommand::Renew { at: at(4, 20) };
    refused(given.clone(), renew, ErrorCode::Conflict).await;
    let end = SubscriptionCommand::EndPeriod {
        period_end: at(5, 1),
    };
    let expired = SubscriptionEvent::SubscriptionExpired {
        account_id: ACCOUNT,
        at: at(5, 1),
        period_start: at(4, 1),
    };
    expect(given, end, vec![expired]).await;
}

#[tokio::test]
async fn cancelling_a_cancelled_subscription_is_refused() {
    let mut given = april();
    given.push(SubscriptionEvent::SubscriptionCancelled {
        account_id: ACCOUNT,
        reason: reason(),
        at: at(4, 10),
        period_start: at(4, 1),
    });
    let cancel = SubscriptionCommand::Cancel {
        reason: reason(),
        at_period_end: false,
        at: at(4, 11),
    };
    let message = refused(given.clone(), cancel, ErrorCode::Conflict).await;
    assert!(message.contains("cancelled"), "{message}");
    // Activating starts it again on the same plan, from now.
    let activated = SubscriptionEvent::SubscriptionActivated {
        account_id: ACCOUNT,
        plan: starter(),
        period_start: at(4, 20),
        period_end: at(5, 20),
        new_period: true,
    };
    let activate = SubscriptionCommand::Activate { at: at(4, 20) };
    expect(given, activate, vec![activated]).await;
}

#[tokio::test]
async fn past_due_is_reinstated_only_by_the_invoice_that_made_it_so() {
    let mut given = april();
    given.push(SubscriptionEvent::SubscriptionPastDue {
        account_id: ACCOUNT,
        invoice_id: INVOICE,
    });
    let other = SubscriptionCommand::Reinstate {
        invoice_id: Uuid::from_u128(0x2c),
    };
    expect(given.clone(), other, vec![]).await;
    let reinstated = SubscriptionEvent::SubscriptionActivated {
        account_id: ACCOUNT,
        plan: starter(),
        period_start: at(4, 1),
        period_end: at(5, 1),
        new_period: false,
    };
    let reinstate = SubscriptionCommand::Reinstate {
        invoice_id: INVOICE,
    };
    expect(given, reinstate, vec![reinstated]).await;
    // Nothing to reinstate on an account without a subscription.
    let reinstate = SubscriptionCommand::Reinstate {
        invoice_id: INVOICE,
    };
    expect(vec![], reinstate, vec![]).await;
}

#[tokio::test]
async fn activating_an_active_subscription_records_nothing() {
    expect(
        april(),
        SubscriptionCommand::Activate { at: at(4, 3) },
        vec![],
    )
    .await;
}

#[tokio::test]
async fn a_renewal_ahead_stops_at_one_period() {
    let renewed = SubscriptionEvent::SubscriptionRenewed {
        account_id: ACCOUNT,
        plan: starter(),
        status: SubscriptionStatus::Active,
        period_start: at(5, 1),
        period_end: at(6, 1),
    };
    let renew = SubscriptionCommand::Renew { at: at(4, 20) };
    expect(april(), renew.clone(), vec![renewed.clone()]).await;
    let mut given = april();
    given.push(renewed);
    let message = refused(given, renew, ErrorCode::Conflict).await;
    assert!(message.contains("already renewed"), "{message}");
}

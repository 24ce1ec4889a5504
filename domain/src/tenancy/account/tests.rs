//! Given/when/then tests of every account command and refusal.

use super::*;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::{Email, ModelName, OperationType, Reason};
use crate::tenancy::slug_claim::SlugClaimError;
use cqrs_es::test::TestFramework;

type AccountTest = TestFramework<Account>;

const PAYMENT: Uuid = Uuid::from_u128(0xbee);

fn name(value: &str) -> AccountName {
    AccountName::parse(value).unwrap()
}

fn reason(value: &str) -> Reason {
    Reason::parse(value).unwrap()
}

fn opened_with_slug(slug: &str) -> AccountEvent {
    AccountEvent::AccountOpened {
        name: name("Acme Content"),
        slug: Slug::parse(slug).unwrap(),
        owner_email: Email::parse("owner@acme.example").unwrap(),
        plan: PlanTier::Starter,
    }
}

fn opened() -> AccountEvent {
    opened_with_slug("acme")
}

fn suspended() -> AccountEvent {
    AccountEvent::AccountSuspended {
        reason: reason("unpaid invoice"),
    }
}

fn deleted() -> AccountEvent {
    AccountEvent::AccountDeleted {
        reason: reason("customer left"),
    }
}

fn purchased(payment_id: Uuid, credits: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::CreditsPurchased {
        payment_id,
        credits: Credits::new(credits),
        balance_after: Credits::new(balance_after),
    }
}

fn consumed(credits: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::CreditsConsumed {
        operation: OperationType::parse("content_generation").unwrap(),
        units: 1,
        model: Some(ModelName::parse("gpt-4o-mini").unwrap()),
        credits: Credits::new(credits),
        balance_after: Credits::new(balance_after),
        cost_version: None,
    }
}

fn consume(credits: i64) -> AccountCommand {
    AccountCommand::ConsumeCredits {
        operation: OperationType::parse("content_generation").unwrap(),
        units: 1,
        model: Some(ModelName::parse("gpt-4o-mini").unwrap()),
        credits: Credits::new(credits),
        cost_version: None,
    }
}

fn adjust(amount: i64) -> AccountCommand {
    AccountCommand::AdjustCredits {
        amount: Credits::new(amount),
        reason: reason("goodwill"),
    }
}

fn grant(payment_id: Uuid, credits: i64) -> AccountCommand {
    AccountCommand::GrantPurchasedCredits {
        payment_id,
        credits: Credits::new(credits),
    }
}

fn reverse(payment_id: Uuid, credits: i64) -> AccountCommand {
    AccountCommand::ReverseRefundedCredits {
        payment_id,
        credits: Credits::new(credits),
        reason: reason("payment refunded"),
    }
}

fn refunded(requested: i64, reversed: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::CreditsRefunded {
        payment_id: PAYMENT,
        requested: Credits::new(requested),
        reversed: Credits::new(reversed),
        shortfall: Credits::new(requested - reversed),
        reason: reason("payment refunded"),
        balance_after: Credits::new(balance_after),
    }
}

// Lifecycle.

#[tokio::test]
async fn opening_an_account_records_its_name_slug_owner_and_plan() {
    AccountTest::with(())
        .given_no_previous_events()
        .when_async(AccountCommand::Open {
            name: name("Acme Content"),
            slug: Slug::parse("acme").unwrap(),
            owner_email: Email::parse("Owner@Acme.example").unwrap(),
            plan: PlanTier::Starter,
        })
        .await
        .then_expect_events(vec![opened()]);
}

#[tokio::test]
async fn opening_an_account_twice_is_a_conflict() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Open {
            name: name("Other"),
            slug: Slug::parse("other").unwrap(),
            owner_email: Email::parse("x@other.example").unwrap(),
            plan: PlanTier::Free,
        })
        .await
        .then_expect_error(AccountError::AlreadyOpened);
}

#[tokio::test]
async fn every_command_but_open_on_an_unknown_account_is_not_found() {
    let commands = vec![
        AccountCommand::Rename { name: name("X") },
        AccountCommand::ChangePlan {
            plan: PlanTier::Scale,
        },
        AccountCommand::Suspend {
            reason: reason("x"),
        },
        AccountCommand::Activate,
        AccountCommand::Delete {
            reason: reason("x"),
        },
        AccountCommand::Restore,
        adjust(10),
        grant(PAYMENT, 10),
        consume(1),
        reverse(PAYMENT, 1),
    ];
    for command in commands {
        AccountTest::with(())
            .given_no_previous_events()
            .when_async(command)
            .await
            .then_expect_error(AccountError::NotFound);
    }
}

#[tokio::test]
async fn renaming_an_account_records_the_new_name() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Rename {
            name: name("Acme Media"),
        })
        .await
        .then_expect_events(vec![AccountEvent::AccountRenamed {
            name: name("Acme Media"),
        }]);
}

#[tokio::test]
async fn renaming_an_account_to_its_current_name_records_nothing() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Rename {
            name: name("Acme Content"),
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn changing_the_plan_records_the_previous_and_the_new_tier() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::ChangePlan {
            plan: PlanTier::Growth,
        })
        .await
        .then_expect_events(vec![AccountEvent::AccountPlanChanged {
            from: PlanTier::Starter,
            to: PlanTier::Growth,
        }]);
}

#[tokio::test]
async fn changing_to_the_current_plan_records_nothing() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::ChangePlan {
            plan: PlanTier::Starter,
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn suspending_an_active_account_records_the_reason() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Suspend {
            reason: reason("unpaid invoice"),
        })
        .await
        .then_expect_events(vec![suspended()]);
}

#[tokio::test]
async fn suspending_a_suspended_account_is_a_conflict() {
    AccountTest::with(())
        .given(vec![opened(), suspended()])
        .when_async(AccountCommand::Suspend {
            reason: reason("again"),
        })
        .await
        .then_expect_error(AccountError::AlreadySuspended);
}

#[tokio::test]
async fn the_system_account_cannot_be_suspended() {
    AccountTest::with(())
        .given(vec![opened_with_slug(SYSTEM_ACCOUNT_SLUG)])
        .when_async(AccountCommand::Suspend {
            reason: reason("oops"),
        })
        .await
        .then_expect_error(AccountError::SystemAccountProtected);
}

#[tokio::test]
async fn the_system_account_cannot_be_deleted() {
    AccountTest::with(())
        .given(vec![opened_with_slug(SYSTEM_ACCOUNT_SLUG)])
        .when_async(AccountCommand::Delete {
            reason: reason("oops"),
        })
        .await
        .then_expect_error(AccountError::SystemAccountProtected);
}

#[tokio::test]
async fn activating_a_suspended_account_records_its_activation() {
    AccountTest::with(())
        .given(vec![opened(), suspended()])
        .when_async(AccountCommand::Activate)
        .await
        .then_expect_events(vec![AccountEvent::AccountActivated]);
}

#[tokio::test]
async fn activating_an_active_account_records_nothing_so_it_can_be_retried() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Activate)
        .await
        .then_expect_events(vec![]);
    AccountTest::with(())
        .given(vec![opened(), suspended(), AccountEvent::AccountActivated])
        .when_async(AccountCommand::Activate)
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn deleting_an_account_records_the_reason() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Delete {
            reason: reason("customer left"),
        })
        .await
        .then_expect_events(vec![deleted()]);
}

#[tokio::test]
async fn a_suspended_account_can_be_deleted() {
    AccountTest::with(())
        .given(vec![opened(), suspended()])
        .when_async(AccountCommand::Delete {
            reason: reason("customer left"),
        })
        .await
        .then_expect_events(vec![deleted()]);
}

#[tokio::test]
async fn a_deleted_account_refuses_everything_but_restore() {
    let commands = vec![
        AccountCommand::Rename { name: name("X") },
        AccountCommand::ChangePlan {
            plan: PlanTier::Scale,
        },
        AccountCommand::Suspend {
            reason: reason("x"),
        },
        AccountCommand::Activate,
        AccountCommand::Delete {
            reason: reason("x"),
        },
        adjust(10),
        grant(PAYMENT, 10),
        consume(1),
        reverse(PAYMENT, 1),
    ];
    for command in commands {
        AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 10, 10), deleted()])
            .when_async(command)
            .await
            .then_expect_error(AccountError::Deleted);
    }
}

#[tokio::test]
async fn restoring_a_deleted_account_returns_it_to_the_status_it_had() {
    AccountTest::with(())
        .given(vec![opened(), deleted()])
        .when_async(AccountCommand::Restore)
        .await
        .then_expect_events(vec![AccountEvent::AccountRestored {
            status: AccountStatus::Active,
        }]);
    AccountTest::with(())
        .given(vec![opened(), suspended(), deleted()])
        .when_async(AccountCommand::Restore)
        .await
        .then_expect_events(vec![AccountEvent::AccountRestored {
            status: AccountStatus::Suspended,
        }]);
}

#[tokio::test]
async fn a_restored_account_accepts_commands_again() {
    AccountTest::with(())
        .given(vec![
            opened(),
            deleted(),
            AccountEvent::AccountRestored {
                status: AccountStatus::Active,
            },
        ])
        .when_async(AccountCommand::Rename {
            name: name("Acme Again"),
        })
        .await
        .then_expect_events(vec![AccountEvent::AccountRenamed {
            name: name("Acme Again"),
        }]);
}

#[tokio::test]
async fn restoring_an_account_that_is_not_deleted_is_a_conflict() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(AccountCommand::Restore)
        .await
        .then_expect_error(AccountError::NotDeleted);
}

// Manual adjustments.

#[tokio::test]
async fn adding_credits_by_hand_records_the_balance_after() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(adjust(50))
        .await
        .then_expect_events(vec![AccountEvent::CreditsAdjusted {
            amount: Credits::new(50),
            reason: reason("goodwill"),
            balance_after: Credits::new(150),
        }]);
}

#[tokio::test]
async fn subtracting_credits_by_hand_records_the_balance_after() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(adjust(-100))
        .await
        .then_expect_events(vec![AccountEvent::CreditsAdjusted {
            amount: Credits::new(-100),
            reason: reason("goodwill"),
            balance_after: Credits::ZERO,
        }]);
}

#[tokio::test]
async fn an_adjustment_may_not_take_the_balance_below_zero() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(adjust(-101))
        .await
        .then_expect_error(AccountError::InsufficientCredits {
            balance: Credits::new(100),
            requested: Credits::new(101),
        });
}

#[tokio::test]
async fn an_adjustment_of_zero_or_beyond_the_bound_is_invalid() {
    use crate::kit::money::MAX_CREDIT_AMOUNT;
    for amount in [0, MAX_CREDIT_AMOUNT + 1, -MAX_CREDIT_AMOUNT - 1, i64::MIN] {
        let result = AccountTest::with(())
            .given(vec![opened()])
            .when_async(adjust(amount))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(AccountError::Invalid(_))),
            "{amount}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_balance_that_would_overflow_is_refused() {
    AccountTest::with(())
        .given(vec![
            opened(),
            AccountEvent::CreditsAdjusted {
                amount: Credits::new(i64::MAX - 5),
                reason: reason("imported"),
                balance_after: Credits::new(i64::MAX - 5),
            },
        ])
        .when_async(adjust(10))
        .await
        .then_expect_error(AccountError::BalanceOverflow);
}

// Purchases.

#[tokio::test]
async fn a_purchase_grant_adds_credits_and_records_the_balance_after() {
    AccountTest::with(())
        .given(vec![opened()])
        .when_async(grant(PAYMENT, 500))
        .await
        .then_expect_events(vec![purchased(PAYMENT, 500, 500)]);
    AccountTest::with(())
        .given(vec![opened(), purchased(Uuid::from_u128(1), 40, 40)])
        .when_async(grant(PAYMENT, 500))
        .await
        .then_expect_events(vec![purchased(PAYMENT, 500, 540)]);
}

#[tokio::test]
async fn granting_the_same_payment_twice_records_nothing() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 500, 500)])
        .when_async(grant(PAYMENT, 500))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn granting_a_reversed_payment_again_records_nothing() {
    AccountTest::with(())
        .given(vec![
            opened(),
            purchased(PAYMENT, 500, 500),
            refunded(500, 500, 0),
        ])
        .when_async(grant(PAYMENT, 500))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn granting_the_same_payment_with_other_credits_is_a_conflict() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 500, 500)])
        .when_async(grant(PAYMENT, 600))
        .await
        .then_expect_error(AccountError::GrantMismatch {
            payment_id: PAYMENT,
            granted: Credits::new(500),
        });
}

#[tokio::test]
async fn a_grant_of_zero_negative_or_too_many_credits_is_invalid() {
    for credits in [0, -5, crate::kit::money::MAX_CREDIT_AMOUNT + 1] {
        let result = AccountTest::with(())
            .given(vec![opened()])
            .when_async(grant(PAYMENT, credits))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(AccountError::Invalid(_))),
            "{credits}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_suspended_account_still_receives_purchased_credits() {
    AccountTest::with(())
        .given(vec![opened(), suspended()])
        .when_async(grant(PAYMENT, 500))
        .await
        .then_expect_events(vec![purchased(PAYMENT, 500, 500)]);
}

// Consumption.

#[tokio::test]
async fn consumption_debits_the_balance_and_records_the_operation() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(consume(30))
        .await
        .then_expect_events(vec![consumed(30, 70)]);
}

#[tokio::test]
async fn consumption_may_spend_the_balance_down_to_exactly_zero() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(consume(100))
        .await
        .then_expect_events(vec![consumed(100, 0)]);
}

#[tokio::test]
async fn consumption_beyond_the_balance_is_insufficient_credits() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(consume(101))
        .await
        .then_expect_error(AccountError::InsufficientCredits {
            balance: Credits::new(100),
            requested: Credits::new(101),
        });
}

#[tokio::test]
async fn a_suspended_account_may_not_consume_credits() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100), suspended()])
        .when_async(consume(1))
        .await
        .then_expect_error(AccountError::Suspended);
}

#[tokio::test]
async fn consumption_needs_at_least_one_unit_and_a_positive_bounded_debit() {
    let no_units = AccountCommand::ConsumeCredits {
        operation: OperationType::parse("image_generation").unwrap(),
        units: 0,
        model: None,
        credits: Credits::new(1),
        cost_version: None,
    };
    for command in [no_units, consume(0), consume(-1), consume(i64::MAX)] {
        let result = AccountTest::with(())
            .given(vec![opened(), purchased(PAYMENT, 100, 100)])
            .when_async(command.clone())
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(AccountError::Invalid(_))),
            "{command:?}: {result:?}"
        );
    }
}

// Refund reversals.

#[tokio::test]
async fn a_refund_reverses_the_credits_the_payment_granted() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 500, 500)])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_events(vec![refunded(500, 500, 0)]);
}

#[tokio::test]
async fn a_refund_after_credits_were_spent_reverses_what_is_left_and_records_the_shortfall() {
    AccountTest::with(())
        .given(vec![
            opened(),
            purchased(PAYMENT, 500, 500),
            consumed(350, 150),
        ])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_events(vec![refunded(500, 150, 0)]);
}

#[tokio::test]
async fn a_refund_on_an_empty_balance_records_the_whole_amount_as_shortfall() {
    AccountTest::with(())
        .given(vec![
            opened(),
            purchased(PAYMENT, 500, 500),
            consumed(500, 0),
        ])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_events(vec![refunded(500, 0, 0)]);
}

#[tokio::test]
async fn reversing_the_same_payment_twice_records_nothing() {
    AccountTest::with(())
        .given(vec![
            opened(),
            purchased(PAYMENT, 500, 500),
            adjust_event(1000, 1500),
            refunded(500, 500, 1000),
        ])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_events(vec![]);
}

fn adjust_event(amount: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::CreditsAdjusted {
        amount: Credits::new(amount),
        reason: reason("goodwill"),
        balance_after: Credits::new(balance_after),
    }
}

#[tokio::test]
async fn reversing_a_payment_that_granted_nothing_is_a_conflict() {
    AccountTest::with(())
        .given(vec![opened(), adjust_event(1000, 1000)])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_error(AccountError::NotGranted(PAYMENT));
}

#[tokio::test]
async fn reversing_more_than_the_payment_granted_is_invalid() {
    let result = AccountTest::with(())
        .given(vec![
            opened(),
            purchased(PAYMENT, 500, 500),
            adjust_event(1000, 1500),
        ])
        .when_async(reverse(PAYMENT, 501))
        .await
        .inspect_result();
    assert!(
        matches!(result, Err(AccountError::Invalid(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_refund_reversal_applies_to_a_suspended_account() {
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 500, 500), suspended()])
        .when_async(reverse(PAYMENT, 500))
        .await
        .then_expect_events(vec![refunded(500, 500, 0)]);
}

// Slug claims.

// Codes and constants.

#[test]
fn refusals_map_to_their_documented_codes() {
    assert_eq!(AccountError::Deleted.code(), ErrorCode::Conflict);
    assert_eq!(
        AccountError::SystemAccountProtected.code(),
        ErrorCode::Forbidden
    );
    assert_eq!(
        AccountError::InsufficientCredits {
            balance: Credits::ZERO,
            requested: Credits::new(1)
        }
        .code(),
        ErrorCode::InsufficientCredits
    );
    assert_eq!(SlugClaimError::Taken.code(), ErrorCode::Conflict);
}

#[test]
fn the_system_account_has_a_valid_slug_and_a_fixed_id() {
    assert_eq!(
        Slug::parse(SYSTEM_ACCOUNT_SLUG).unwrap().as_str(),
        SYSTEM_ACCOUNT_SLUG
    );
    assert_eq!(
        SYSTEM_ACCOUNT_ID.to_string(),
        "5157e3a0-0000-4000-8000-aa55ad310001"
    );
}

#[tokio::test]
async fn folding_the_events_gives_the_balance_the_last_event_recorded() {
    let mut account = Account::default();
    for event in [
        opened(),
        purchased(PAYMENT, 500, 500),
        consumed(350, 150),
        refunded(500, 150, 0),
    ] {
        account.apply(event);
    }
    assert_eq!(account.balance(), Credits::ZERO);
    assert_eq!(account.plan(), PlanTier::Starter);
    assert_eq!(account.status(), AccountStatus::Active);
}

#[tokio::test]
async fn a_consumption_priced_by_the_service_records_the_cost_version() {
    let priced = AccountCommand::ConsumeCredits {
        operation: OperationType::parse("content_generation").unwrap(),
        units: 1,
        model: Some(ModelName::parse("gpt-4o-mini").unwrap()),
        credits: Credits::new(30),
        cost_version: Some(2),
    };
    let mut expected = consumed(30, 70);
    if let AccountEvent::CreditsConsumed { cost_version, .. } = &mut expected {
        *cost_version = Some(2);
    }
    AccountTest::with(())
        .given(vec![opened(), purchased(PAYMENT, 100, 100)])
        .when_async(priced)
        .await
        .then_expect_events(vec![expected]);
}

#[test]
fn a_consumption_written_before_prices_were_versioned_reads_and_writes_unchanged() {
    let old = serde_json::json!({ "CreditsConsumed": {
        "operation": "content_generation", "units": 1, "model": null,
        "credits": 5, "balance_after": 10,
    }});
    let event: AccountEvent = serde_json::from_value(old.clone()).unwrap();
    assert!(matches!(
        event,
        AccountEvent::CreditsConsumed {
            cost_version: None,
            ..
        }
    ));
    assert_eq!(serde_json::to_value(&event).unwrap(), old);
}

// Included credits.

const SUBSCRIPTION: Uuid = Uuid::from_u128(0x5ab);

fn month(month: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(2026, month, 1, 0, 0, 0).unwrap()
}

fn version(version: i32) -> PlanVersionRef {
    PlanVersionRef {
        plan_id: Uuid::from_u128(0x91a),
        version,
    }
}

fn grant_included(period: u32, plan: i32, credits: i64) -> AccountCommand {
    AccountCommand::GrantIncludedCredits {
        subscription_id: SUBSCRIPTION,
        period_start: month(period),
        plan: version(plan),
        credits: Credits::new(credits),
    }
}

fn included(period: u32, plan: i32, credits: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::IncludedCreditsGranted {
        subscription_id: SUBSCRIPTION,
        period_start: month(period),
        plan: version(plan),
        credits: Credits::new(credits),
        balance_after: Credits::new(balance_after),
    }
}

fn expired(period: u32, credits: i64, balance_after: i64) -> AccountEvent {
    AccountEvent::IncludedCreditsExpired {
        subscription_id: SUBSCRIPTION,
        period_start: month(period),
        credits: Credits::new(credits),
        balance_after: Credits::new(balance_after),
    }
}

fn folded(events: Vec<AccountEvent>) -> Account {
    let mut account = Account::default();
    for event in events {
        account.apply(event);
    }
    account
}

#[tokio::test]
async fn a_new_period_expires_what_is_left_of_the_last_ones_included_credits_first() {
    // 1,000 included and 500 purchased; 300 consumed come out of the included credits, so 700
    // expire and the purchased 500 stay.
    let given = vec![
        opened(),
        included(4, 1, 1_000, 1_000),
        purchased(PAYMENT, 500, 1_500),
        consumed(300, 1_200),
    ];
    assert_eq!(folded(given.clone()).included_credits(), Credits::new(700));
    AccountTest::with(())
        .given(given)
        .when_async(grant_included(5, 1, 1_000))
        .await
        .then_expect_events(vec![expired(4, 700, 500), included(5, 1, 1_000, 1_500)]);
}

#[tokio::test]
async fn granting_a_period_twice_or_an_older_one_records_nothing() {
    let given = vec![opened(), included(5, 1, 1_000, 1_000)];
    for command in [grant_included(5, 1, 1_000), grant_included(4, 1, 1_000)] {
        AccountTest::with(())
            .given(given.clone())
            .when_async(command)
            .await
            .then_expect_events(vec![]);
    }
    // An upgrade's top-up is another plan version's grant for the same period.
    AccountTest::with(())
        .given(given)
        .when_async(grant_included(5, 2, 400))
        .await
        .then_expect_events(vec![included(5, 2, 400, 1_400)]);
}

#[tokio::test]
async fn a_refund_takes_back_purchased_credits_before_included_ones() {
    let given = vec![
        opened(),
        purchased(PAYMENT, 500, 500),
        included(4, 1, 1_000, 1_500),
        consumed(1_200, 300),
        refunded(500, 300, 0),
    ];
    // Consumption drew 1,000 included then 200 purchased; the refund took the 300 left.
    assert_eq!(folded(given).included_credits(), Credits::ZERO);
    let given = vec![
        opened(),
        purchased(PAYMENT, 500, 500),
        included(4, 1, 1_000, 1_500),
        refunded(500, 500, 1_000),
    ];
    assert_eq!(
        folded(given.clone()).included_credits(),
        Credits::new(1_000)
    );
    let expire = AccountCommand::ExpireIncludedCredits {
        subscription_id: SUBSCRIPTION,
        period_start: month(4),
    };
    AccountTest::with(())
        .given(given.clone())
        .when_async(expire.clone())
        .await
        .then_expect_events(vec![expired(4, 1_000, 0)]);
    let mut after = given;
    after.push(expired(4, 1_000, 0));
    AccountTest::with(())
        .given(after)
        .when_async(expire)
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_refused_grant_expires_nothing() {
    let given = vec![opened(), included(4, 1, 1_000, 1_000), deleted()];
    let error = AccountTest::with(())
        .given(given)
        .when_async(grant_included(5, 1, 1_000))
        .await
        .inspect_result()
        .expect_err("a deleted account takes no grant");
    assert_eq!(error.code(), ErrorCode::Conflict);
}

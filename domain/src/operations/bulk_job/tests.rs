use super::*;
use crate::kit::actor::ActorKind;
use cqrs_es::test::TestFramework;

type JobTest = TestFramework<BulkJob>;

fn item(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn spec(items: u128) -> JobSpec {
    JobSpec {
        action: "payment-Approve".into(),
        list: "payment".into(),
        arguments: serde_json::json!({"action": "APPROVE"}),
        bulk_key: "key-1".into(),
        reason: Reason::parse("month-end approvals").unwrap(),
        run_as: Actor::new(ActorKind::Operator, "op-1"),
        filter: None,
        items: (1..=items).map(item).collect(),
    }
}

fn done(n: u128) -> ItemResult {
    ItemResult {
        id: item(n),
        outcome: ItemOutcome::Done,
        code: None,
        message: None,
        position: Some(n as i64),
        replayed: false,
    }
}

fn refused(n: u128) -> ItemResult {
    ItemResult {
        outcome: ItemOutcome::Refused,
        code: Some("CONFLICT".into()),
        message: Some("already rejected".into()),
        position: None,
        ..done(n)
    }
}

fn started(items: u128) -> BulkJobEvent {
    BulkJobEvent::BulkJobStarted { spec: spec(items) }
}

fn tally(done: u32, no_op: u32, refused: u32) -> Tally {
    Tally {
        done,
        no_op,
        refused,
    }
}

fn reason() -> Reason {
    Reason::parse("wrong batch").unwrap()
}

#[tokio::test]
async fn starting_a_job_records_its_exact_items() {
    JobTest::with(())
        .given_no_previous_events()
        .when_async(BulkJobCommand::Start(spec(3)))
        .await
        .then_expect_events(vec![started(3)]);
}

#[tokio::test]
async fn a_job_without_items_is_refused() {
    JobTest::with(())
        .given_no_previous_events()
        .when_async(BulkJobCommand::Start(spec(0)))
        .await
        .then_expect_error_message(
            "a bulk job covers at least one item: the ids or the filter chose none",
        );
}

#[tokio::test]
async fn a_job_naming_an_item_twice_is_refused() {
    let mut twice = spec(2);
    twice.items.push(item(1));
    JobTest::with(())
        .given_no_previous_events()
        .when_async(BulkJobCommand::Start(twice))
        .await
        .then_expect_error_message(&format!("the items name {} more than once", item(1)));
}

#[tokio::test]
async fn a_job_over_too_many_items_is_refused() {
    let mut large = spec(1);
    large.items = (1..=MAX_ITEMS as u128 + 1).map(item).collect();
    let error = JobTest::with(())
        .given_no_previous_events()
        .when_async(BulkJobCommand::Start(large))
        .await
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Validation);
}

#[tokio::test]
async fn starting_the_same_request_again_records_nothing() {
    JobTest::with(())
        .given(vec![started(3)])
        .when_async(BulkJobCommand::Start(spec(3)))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_retried_filter_keeps_the_items_the_job_started_with() {
    let by_filter = |items| JobSpec {
        filter: Some(serde_json::json!({"status": ["PENDING"]})),
        ..spec(items)
    };
    JobTest::with(())
        .given(vec![BulkJobEvent::BulkJobStarted { spec: by_filter(3) }])
        .when_async(BulkJobCommand::Start(by_filter(5)))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn the_same_key_over_other_items_is_a_conflict() {
    JobTest::with(())
        .given(vec![started(3)])
        .when_async(BulkJobCommand::Start(spec(4)))
        .await
        .then_expect_error(BulkJobError::KeyTaken);
}

#[tokio::test]
async fn results_are_recorded_in_order_with_a_running_tally() {
    JobTest::with(())
        .given(vec![started(3)])
        .when_async(BulkJobCommand::Record {
            from: 0,
            results: vec![done(1), refused(2)],
        })
        .await
        .then_expect_events(vec![BulkJobEvent::BulkJobItemsRecorded {
            from: 0,
            results: vec![done(1), refused(2)],
            tally: tally(1, 0, 1),
        }]);
}

#[tokio::test]
async fn the_last_result_completes_the_job() {
    JobTest::with(())
        .given(vec![
            started(3),
            BulkJobEvent::BulkJobItemsRecorded {
                from: 0,
                results: vec![done(1), refused(2)],
                tally: tally(1, 0, 1),
            },
        ])
        .when_async(BulkJobCommand::Record {
            from: 2,
            results: vec![done(3)],
        })
        .await
        .then_expect_events(vec![
            BulkJobEvent::BulkJobItemsRecorded {
                from: 2,
                results: vec![done(3)],
                tally: tally(2, 0, 1),
            },
            BulkJobEvent::BulkJobCompleted {
                tally: tally(2, 0, 1),
            },
        ]);
}

#[tokio::test]
async fn a_repeated_chunk_records_only_what_is_new() {
    JobTest::with(())
        .given(vec![
            started(3),
            BulkJobEvent::BulkJobItemsRecorded {
                from: 0,
                results: vec![done(1)],
                tally: tally(1, 0, 0),
            },
        ])
        .when_async(BulkJobCommand::Record {
            from: 0,
            results: vec![done(1), done(2)],
        })
        .await
        .then_expect_events(vec![BulkJobEvent::BulkJobItemsRecorded {
            from: 1,
            results: vec![done(2)],
            tally: tally(2, 0, 0),
        }]);
}

#[tokio::test]
async fn results_past_a_gap_are_refused() {
    JobTest::with(())
        .given(vec![started(3)])
        .when_async(BulkJobCommand::Record {
            from: 1,
            results: vec![done(2)],
        })
        .await
        .then_expect_error(BulkJobError::OutOfOrder {
            from: 1,
            processed: 0,
        });
}

#[tokio::test]
async fn a_result_for_another_item_is_refused() {
    let error = JobTest::with(())
        .given(vec![started(3)])
        .when_async(BulkJobCommand::Record {
            from: 0,
            results: vec![done(2)],
        })
        .await
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Validation);
}

#[tokio::test]
async fn cancelling_a_running_job_records_how_far_it_got() {
    JobTest::with(())
        .given(vec![
            started(3),
            BulkJobEvent::BulkJobItemsRecorded {
                from: 0,
                results: vec![done(1)],
                tally: tally(1, 0, 0),
            },
        ])
        .when_async(BulkJobCommand::Cancel { reason: reason() })
        .await
        .then_expect_events(vec![BulkJobEvent::BulkJobCancelled {
            reason: reason(),
            processed: 1,
        }]);
}

#[tokio::test]
async fn cancelling_twice_records_nothing() {
    JobTest::with(())
        .given(vec![
            started(3),
            BulkJobEvent::BulkJobCancelled {
                reason: reason(),
                processed: 0,
            },
        ])
        .when_async(BulkJobCommand::Cancel { reason: reason() })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_completed_job_cannot_be_cancelled() {
    JobTest::with(())
        .given(vec![
            started(1),
            BulkJobEvent::BulkJobItemsRecorded {
                from: 0,
                results: vec![done(1)],
                tally: tally(1, 0, 0),
            },
            BulkJobEvent::BulkJobCompleted {
                tally: tally(1, 0, 0),
            },
        ])
        .when_async(BulkJobCommand::Cancel { reason: reason() })
        .await
        .then_expect_error(BulkJobError::Completed);
}

#[tokio::test]
async fn items_under_way_when_cancelled_are_still_recorded_but_complete_nothing() {
    JobTest::with(())
        .given(vec![
            started(1),
            BulkJobEvent::BulkJobCancelled {
                reason: reason(),
                processed: 0,
            },
        ])
        .when_async(BulkJobCommand::Record {
            from: 0,
            results: vec![done(1)],
        })
        .await
        .then_expect_events(vec![BulkJobEvent::BulkJobItemsRecorded {
            from: 0,
            results: vec![done(1)],
            tally: tally(1, 0, 0),
        }]);
}

#[tokio::test]
async fn a_job_that_never_started_cannot_be_cancelled() {
    JobTest::with(())
        .given_no_previous_events()
        .when_async(BulkJobCommand::Cancel { reason: reason() })
        .await
        .then_expect_error(BulkJobError::NotFound);
}

#[test]
fn pending_items_start_at_the_first_without_a_result() {
    let mut job = BulkJob::default();
    job.apply(started(5));
    job.apply(BulkJobEvent::BulkJobItemsRecorded {
        from: 0,
        results: vec![done(1), done(2)],
        tally: tally(2, 0, 0),
    });
    let (from, items) = job.pending(2);
    assert_eq!((from, items), (2, &[item(3), item(4)][..]));
    job.apply(BulkJobEvent::BulkJobCancelled {
        reason: reason(),
        processed: 2,
    });
    assert!(
        job.pending(2).1.is_empty(),
        "a cancelled job has nothing pending"
    );
}

#[test]
fn a_job_id_is_the_same_for_a_retry_and_differs_by_person_and_key() {
    let first = spec(2);
    assert_eq!(first.job_id(), spec(3).job_id());
    let other_key = JobSpec {
        bulk_key: "key-2".into(),
        ..spec(2)
    };
    let other_person = JobSpec {
        run_as: Actor::new(ActorKind::Operator, "op-2"),
        ..spec(2)
    };
    assert_ne!(first.job_id(), other_key.job_id());
    assert_ne!(first.job_id(), other_person.job_id());
}

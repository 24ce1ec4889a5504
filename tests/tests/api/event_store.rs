use crate::fixtures::{Counter, CounterCommand};
use crate::helpers::TestDb;
use domain::Actor;
use projections::CommandContext;

async fn one_event(db: &TestDb) {
    db.bus()
        .execute::<Counter>(
            "c-1",
            CounterCommand::Add(1),
            &CommandContext::new(Actor::system("test")),
        )
        .await
        .expect("appended");
}

#[tokio::test]
async fn the_events_table_refuses_updates_deletes_and_truncation() {
    let db = TestDb::new().await;
    one_event(&db).await;
    for statement in [
        "UPDATE events SET payload = '{}'::jsonb",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let error = sqlx::query(statement)
            .execute(&db.pool)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn every_event_gets_a_position_a_transaction_id_and_a_recorded_time() {
    let db = TestDb::new().await;
    one_event(&db).await;
    one_event(&db).await;
    let rows: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT position, transaction_id::text, recorded_at <= now() FROM events ORDER BY position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].0 < rows[1].0, "positions grow");
    assert_ne!(
        rows[0].1, rows[1].1,
        "separate commands commit in separate transactions"
    );
    assert!(rows.iter().all(|r| r.2));
    let types: Vec<String> = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns \
         WHERE table_name = 'events' AND column_name IN ('payload', 'metadata')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(types, ["jsonb", "jsonb"]);
}

/// Transaction ids are compared as numbers everywhere: ordered as text, `1000` would come
/// before `999`, and a projector would skip or repeat events whenever the cluster's
/// transaction counter gains a digit.
#[tokio::test]
async fn the_log_is_read_in_numeric_transaction_order_across_a_digit_boundary() {
    let db = TestDb::new().await;
    for (transaction_id, aggregate_id) in [("1000", "late-digit"), ("999", "early-digit")] {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata, transaction_id) VALUES ('counter', $1, 1, 'Added', '1', \
             '{\"Added\":{\"by\":1,\"total\":1}}', \
             '{\"actor_id\":\"t\",\"actor_kind\":\"system\",\"occurred_at\":\"2026-11-21T00:00:00Z\"}', $2::xid8)",
        )
        .bind(aggregate_id)
        .bind(transaction_id)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let mut conn = db.pool.acquire().await.unwrap();
    let events = projections::store::log::read_after(&mut conn, Default::default(), 10)
        .await
        .unwrap();
    let order: Vec<(u64, &str)> = events
        .iter()
        .map(|e| (e.at.transaction_id.0, e.aggregate_id.as_str()))
        .collect();
    assert_eq!(order, [(999, "early-digit"), (1000, "late-digit")]);
    let after_first = projections::store::log::read_after(&mut conn, events[0].at, 10)
        .await
        .unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].aggregate_id, "late-digit");

    let engine = crate::helpers::engine_with(&db.pool, Vec::new()).await;
    assert_eq!(engine.head().await.unwrap().transaction_id.0, 1000);
}

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

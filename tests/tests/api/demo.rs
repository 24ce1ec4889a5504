//! `seed-demo` builds its data through the command path, as people would; every actor it
//! writes as is one an auditor can look up.

use crate::helpers::TestDb;
use api::startup;

#[tokio::test]
async fn every_operator_or_service_actor_the_demo_writes_as_is_a_registered_operator() {
    let db = TestDb::new().await;
    let (bus, engine) = startup::open(&db.settings()).await.expect("open");
    api::demo::seed(&bus, &engine, 3).await.expect("seeded");
    engine
        .catch_up("operators")
        .await
        .expect("operators projected");
    let unknown: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT metadata ->> 'actor_kind', metadata ->> 'actor_id' FROM events e \
         WHERE metadata ->> 'actor_kind' IN ('operator', 'service') \
           AND NOT EXISTS (SELECT 1 FROM read.operators o WHERE o.id::text = e.metadata ->> 'actor_id')",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(unknown.is_empty(), "actors no one can look up: {unknown:?}");
    let usage: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'CreditsConsumed' AND metadata ->> 'actor_kind' = 'service'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(usage > 0, "the demo reports usage as a service principal");
}

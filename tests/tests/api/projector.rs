use crate::fixtures::{Counter, CounterCommand, Seen};
use crate::helpers::{engine_with, eventually, test_seal_key, TestDb};
use domain::Actor;
use projections::audit::seal::Sealer;
use projections::{store::db, CommandBus, CommandContext};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Appends `count` events to `counter-{writer}` through the command bus.
async fn bus_writer(bus: CommandBus, writer: usize, count: usize) {
    let context = CommandContext::new(Actor::system("writer"));
    for _ in 0..count {
        bus.execute::<Counter>(
            &format!("counter-{writer}"),
            CounterCommand::Add(1),
            &context,
        )
        .await
        .expect("append");
    }
}

/// Appends `count` events to `slow-{writer}`, each in a transaction that sleeps before it
/// commits, so later positions commit before earlier ones. Returns how many of its events
/// committed after a later position had already committed: the cases a naive reader skips.
async fn slow_writer(pool: PgPool, writer: usize, count: usize) -> usize {
    let mut overtaken = 0;
    for n in 1..=count {
        let mut tx = pool.begin().await.unwrap();
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ('counter', $1, $2, 'Added', '1', jsonb_build_object('Added', jsonb_build_object('by', 1, 'total', $2)), \
                     jsonb_build_object('actor_id', 'slow', 'actor_kind', 'system', 'occurred_at', to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))) \
             RETURNING position",
        )
        .bind(format!("slow-{writer}"))
        .bind(n as i64)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let pause = 0.01 + ((writer * 7 + n * 13) % 20) as f64 / 100.0;
        sqlx::query("SELECT pg_sleep($1)")
            .bind(pause)
            .execute(&mut *tx)
            .await
            .unwrap();
        let later: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position > $1")
            .bind(position)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        overtaken += usize::from(later > 0);
        tx.commit().await.unwrap();
    }
    overtaken
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A pool whose connections can be told apart in `pg_stat_activity`, so a test can cut them.
async fn named_pool(url: &str, name: &str) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .application_name(name);
    PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap()
}

async fn assert_exactly_once_in_order(db: &TestDb, name: &str) {
    let total = event_count(&db.pool).await;
    let applied_all = eventually(Duration::from_secs(60), || async {
        Seen::count(&db.pool, name).await == total
    })
    .await;
    assert!(
        applied_all,
        "applied {} of {total}",
        Seen::count(&db.pool, name).await
    );
    let missing: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM events e LEFT JOIN seen_{name} s USING (position) WHERE s.position IS NULL"
    ))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(missing, 0, "every event reached the projection");
    assert_eq!(
        Seen::out_of_order(&db.pool, name).await,
        Vec::<String>::new()
    );
    let applied: i64 =
        sqlx::query_scalar("SELECT events_applied FROM projection_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(applied, total, "the checkpoint counted each event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_and_slow_writers_never_make_the_projector_skip_or_repeat_an_event() {
    let db = TestDb::new().await;
    let seen = Seen::install(&db.pool, "all").await;
    let engine = engine_with(&db.pool, vec![Arc::new(seen)]).await;
    let stop = CancellationToken::new();
    let mut runners = engine.spawn(stop.clone());

    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..12 {
        let bus = db.bus();
        writers.spawn(async move {
            bus_writer(bus, writer, 200).await;
            0
        });
    }
    for writer in 0..4 {
        writers.spawn(slow_writer(db.pool.clone(), writer, 40));
    }
    let mut overtaken = 0;
    while let Some(done) = writers.join_next().await {
        overtaken += done.unwrap();
    }
    assert!(
        overtaken > 0,
        "the run must contain late commits to prove anything"
    );
    assert_eq!(event_count(&db.pool).await, 12 * 200 + 4 * 40);
    assert_exactly_once_in_order(&db, "all").await;

    stop.cancel();
    while runners.join_next().await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_killed_mid_run_resumes_to_the_same_state_a_rebuild_produces() {
    let db = TestDb::new().await;
    Seen::install(&db.pool, "crash").await;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        writers.spawn(bus_writer(db.bus(), writer, 150));
    }
    let pool = db.pool.clone();
    writers.spawn(async move {
        slow_writer(pool, 99, 20).await;
    });

    // The first projector runs until it has applied something, then loses its task and its
    // connections at once, wherever it is.
    let doomed_pool = named_pool(&db.url, "doomed-projector").await;
    let doomed = engine_with(&doomed_pool, vec![Arc::new(Seen { name: "crash" })]).await;
    let mut doomed_runners = doomed.spawn(CancellationToken::new());
    assert!(
        eventually(Duration::from_secs(30), || async {
            Seen::count(&db.pool, "crash").await > 100
        })
        .await
    );
    doomed_runners.abort_all();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed-projector'")
        .execute(&db.pool)
        .await
        .unwrap();

    let engine = engine_with(&db.pool, vec![Arc::new(Seen { name: "crash" })]).await;
    let stop = CancellationToken::new();
    let mut runners = engine.spawn(stop.clone());
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    assert_exactly_once_in_order(&db, "crash").await;
    stop.cancel();
    while runners.join_next().await.is_some() {}

    let incremental = Seen::snapshot(&db.pool, "crash").await;
    let report = engine.rebuild("crash").await.unwrap();
    assert_eq!(report.events as usize, incremental.len());
    assert_eq!(
        Seen::snapshot(&db.pool, "crash").await,
        incremental,
        "a rebuild equals the incremental build"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_on_one_database_apply_each_event_once() {
    let db = TestDb::new().await;
    Seen::install(&db.pool, "shared").await;
    let pool_a = db::connect(&db.url, 4).await.unwrap();
    let pool_b = db::connect(&db.url, 4).await.unwrap();
    let a = engine_with(&pool_a, vec![Arc::new(Seen { name: "shared" })]).await;
    let b = engine_with(&pool_b, vec![Arc::new(Seen { name: "shared" })]).await;
    let stop = CancellationToken::new();
    let mut runners = a.spawn(stop.clone());
    let mut more = b.spawn(stop.clone());

    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        writers.spawn(bus_writer(db.bus(), writer, 100));
    }
    let pool = db.pool.clone();
    writers.spawn(async move {
        slow_writer(pool, 7, 20).await;
    });
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    assert_exactly_once_in_order(&db, "shared").await;
    stop.cancel();
    while runners.join_next().await.is_some() {}
    while more.join_next().await.is_some() {}
}

#[tokio::test]
async fn rebuilding_an_unknown_projection_names_the_mistake() {
    let db = TestDb::new().await;
    let engine = engine_with(
        &db.pool,
        projections::all_handlers(&db.bus(), Sealer::new(test_seal_key(), 10_000)),
    )
    .await;
    let error = engine.rebuild("no-such-thing").await.unwrap_err();
    assert!(error.to_string().contains("no-such-thing"), "{error}");
}

/// Refuses every batch that holds an event of the aggregate `poison`, until it is cured (a
/// fixed build deployed).
#[derive(Default)]
struct Allergic {
    cured: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl projections::store::engine::EventHandler for Allergic {
    fn name(&self) -> &'static str {
        "allergic"
    }

    fn consumes(&self) -> projections::store::engine::Consumes {
        projections::store::engine::Consumes::Everything
    }

    async fn reset(
        &self,
        _: &mut sqlx::PgConnection,
    ) -> Result<(), projections::store::engine::HandlerError> {
        Ok(())
    }

    async fn apply(
        &self,
        _: &mut sqlx::PgConnection,
        events: &[projections::RecordedEvent],
    ) -> Result<(), projections::store::engine::HandlerError> {
        if self.cured.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        match events.iter().find(|e| e.aggregate_id == "poison") {
            Some(event) => Err(format!("cannot digest event {}", event.at).into()),
            None => Ok(()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_that_fails_stops_at_the_event_alone_and_resumes_once_fixed() {
    let db = TestDb::new().await;
    Seen::install(&db.pool, "healthy").await;
    let allergic = Allergic::default();
    let cure = Arc::clone(&allergic.cured);
    let engine = engine_with(
        &db.pool,
        vec![Arc::new(Seen { name: "healthy" }), Arc::new(allergic)],
    )
    .await;
    let stop = CancellationToken::new();
    let mut runners = engine.spawn(stop.clone());
    let context = CommandContext::new(Actor::system("writer"));
    for id in ["before", "poison", "after"] {
        for _ in 0..3 {
            db.bus()
                .execute::<Counter>(id, CounterCommand::Add(1), &context)
                .await
                .expect("append");
        }
    }

    let pool = db.pool.clone();
    let healthy = eventually(Duration::from_secs(10), || {
        let pool = pool.clone();
        async move { Seen::count(&pool, "healthy").await == 9 }
    })
    .await;
    assert!(healthy, "the healthy projection applied all 9 events");
    let (allergic_at, head): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT last_position FROM projection_checkpoints WHERE name = 'allergic'), \
                (SELECT max(position) FROM events)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let first_poison: i64 =
        sqlx::query_scalar("SELECT min(position) FROM events WHERE aggregate_id = 'poison'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        allergic_at < first_poison && first_poison <= head,
        "the failing projection stopped before the poison ({allergic_at} < {first_poison}), \
         never skipping it"
    );
    // It stops exactly at the poison: everything before it is applied, and its status names
    // the event.
    let engine_for_status = Arc::clone(&engine);
    let held = eventually(Duration::from_secs(10), || {
        let engine = Arc::clone(&engine_for_status);
        async move {
            let statuses = engine.status().await.unwrap();
            let allergic = statuses.iter().find(|s| s.name == "allergic").unwrap();
            allergic.checkpoint.position == first_poison - 1
                && allergic.stuck.as_ref().is_some_and(|s| {
                    s.event.position == first_poison && s.event.event_type == "Added"
                })
        }
    })
    .await;
    assert!(
        held,
        "held at the poison: {:?}",
        engine.status().await.unwrap()
    );
    // The write path goes on meanwhile.
    db.bus()
        .execute::<Counter>("later", CounterCommand::Add(1), &context)
        .await
        .expect("append while a projection is stuck");

    // A fixed build: the projection resumes by itself, and its status clears.
    cure.store(true, std::sync::atomic::Ordering::SeqCst);
    let resumed = eventually(Duration::from_secs(40), || {
        let engine = Arc::clone(&engine_for_status);
        async move {
            let statuses = engine.status().await.unwrap();
            let allergic = statuses.iter().find(|s| s.name == "allergic").unwrap();
            allergic.stuck.is_none() && allergic.pending == 0
        }
    })
    .await;
    assert!(resumed, "resumed: {:?}", engine.status().await.unwrap());
    stop.cancel();
    while runners.join_next().await.is_some() {}
}

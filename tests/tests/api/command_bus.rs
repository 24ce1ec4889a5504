use crate::fixtures::{Counter, CounterCommand};
use crate::helpers::TestDb;
use chrono::{Duration, Utc};
use domain::kit::error::{Coded, ErrorCode};
use domain::{Actor, ActorKind};
use projections::{CommandContext, CommandError};
use serde_json::Value;
use std::collections::HashSet;

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op-42")
}

async fn metadata_of_last(db: &TestDb) -> Value {
    sqlx::query_scalar("SELECT metadata FROM events ORDER BY position DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_event_carries_who_why_when_and_which_request() {
    let db = TestDb::new().await;
    let mut context = CommandContext::new(operator()).with_reason("customer asked");
    context.request_id = Some("req-7".into());
    context.causation_id = Some("cmd-1".into());
    context.client_addr = Some("10.0.0.9".into());
    let appended = db
        .bus()
        .execute::<Counter>("c-1", CounterCommand::Add(5), &context)
        .await
        .unwrap();
    assert_eq!(appended.events, 1);
    let metadata = metadata_of_last(&db).await;
    assert_eq!(metadata["actor_id"], "op-42");
    assert_eq!(metadata["actor_kind"], "operator");
    assert_eq!(metadata["reason"], "customer asked");
    assert_eq!(metadata["request_id"], "req-7");
    assert_eq!(
        metadata["correlation_id"], "req-7",
        "a request correlates what it causes"
    );
    assert_eq!(metadata["causation_id"], "cmd-1");
    assert_eq!(metadata["client_addr"], "10.0.0.9");
    let occurred: chrono::DateTime<Utc> =
        metadata["occurred_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - occurred).num_seconds().abs() < 60);
    let position: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(appended.last.unwrap().position, position);
}

#[tokio::test]
async fn a_command_without_an_actor_is_refused_and_appends_nothing() {
    let db = TestDb::new().await;
    let error = db
        .bus()
        .execute::<Counter>(
            "c-1",
            CounterCommand::Add(1),
            &CommandContext::new(Actor::new(ActorKind::Operator, "  ")),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Validation);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn only_service_and_system_principals_may_backdate_business_time() {
    let db = TestDb::new().await;
    let last_week = Utc::now() - Duration::days(7);
    let refused = db
        .bus()
        .execute::<Counter>(
            "c-1",
            CounterCommand::Add(1),
            &CommandContext::new(operator()).occurred_at(last_week),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);

    let import =
        CommandContext::new(Actor::new(ActorKind::Service, "platform")).occurred_at(last_week);
    db.bus()
        .execute::<Counter>("c-1", CounterCommand::Add(1), &import)
        .await
        .unwrap();
    let (occurred_at, recorded_at): (String, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT metadata ->> 'occurred_at', recorded_at FROM events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let occurred_at: chrono::DateTime<Utc> = occurred_at.parse().unwrap();
    assert_eq!(occurred_at.timestamp_micros(), last_week.timestamp_micros());
    assert!(
        recorded_at - occurred_at > Duration::days(6),
        "the store's own time stays separate"
    );

    let future =
        CommandContext::new(Actor::system("seed")).occurred_at(Utc::now() + Duration::days(1));
    let refused = db
        .bus()
        .execute::<Counter>("c-1", CounterCommand::Add(1), &future)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Validation);
}

#[tokio::test]
async fn racing_retries_with_one_idempotency_key_append_once_and_share_the_outcome() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let attempts = (0..20).map(|_| {
        let bus = bus.clone();
        tokio::spawn(async move {
            let context =
                CommandContext::new(operator()).with_idempotency_key("adjust-2026-11-21-001");
            bus.execute::<Counter>("c-1", CounterCommand::Add(10), &context)
                .await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().expect("every retry succeeds"))
        .collect();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1, "one append for twenty requests");
    let positions: HashSet<_> = outcomes.iter().map(|o| o.last).collect();
    assert_eq!(positions.len(), 1, "every caller learns the same position");
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
}

#[tokio::test]
async fn an_idempotency_key_cannot_be_reused_for_another_aggregate() {
    let db = TestDb::new().await;
    let context = CommandContext::new(operator()).with_idempotency_key("key-1");
    db.bus()
        .execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .unwrap();
    let error = db
        .bus()
        .execute::<Counter>("c-2", CounterCommand::Add(1), &context)
        .await
        .unwrap_err();
    assert!(matches!(error, CommandError::KeyReused(_)), "{error:?}");
    assert_eq!(error.code(), ErrorCode::Conflict);
}

/// Holds the next sequence number of `c-1` in an open transaction, so that the bus's first
/// append must wait for it and then lose the race.
async fn race_against_a_concurrent_writer(
    db: &TestDb,
    attempts: u32,
) -> Result<projections::Appended, CommandError<crate::fixtures::CounterError>> {
    let context = CommandContext::new(operator());
    db.bus()
        .execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .unwrap();
    let mut rival = db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('counter', 'c-1', 2, 'Added', '1', '{\"Added\":{\"by\":1,\"total\":2}}', \
                 '{\"actor_id\":\"rival\",\"actor_kind\":\"system\",\"occurred_at\":\"2026-11-21T00:00:00Z\"}')",
    )
    .execute(&mut *rival)
    .await
    .unwrap();
    let bus = db.bus().with_max_attempts(attempts);
    let command = tokio::spawn(async move {
        bus.execute::<Counter>(
            "c-1",
            CounterCommand::Add(1),
            &CommandContext::new(operator()),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    rival.commit().await.unwrap();
    command.await.unwrap()
}

#[tokio::test]
async fn a_lost_optimistic_race_is_decided_again_on_fresh_state() {
    let db = TestDb::new().await;
    let appended = race_against_a_concurrent_writer(&db, 8)
        .await
        .expect("retried");
    let sequence: i64 = sqlx::query_scalar("SELECT sequence FROM events WHERE position = $1")
        .bind(appended.last.unwrap().position)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sequence, 3);
    let total: i64 = sqlx::query_scalar(
        "SELECT (payload -> 'Added' ->> 'total')::bigint FROM events WHERE sequence = 3",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(total, 3, "the retry decided on the rival's state");
}

#[tokio::test]
async fn conflicts_beyond_the_retry_bound_are_reported_as_conflict() {
    let db = TestDb::new().await;
    let error = race_against_a_concurrent_writer(&db, 1).await.unwrap_err();
    assert!(matches!(error, CommandError::Conflict { .. }), "{error:?}");
    assert_eq!(error.code(), ErrorCode::Conflict);
}

#[tokio::test]
async fn a_command_that_decides_nothing_appends_nothing() {
    let db = TestDb::new().await;
    let appended = db
        .bus()
        .execute::<Counter>(
            "c-1",
            CounterCommand::Nothing,
            &CommandContext::new(operator()),
        )
        .await
        .unwrap();
    assert_eq!((appended.events, appended.last), (0, None));
}

async fn last_total(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT (payload -> 'Added' ->> 'total')::bigint FROM events ORDER BY position DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_long_history_loads_from_a_snapshot_and_decides_on_the_same_state() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let context = CommandContext::new(operator());
    for _ in 0..120 {
        bus.execute::<Counter>("c-1", CounterCommand::Add(1), &context)
            .await
            .unwrap();
    }
    let (sequence, payload): (i64, Value) = sqlx::query_as(
        "SELECT sequence, payload FROM aggregate_snapshots WHERE aggregate_type = 'counter' AND aggregate_id = 'c-1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (sequence, payload),
        (100, serde_json::json!({ "total": 100 }))
    );
    assert_eq!(last_total(&db).await, 120);

    // A snapshot that no longer fits the aggregate is ignored: the history is replayed.
    sqlx::query("UPDATE aggregate_snapshots SET payload = '{\"renamed\": 1}'")
        .execute(&db.pool)
        .await
        .unwrap();
    bus.execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .unwrap();
    assert_eq!(last_total(&db).await, 121);

    // A snapshot that still reads but was taken of another shape of the state (another
    // `STATE_VERSION`) is ignored too, rather than misread: a fresh process replays.
    sqlx::query(
        "UPDATE aggregate_snapshots SET payload = '{\"total\": 5000}', state_version = 99, \
         sequence = (SELECT max(sequence) FROM events WHERE aggregate_id = 'c-1')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db.bus()
        .execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .unwrap();
    assert_eq!(last_total(&db).await, 122);
}

/// Two buses stand for two processes: each keeps the aggregates it wrote warm.
#[tokio::test]
async fn a_warm_aggregate_another_process_changed_is_decided_again_on_fresh_state() {
    let db = TestDb::new().await;
    let context = CommandContext::new(operator());
    let (here, elsewhere) = (db.bus(), db.bus());
    here.execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .unwrap();
    elsewhere
        .execute::<Counter>("c-1", CounterCommand::Add(10), &context)
        .await
        .unwrap();
    here.execute::<Counter>("c-1", CounterCommand::Add(1), &context)
        .await
        .expect("the stale decision lost its append and was taken again");
    let totals: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT sequence, (payload -> 'Added' ->> 'total')::bigint FROM events ORDER BY sequence",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(totals, vec![(1, 1), (2, 11), (3, 12)]);
}

#[tokio::test]
async fn a_refusal_is_never_answered_from_a_warm_aggregate() {
    use domain::kit::money::Credits;
    use domain::kit::values::{AccountName, Email, Reason, Slug};
    use domain::tenancy::account::{Account, AccountCommand};
    let db = TestDb::new().await;
    let context = CommandContext::new(operator()).with_reason("test");
    let (here, elsewhere) = (db.bus(), db.bus());
    let open = AccountCommand::Open {
        name: AccountName::parse("Warm Ltd").unwrap(),
        slug: Slug::parse("warm-ltd").unwrap(),
        owner_email: Email::parse("owner@warm.example").unwrap(),
        plan: domain::billing::plan::PlanTier::Growth,
    };
    let adjust = |amount: i64| AccountCommand::AdjustCredits {
        amount: Credits::signed(amount).unwrap(),
        reason: Reason::parse("test").unwrap(),
    };
    here.execute::<Account>("a-1", open, &context)
        .await
        .unwrap();
    elsewhere
        .execute::<Account>("a-1", adjust(100), &context)
        .await
        .unwrap();
    // On the warm state (balance 0) this debit would be refused.
    here.execute::<Account>("a-1", adjust(-50), &context)
        .await
        .expect("decided on the fresh balance of 100");
    let balance: i64 = sqlx::query_scalar(
        "SELECT (payload -> 'CreditsAdjusted' ->> 'balance_after')::bigint FROM events \
         ORDER BY sequence DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(balance, 50);
}

/// Every idempotent command (process-manager steps, bulk items, clients' keys) looks its key up
/// first: the lookup must use the key's index, or it walks the whole log each time.
#[tokio::test]
async fn the_idempotency_lookup_uses_the_keys_index_however_long_the_log() {
    let db = TestDb::new().await;
    let mut conn = db.pool.acquire().await.unwrap();
    // Whatever the table's size, a plan that cannot use the index would be chosen over one
    // that can only if the index is unusable: forbid the alternatives' cheap paths.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) {}",
        projections::store::bus::EARLIER_WITH_KEY.replace("$1", "'bulk:k:a:1'")
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.to_string().contains("events_idempotency_key"),
        "the lookup must use events_idempotency_key: {plan}"
    );
}

/// The child process of the test below, set by it: the database to write to.
const CRASH_CHILD_DB: &str = "IGNY8_TEST_GROUP_COMMIT_CHILD_DB";

/// A real `kill -9` in the middle of group commits: a child process (this test binary, run
/// again as the writer) keeps 16 writers appending three-event commands through one bus, and
/// prints each command's id once the bus has acknowledged it; the parent kills it after a few
/// hundred. Then every acknowledged command is in the log whole, no command is in it in part,
/// every aggregate's sequences run without a gap, each decided on the state before it, and
/// commands did share commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_group_commit_keeps_every_acknowledged_command_and_no_half_one() {
    if let Ok(url) = std::env::var(CRASH_CHILD_DB) {
        return write_until_killed(&url).await;
    }
    let db = TestDb::new().await;
    let test = format!(
        "{}::a_process_killed_mid_group_commit_keeps_every_acknowledged_command_and_no_half_one",
        module_path!().split_once("::").map_or("", |(_, path)| path)
    );
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_DB, &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| line.strip_prefix("acknowledged ").map(str::to_string))
            .collect::<Vec<_>>()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let seen: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'counter'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if seen >= 1_500 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let acknowledged = reader.join().unwrap();
    assert!(
        acknowledged.len() >= 100,
        "the child acknowledged {} commands",
        acknowledged.len()
    );

    let commands: Vec<(String, i64)> = sqlx::query_as(
        "SELECT metadata ->> 'request_id', count(*) FROM events \
         WHERE aggregate_type = 'counter' GROUP BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let whole: HashSet<&str> = commands.iter().map(|(id, _)| id.as_str()).collect();
    for (id, events) in &commands {
        assert_eq!(
            *events, 3,
            "command {id} is in the log with {events} of its 3 events"
        );
    }
    for id in &acknowledged {
        assert!(
            whole.contains(id.as_str()),
            "acknowledged command {id} is not in the log"
        );
    }
    let broken: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT sequence, (payload -> 'Added' ->> 'total')::bigint AS total, \
                row_number() OVER (PARTITION BY aggregate_id ORDER BY sequence) AS n \
         FROM events WHERE aggregate_type = 'counter') e WHERE sequence <> n OR total <> n",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        broken, 0,
        "sequences run without gaps and each total follows the last"
    );
    let shared: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(DISTINCT metadata ->> 'request_id') AS n \
         FROM events WHERE aggregate_type = 'counter' GROUP BY transaction_id) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(shared > 1, "no two commands ever shared a commit");
    eprintln!(
        "{} commands acknowledged, {} in the log, at most {shared} in one commit",
        acknowledged.len(),
        commands.len()
    );
}

/// The child's part: writes until it is killed, printing what the bus acknowledged.
async fn write_until_killed(url: &str) {
    let pool = projections::store::db::connect(url, 16).await.unwrap();
    let bus = projections::CommandBus::new(pool);
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..16 {
        let bus = bus.clone();
        writers.spawn(async move {
            loop {
                let id = uuid::Uuid::new_v4().to_string();
                let mut context = CommandContext::new(operator());
                context.request_id = Some(id.clone());
                let counter = format!("crash-{}", writer % 8);
                if bus
                    .execute::<Counter>(&counter, CounterCommand::Steps(3), &context)
                    .await
                    .is_ok()
                {
                    println!("acknowledged {id}");
                }
            }
        });
    }
    while writers.join_next().await.is_some() {}
}

/// Group commit: commands ready at the same moment are appended in one transaction, each
/// learns its own position, and one that lost its sequence to another process is decided
/// again alone while the rest of its batch is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_ready_together_share_one_commit_and_a_stale_one_fails_alone() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let context = CommandContext::new(operator());
    let counters: Vec<String> = (0..8).map(|n| format!("c-{n}")).collect();
    for id in counters
        .iter()
        .chain(["x-1".to_string(), "x-2".to_string()].iter())
    {
        bus.execute::<Counter>(id, CounterCommand::Add(1), &context)
            .await
            .unwrap();
    }
    // Another process moves c-3 on: this bus's warm copy of it is now stale.
    db.bus()
        .execute::<Counter>("c-3", CounterCommand::Add(10), &context)
        .await
        .unwrap();
    // Both batch writers are kept busy on x-1 and x-2, whose next sequences a rival holds,
    // so the eight commands below queue up and go together once the rival gives way.
    let mut rival = db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT 'counter', id, 2, 'Added', '1', '{\"Added\":{\"by\":1,\"total\":2}}', \
                '{\"actor_id\":\"rival\",\"actor_kind\":\"system\",\"occurred_at\":\"2026-11-21T00:00:00Z\"}' \
         FROM unnest(ARRAY['x-1', 'x-2']) AS id",
    )
    .execute(&mut *rival)
    .await
    .unwrap();
    let mut held = tokio::task::JoinSet::new();
    for id in ["x-1", "x-2"] {
        let bus = bus.clone();
        held.spawn(async move {
            bus.execute::<Counter>(id, CounterCommand::Add(1), &CommandContext::new(operator()))
                .await
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut queued = tokio::task::JoinSet::new();
    for id in counters.clone() {
        let bus = bus.clone();
        queued.spawn(async move {
            let appended = bus
                .execute::<Counter>(
                    &id,
                    CounterCommand::Add(1),
                    &CommandContext::new(operator()),
                )
                .await;
            (id, appended)
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    rival.rollback().await.unwrap();
    while let Some(done) = held.join_next().await {
        done.unwrap()
            .expect("the held commands are written once the rival gives way");
    }
    let mut transactions = std::collections::HashMap::new();
    while let Some(done) = queued.join_next().await {
        let (id, appended) = done.unwrap();
        let at = appended
            .expect("every queued command is written")
            .last
            .unwrap();
        let (owner, total, transaction): (String, i64, String) = sqlx::query_as(
            "SELECT aggregate_id, (payload -> 'Added' ->> 'total')::bigint, transaction_id::text \
             FROM events WHERE position = $1",
        )
        .bind(at.position)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(owner, id, "each caller learns its own position");
        let expected = if id == "c-3" { 12 } else { 2 };
        assert_eq!(total, expected, "{id} was decided on its latest state");
        transactions.insert(id, transaction);
    }
    let shared: HashSet<&String> = transactions
        .iter()
        .filter(|(id, _)| id.as_str() != "c-3")
        .map(|(_, transaction)| transaction)
        .collect();
    assert_eq!(
        shared.len(),
        1,
        "the seven fresh commands share one commit: {transactions:?}"
    );
    assert!(
        !shared.contains(&transactions["c-3"]),
        "the stale command was written after being decided again"
    );
    let stats = bus.group_commit_stats();
    assert!(stats.commands > stats.batches, "{stats:?}");
}

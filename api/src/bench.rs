//! `igny8-admin bench`: side-by-side figures for writes, projections and reads, measured in one
//! run on a fresh database, so ratios hold even on a shared, noisy machine.
//!
//! Rows, at 1, 4 and 16 concurrent clients where it applies:
//! - `ceiling`: single-row INSERT transactions into a table shaped like `events`, and at 16
//!   clients the batched ceiling: transactions of one 16-row INSERT (rows/s);
//! - `command bus`: credit adjustments through our command path (no HTTP), with the size of
//!   the group commits it reached; at 16 clients also against the batched ceiling;
//! - `graphql e2e`: the `adjustCredits` mutation over HTTP, read-your-writes included;
//! - `peer cqrs-es`: the same command with plain cqrs-es + postgres-es and a `GenericQuery`
//!   view over `PostgresViewRepository`, as the cqrs-es demo builds read models;
//! - `rebuild`: events/s replaying a large log into each projection;
//! - `read …`: p50/p99 of three list queries and the dashboard under 32 clients at a small
//!   and a large log;
//! - auditors: time travel across a long account, a history page under 32 clients, sealing
//!   against the append rate, and `verify` over the large log;
//! - `ingest activity`: the platform's activity over NDJSON at 1 and 4 senders, against
//!   1,000-row INSERTs of the same rows (records/s; see `ingestion`).

mod ingestion;

use crate::config::{Secret, Settings};
use crate::graphql::operations::bulk::MAX_ITEMS;
use crate::startup::{self, Application};
use anyhow::Context;
use cqrs_es::persist::GenericQuery;
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope, Query, View};
use domain::billing::payment::{Payment, PaymentCommand, PaymentMethod};
use domain::billing::plan::PlanTier;
use domain::identity::account_users::{AccountUsers, AccountUsersCommand, UserAction, UserRole};
use domain::identity::group::{Group, GroupCommand};
use domain::identity::user_email_claim::{user_id_for, UserEmailClaim, UserEmailClaimCommand};
use domain::kit::money::{Credits, Currency, Money};
use domain::kit::values::{AccountName, DisplayName, Email, GroupName, Label, Reason, Slug};
use domain::tenancy::account::{Account, AccountCommand};
use domain::Actor;
use postgres_es::{PostgresEventRepository, PostgresViewRepository};
use projections::{store::db, CommandBus, CommandContext, Engine};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Operations per measured configuration.
    pub ops: usize,
    /// Events in the large log (rebuild and the second read measurement).
    pub events: i64,
    /// Events in the small log (the first read measurement).
    pub small_events: i64,
    /// Events of the one long account that time travel crosses.
    pub long_account_events: i64,
    /// Pending payments approved by one bulk action.
    pub bulk_payments: usize,
    /// Subscriptions renewed (each invoiced) by one bulk action.
    pub bulk_subscriptions: usize,
    /// Credit-ledger lines the export measures at least (the log grows for it, last).
    pub ledger_lines: i64,
    pub out_dir: std::path::PathBuf,
}

impl BenchOptions {
    pub fn full() -> Self {
        Self {
            ops: 4_000,
            events: 1_000_000,
            small_events: 10_000,
            long_account_events: 100_000,
            bulk_payments: 10_000,
            bulk_subscriptions: 10_000,
            ledger_lines: 1_000_000,
            out_dir: "docs/benchmarks".into(),
        }
    }

    pub fn quick() -> Self {
        Self {
            ops: 160,
            events: 6_000,
            small_events: 2_000,
            long_account_events: 1_000,
            bulk_payments: 200,
            bulk_subscriptions: 200,
            ledger_lines: 0,
            out_dir: std::env::temp_dir().join("igny8-bench-quick"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub clients: usize,
    pub ops: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Throughput relative to the ceiling at the same concurrency.
    pub of_ceiling: Option<f64>,
}

/// Runs `op(client, n)` `total` times spread over `clients` tasks; throughput and latencies.
async fn measure<F, Fut>(name: &str, clients: usize, total: usize, op: F) -> anyhow::Result<Row>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    // Progress on stderr, so a profiler can be pointed at one measurement at a time.
    tracing::info!(measurement = name, clients, "measuring");
    let per_client = total.div_ceil(clients);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let op = op.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for n in 0..per_client {
                let t = Instant::now();
                op(client, n).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(per_client * clients);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pick = |q: f64| percentile_ms(&latencies, q);
    Ok(Row {
        name: name.to_string(),
        clients,
        ops: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        of_ceiling: None,
    })
}

/// The `q` quantile of `sorted` latencies (nearest rank), in milliseconds.
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

// ---- the peer: plain cqrs-es + postgres-es, read model through GenericQuery ----

#[derive(Debug, Default, Serialize, Deserialize)]
struct PeerAccount {
    balance: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PeerAdjust {
    amount: i64,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum PeerEvent {
    CreditsAdjusted {
        amount: i64,
        reason: String,
        balance_after: i64,
    },
}

impl DomainEvent for PeerEvent {
    fn event_type(&self) -> String {
        "CreditsAdjusted".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PeerError(String);

impl Aggregate for PeerAccount {
    const TYPE: &'static str = "peer_account";
    type Command = PeerAdjust;
    type Event = PeerEvent;
    type Error = PeerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PeerAdjust,
        _: &(),
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), PeerError> {
        let balance_after = self.balance + command.amount;
        if balance_after < 0 {
            return Err(PeerError("insufficient credits".into()));
        }
        let event = PeerEvent::CreditsAdjusted {
            amount: command.amount,
            reason: command.reason,
            balance_after,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: PeerEvent) {
        let PeerEvent::CreditsAdjusted { balance_after, .. } = event;
        self.balance = balance_after;
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PeerView {
    balance: i64,
    adjustments: u64,
}

impl View<PeerAccount> for PeerView {
    fn update(&mut self, event: &EventEnvelope<PeerAccount>) {
        let PeerEvent::CreditsAdjusted { balance_after, .. } = &event.payload;
        self.balance = *balance_after;
        self.adjustments += 1;
    }
}

async fn peer_tables(pool: &PgPool) -> anyhow::Result<()> {
    // The layout postgres-es documents, without any of our additions.
    for ddl in [
        "CREATE TABLE IF NOT EXISTS peer_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
         sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, event_version text NOT NULL, \
         payload json NOT NULL, metadata json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
        "CREATE TABLE IF NOT EXISTS peer_snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
         last_sequence bigint NOT NULL, current_snapshot bigint NOT NULL, payload json NOT NULL, \
         PRIMARY KEY (aggregate_type, aggregate_id))",
        "CREATE TABLE IF NOT EXISTS peer_account_view (view_id text PRIMARY KEY, version bigint CHECK (version >= 0) NOT NULL, \
         payload json NOT NULL)",
    ] {
        sqlx::query(ddl).execute(pool).await?;
    }
    Ok(())
}

// ---- the ceiling ----

/// Rows in one transaction of the batched ceiling.
const BATCHED_ROWS: usize = 16;

/// The batched ceiling: `ops` transactions of one `BATCHED_ROWS`-row INSERT into the
/// events-shaped table, as rows/s (what a writer that groups its commits can reach).
async fn measure_batched_ceiling(pool: &PgPool, clients: usize, ops: usize) -> anyhow::Result<Row> {
    let pool = pool.clone();
    let row = measure(
        &format!("ceiling, batched: {BATCHED_ROWS}-row INSERTs into an events-shaped table (rows/s)"),
        clients,
        ops,
        move |client, n| {
            let pool = pool.clone();
            async move {
                let first = (n * BATCHED_ROWS) as i64 + 1;
                sqlx::query(
                    "INSERT INTO bench_ceiling (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                     SELECT 'account', $1, s, 'CreditsAdjusted', '1', $3, $4 FROM generate_series($2::bigint, $2 + $5 - 1) AS s",
                )
                .bind(format!("batched-{clients}-{client}"))
                .bind(first)
                .bind(json!({"CreditsAdjusted": {"amount": 1, "reason": "benchmark", "balance_after": n + 1}}))
                .bind(json!({"actor_id": "bench", "actor_kind": "operator", "occurred_at": "2026-11-21T00:00:00Z", "correlation_id": "bench"}))
                .bind(BATCHED_ROWS as i64)
                .execute(&pool)
                .await?;
                Ok(())
            }
        },
    )
    .await?;
    Ok(Row {
        ops: row.ops * BATCHED_ROWS,
        per_second: row.per_second * BATCHED_ROWS as f64,
        ..row
    })
}

async fn ceiling_table(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_ceiling (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
         sequence bigint NOT NULL, event_type text NOT NULL, event_version text NOT NULL, payload jsonb NOT NULL, \
         metadata jsonb NOT NULL, position bigint GENERATED ALWAYS AS IDENTITY, \
         transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(), recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(), \
         PRIMARY KEY (aggregate_type, aggregate_id, sequence), UNIQUE (position))",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Appends synthetic account events until the log holds `target` events: each account opens,
/// then receives +1 adjustments, exactly as the domain would record them.
async fn grow_log(pool: &PgPool, target: i64) -> anyhow::Result<()> {
    const ACCOUNTS: i64 = 1_000;
    const CHUNK: i64 = 50_000;
    loop {
        let have: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(pool)
            .await?;
        if have >= target {
            return Ok(());
        }
        let batch = (target - have).min(CHUNK);
        let next_sequence: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(sequence), 0) FROM events \
             WHERE aggregate_type = 'account' AND aggregate_id LIKE '00000000-0000-4000-8000-%'",
        )
        .fetch_one(pool)
        .await?;
        // Sequence 1 of every synthetic account is its opening.
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             SELECT 'account', b.id, s.seq, \
                    CASE WHEN s.seq = 1 THEN 'AccountOpened' ELSE 'CreditsAdjusted' END, '1', \
                    CASE WHEN s.seq = 1 THEN jsonb_build_object('AccountOpened', jsonb_build_object( \
                           'name', 'Bench ' || b.n, 'slug', 'bench-' || b.n, 'owner_email', 'owner@bench-' || b.n || '.example', 'plan', 'growth')) \
                         ELSE jsonb_build_object('CreditsAdjusted', jsonb_build_object('amount', 1, 'reason', 'benchmark', 'balance_after', s.seq - 1)) END, \
                    jsonb_build_object('actor_id', 'bench', 'actor_kind', 'system', 'correlation_id', 'bench', \
                           'occurred_at', to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) \
             FROM generate_series($1 + 1, $1 + $2) AS s(seq) \
             CROSS JOIN (SELECT n, '00000000-0000-4000-8000-' || lpad(n::text, 12, '0') AS id \
                         FROM generate_series(1, $3) n) b",
        )
        .bind(next_sequence)
        .bind((batch / ACCOUNTS).max(1))
        .bind(ACCOUNTS)
        .execute(pool)
        .await?;
    }
}

/// Grows the log with synthetic adjustments (each one a ledger line) until the credit ledger
/// holds at least `lines` lines, and projects them.
async fn grow_ledger(pool: &PgPool, engine: &Engine, lines: i64) -> anyhow::Result<()> {
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM read.credit_ledger")
        .fetch_one(pool)
        .await?;
    if have >= lines {
        return Ok(());
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    grow_log(pool, events + lines - have).await?;
    for name in engine.handler_names() {
        engine.catch_up(name).await?;
    }
    Ok(())
}

const CLIENTS: [usize; 3] = [1, 4, 16];
const READ_CLIENTS: usize = 32;

/// Runs every measurement and writes `latest.md` and `latest.json` under `options.out_dir`.
pub async fn run(base: &Settings, options: &BenchOptions) -> anyhow::Result<Vec<Row>> {
    let name = format!("igny8_bench_{}", Uuid::now_v7().simple());
    let server = base
        .database_url
        .expose()
        .rsplit_once('/')
        .map(|(server, _)| server.to_string())
        .context("DATABASE_URL has no database name")?;
    let mut settings = base.clone();
    settings.database_url = Secret::new(format!("{server}/{name}"));
    settings.bind = "127.0.0.1:0".parse()?;
    // Two pools (server and harness) share the server's 100 connections with anything else running.
    settings.db_pool_size = 24;
    let result = measure_all(&settings, options).await;
    let admin = db::connect(&format!("{server}/postgres"), 1).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    let rows = result?;
    write_report(&rows, options)?;
    Ok(rows)
}

async fn measure_all(settings: &Settings, options: &BenchOptions) -> anyhow::Result<Vec<Row>> {
    let app = Application::build(settings.clone()).await?;
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until(shutdown.clone()));
    let (bus, engine) = startup::open(settings).await?;
    let pool = bus.pool().clone();
    let token =
        crate::identity::create_with_token(&bus, &engine, "bench@igny8.local", None, true, false)
            .await?
            .token;
    ceiling_table(&pool).await?;
    peer_tables(&pool).await?;

    // One account per client, so clients do not contend for one aggregate.
    let mut accounts = Vec::new();
    for n in 0..16 {
        let id = Uuid::now_v7();
        let context = CommandContext::new(Actor::system("bench"));
        crate::tenancy::open(
            &bus,
            &context,
            id,
            AccountName::parse(&format!("Bench client {n}"))?,
            Slug::parse(&format!("bench-client-{n}"))?,
            Email::parse(&format!("client{n}@bench.example"))?,
            PlanTier::Growth,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        accounts.push(id);
    }
    let accounts = Arc::new(accounts);
    let http = reqwest::Client::new();
    let peer_store = cqrs_es::persist::PersistedEventStore::new_event_store(
        PostgresEventRepository::new(pool.clone()).with_tables("peer_events", "peer_snapshots"),
    );
    let peer = Arc::new(cqrs_es::CqrsFramework::new(
        peer_store,
        vec![
            Box::new(GenericQuery::<_, PeerView, PeerAccount>::new(Arc::new(
                PostgresViewRepository::new("peer_account_view", pool.clone()),
            ))) as Box<dyn Query<PeerAccount>>,
        ],
        (),
    ));

    let url = format!("http://{addr}/graphql");
    // Reads on the small log first: the write measurements below add their own events.
    grow_log(&pool, options.small_events).await?;
    for name in engine.handler_names() {
        engine.catch_up(name).await?;
    }
    let mut rows = measure_reads(&pool, &http, &url, &token, options.ops).await?;
    rows.extend(measure_guards(&bus, &engine, &http, &url, accounts[0], options.ops).await?);
    rows.extend(measure_ai_lookups(&bus, &engine, &http, &url, accounts[1], options.ops).await?);
    for clients in CLIENTS {
        let ops = options.ops;
        let ceiling = {
            let pool = pool.clone();
            measure("ceiling: INSERT into an events-shaped table", clients, ops, move |client, n| {
                let pool = pool.clone();
                async move {
                    sqlx::query(
                        "INSERT INTO bench_ceiling (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                         VALUES ('account', $1, $2, 'CreditsAdjusted', '1', $3, $4)",
                    )
                    .bind(format!("c{clients}-{client}"))
                    .bind(n as i64 + 1)
                    .bind(json!({"CreditsAdjusted": {"amount": 1, "reason": "benchmark", "balance_after": n + 1}}))
                    .bind(json!({"actor_id": "bench", "actor_kind": "operator", "occurred_at": "2026-11-21T00:00:00Z", "correlation_id": "bench"}))
                    .execute(&pool)
                    .await?;
                    Ok(())
                }
            })
            .await?
        };
        let base = ceiling.per_second;
        rows.push(ceiling);
        let batched = match clients {
            16 => Some(measure_batched_ceiling(&pool, clients, ops).await?),
            _ => None,
        };

        let before = bus.group_commit_stats();
        let bus_row = {
            let bus = bus.clone();
            let accounts = Arc::clone(&accounts);
            measure(
                "command bus: adjust credits",
                clients,
                ops,
                move |client, _| {
                    let bus = bus.clone();
                    let id = accounts[client].to_string();
                    async move {
                        let command = AccountCommand::AdjustCredits {
                            amount: Credits::signed(1)?,
                            reason: Reason::parse("benchmark")?,
                        };
                        let context =
                            CommandContext::new(Actor::new(domain::ActorKind::Operator, "bench"))
                                .with_reason("benchmark");
                        bus.execute::<Account>(&id, command, &context)
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        Ok(())
                    }
                },
            )
            .await?
        };
        let after = bus.group_commit_stats();
        let bus_row = Row {
            name: format!(
                "command bus: adjust credits (group commits of {:.1} commands on average)",
                (after.commands - before.commands) as f64
                    / (after.batches - before.batches).max(1) as f64
            ),
            ..bus_row
        };
        let sealing = (clients == 16).then(|| bus_row.clone());
        rows.push(Row {
            of_ceiling: Some(bus_row.per_second / base),
            ..bus_row.clone()
        });
        if let Some(batched) = batched {
            let per_second = batched.per_second;
            rows.push(batched);
            rows.push(Row {
                name: "command bus: adjust credits, against the batched ceiling".into(),
                of_ceiling: Some(bus_row.per_second / per_second),
                ..bus_row
            });
        }
        if let Some(bus_row) = sealing {
            rows.push(measure_sealing(&pool, &bus_row).await?);
        }

        let e2e = {
            let http = http.clone();
            let accounts = Arc::clone(&accounts);
            let token = token.clone();
            let url = format!("http://{addr}/graphql");
            measure("graphql e2e: adjustCredits + read-your-writes", clients, ops, move |client, _| {
                let http = http.clone();
                let url = url.clone();
                let token = token.clone();
                let id = accounts[client];
                async move {
                    let body: serde_json::Value = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({
                            "query": "mutation($id: ID!) { adjustCredits(input: { accountId: $id, amount: 1, reason: \"benchmark\" }) { caughtUp account { balance } } }",
                            "variables": { "id": id },
                            "operationName": null
                        }))
                        .send()
                        .await?
                        .json()
                        .await?;
                    if body["data"]["adjustCredits"]["caughtUp"] != true {
                        anyhow::bail!("mutation failed or did not catch up: {body}");
                    }
                    Ok(())
                }
            })
            .await?
        };
        rows.push(Row {
            of_ceiling: Some(e2e.per_second / base),
            ..e2e
        });

        let peer_row = {
            let peer = Arc::clone(&peer);
            measure(
                "peer: cqrs-es + postgres-es + GenericQuery view",
                clients,
                ops,
                move |client, _| {
                    let peer = Arc::clone(&peer);
                    async move {
                        let command = PeerAdjust {
                            amount: 1,
                            reason: "benchmark".into(),
                        };
                        peer.execute_with_metadata(
                            &format!("peer-{clients}-{client}"),
                            command,
                            Default::default(),
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                        Ok(())
                    }
                },
            )
            .await?
        };
        rows.push(Row {
            of_ceiling: Some(peer_row.per_second / base),
            ..peer_row
        });
    }

    let platform = crate::identity::create_with_token(
        &bus,
        &engine,
        "platform@bench.local",
        None,
        false,
        true,
    )
    .await?
    .token;
    rows.extend(
        ingestion::measure_ingestion(
            &pool,
            &engine,
            &http,
            &format!("http://{addr}/ingest/activity"),
            &platform,
            Arc::clone(&accounts),
            options.ops * 10,
        )
        .await?,
    );
    rows.push(
        measure_bulk_approval(
            &bus,
            &http,
            &url,
            &token,
            options.bulk_payments,
            Via::Requests,
        )
        .await?,
    );
    // A job takes more than one request's worth, so even the quick run starts one.
    let job_payments = options.bulk_payments.max(MAX_ITEMS + 1);
    rows.push(measure_bulk_approval(&bus, &http, &url, &token, job_payments, Via::Job).await?);
    rows.push(measure_bulk_renewal(&bus, &http, &url, &token, options.bulk_subscriptions).await?);

    grow_log(&pool, options.events).await?;
    for name in engine.handler_names() {
        engine.catch_up(name).await?;
    }
    rows.push(measure_verify(&pool, settings).await?);
    rows.extend(measure_history(&pool, &engine, &http, &url, &token, accounts[0], options).await?);
    let names = engine.projection_names();
    for name in &names {
        tracing::info!(measurement = "rebuild", projection = name, "measuring");
        let report = engine.rebuild(name).await?;
        rows.push(rebuild_row(
            &format!("rebuild {name}"),
            report.events,
            report.elapsed,
        ));
    }
    tracing::info!(measurement = "rebuild all", "measuring");
    let started = Instant::now();
    let reports = engine.rebuild_many(&names).await?;
    let log_events = reports.iter().map(|r| r.events).max().unwrap_or(0);
    rows.push(rebuild_row(
        "rebuild all projections side by side (`rebuild --all`)",
        log_events,
        started.elapsed(),
    ));
    rows.extend(measure_reads(&pool, &http, &url, &token, options.ops).await?);
    // Last, as it grows the log past the size every measurement above saw.
    grow_ledger(&pool, &engine, options.ledger_lines).await?;
    rows.extend(measure_ledger_export(&pool, &http, &url, &token).await?);
    shutdown.cancel();
    server.await??;
    Ok(rows)
}

/// Polls `count_sql` (a count over `ids`, bound as `$1`) until it reaches `target`; fails when
/// `limit` has passed since `since`. The count reached. The ids are joined as a table
/// (`JOIN unnest($1::uuid[])`): `= ANY($1)` with a bound array compares every row with every
/// id, which over 10,000 ids took more than a second a poll and took a core from the work
/// measured.
async fn wait_for_count(
    pool: &PgPool,
    count_sql: &str,
    ids: &[Uuid],
    target: usize,
    since: Instant,
    limit: Duration,
    what: &str,
) -> anyhow::Result<usize> {
    loop {
        let reached = sqlx::query_scalar::<_, i64>(count_sql)
            .bind(ids)
            .fetch_one(pool)
            .await? as usize;
        if reached >= target {
            return Ok(reached);
        }
        if since.elapsed() > limit {
            anyhow::bail!("only {reached} of {target} {what} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `mutation` over `ids` in requests of [`MAX_ITEMS`],
/// each with `input` plus its ids and a bulk key of its own; fails unless every item is done.
/// The latency of each request.
#[allow(clippy::too_many_arguments)]
async fn bulk_requests(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    mutation: &str,
    input_type: &str,
    ids: &[Uuid],
    input: serde_json::Value,
    key: &str,
) -> anyhow::Result<Vec<Duration>> {
    let query = format!(
        "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ done refused }} }}"
    );
    let mut latencies = Vec::new();
    for (n, chunk) in ids.chunks(MAX_ITEMS).enumerate() {
        let mut input = input.clone();
        input["ids"] = json!(chunk);
        input["bulkKey"] = json!(format!("{key}-{n}"));
        let t = Instant::now();
        let body: serde_json::Value = http
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": { "input": input } }))
            .send()
            .await?
            .json()
            .await?;
        if body["data"][mutation]["done"] != json!(chunk.len()) {
            anyhow::bail!("{mutation} did not do every item: {body}");
        }
        latencies.push(t.elapsed());
    }
    Ok(latencies)
}

/// Approves `payments` in one bulk request, which starts a job; the request's latency.
async fn start_job(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    payments: &[Uuid],
    mut input: serde_json::Value,
) -> anyhow::Result<Duration> {
    input["ids"] = json!(payments);
    input["bulkKey"] = json!("bench-approve-job");
    let query = "mutation($input: BulkPaymentInput!) { bulkPaymentAction(input: $input) { \
                 job { id total } } }";
    let t = Instant::now();
    let body: serde_json::Value = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": { "input": input } }))
        .send()
        .await?
        .json()
        .await?;
    if body["data"]["bulkPaymentAction"]["job"]["total"] != json!(payments.len()) {
        anyhow::bail!("bulkPaymentAction did not start a job over every payment: {body}");
    }
    Ok(t.elapsed())
}

/// Bulk-renews `count` subscriptions through `bulkSubscriptionAction` (500 per request), until
/// every renewal's invoice is issued with its number: "bulk-issue invoices for N subscriptions".
async fn measure_bulk_renewal(
    bus: &CommandBus,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    count: usize,
) -> anyhow::Result<Row> {
    use domain::billing::plan::{builtin, Plan};
    use domain::billing::subscription::{SubscribedPlan, Subscription, SubscriptionCommand};
    let name = format!("bulk-renew {count} subscriptions, until every invoice is numbered");
    tracing::info!(measurement = name.as_str(), "preparing");
    let pool = bus.pool();
    let (code, terms) = builtin()
        .into_iter()
        .find(|(code, _)| code.as_str() == PlanTier::Starter.as_str())
        .context("the Starter plan is built in")?;
    let plan = SubscribedPlan {
        plan_id: Plan::id_for(&code),
        code,
        version: 1,
        tier: PlanTier::Starter,
        name: terms.name,
        monthly_price: terms.monthly_price,
        included_credits: terms.included_credits,
    };
    let context = CommandContext::new(Actor::system("bench"));
    let mut accounts = Vec::with_capacity(count);
    let mut subscriptions = Vec::with_capacity(count);
    for n in 0..count {
        let id = Uuid::now_v7();
        crate::tenancy::open(
            bus,
            &context,
            id,
            AccountName::parse(&format!("Subscriber {n}"))?,
            Slug::parse(&format!("subscriber-{n}"))?,
            Email::parse(&format!("subscriber{n}@bench.example"))?,
            PlanTier::Free,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        let start = SubscriptionCommand::Start {
            account_id: id,
            plan: plan.clone(),
            at: chrono::Utc::now(),
            trial_days: None,
        };
        let subscription = Subscription::id_for(id);
        bus.execute::<Subscription>(&subscription.to_string(), start, &context)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        accounts.push(id);
        subscriptions.push(subscription);
    }
    const NUMBERED: &str =
        "SELECT count(*) FROM read.invoices i JOIN unnest($1::uuid[]) AS a(id) ON i.account_id = a.id \
         WHERE i.number IS NOT NULL";
    let wait_for = |target: usize, since: Instant| {
        let what = "invoices numbered";
        wait_for_count(
            pool,
            NUMBERED,
            &accounts,
            target,
            since,
            Duration::from_secs(900),
            what,
        )
    };
    // Every start's own invoice first, so the measurement sees only the renewals'.
    wait_for(count, Instant::now()).await?;
    tracing::info!(measurement = name.as_str(), "measuring");
    let started = Instant::now();
    let mut latencies = bulk_requests(
        http,
        url,
        token,
        "bulkSubscriptionAction",
        "BulkSubscriptionInput",
        &subscriptions,
        json!({ "action": "RENEW", "reason": "annual prepayment" }),
        "bench-renew",
    )
    .await?;
    let issued = wait_for(2 * count, started).await?;
    let elapsed = started.elapsed();
    if issued != 2 * count {
        anyhow::bail!(
            "{issued} invoices for {count} subscriptions renewed once: expected {}",
            2 * count
        );
    }
    latencies.sort();
    Ok(Row {
        name: format!(
            "{name} ({:.1} s; p50/p99 per request of 500)",
            elapsed.as_secs_f64()
        ),
        clients: 1,
        ops: count,
        per_second: count as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.5),
        p99_ms: percentile_ms(&latencies, 0.99),
        of_ceiling: None,
    })
}

/// How a bulk measurement sends its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Requests of [`MAX_ITEMS`], each answered item by item.
    Requests,
    /// One request: the items run as a bulk job.
    Job,
}

/// Bulk-approves `count` pending payments through GraphQL (`bulkPaymentAction`: requests of
/// 500 ids, or one request that starts a job), from the first request until every grant is in
/// the ledger (the process manager grants after each approval). Checks every payment granted
/// once.
async fn measure_bulk_approval(
    bus: &CommandBus,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    count: usize,
    via: Via,
) -> anyhow::Result<Row> {
    let name = match via {
        Via::Requests => {
            format!("bulk-approve {count} pending payments, until every grant is in the ledger")
        }
        Via::Job => format!(
            "bulk-approve {count} pending payments through one bulk job, until every grant is in the ledger"
        ),
    };
    tracing::info!(measurement = name.as_str(), "preparing");
    let pool = bus.pool();
    // Fifty payments per account, as a busy billing desk would see them.
    let mut accounts = Vec::new();
    for n in 0..count.div_ceil(50) {
        let id = Uuid::now_v7();
        crate::tenancy::open(
            bus,
            &CommandContext::new(Actor::system("bench")),
            id,
            AccountName::parse(&format!("Bulk buyer {n} {via:?}"))?,
            Slug::parse(&format!("bulk-buyer-{n}-{via:?}").to_lowercase())?,
            Email::parse(&format!("buyer{n}-{via:?}@bench.example"))?,
            PlanTier::Starter,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        accounts.push(id);
    }
    let mut payments = Vec::with_capacity(count);
    for n in 0..count {
        let id = Uuid::now_v7();
        let record = PaymentCommand::Record {
            account_id: accounts[n / 50],
            amount: Money::new(1_000, Currency::parse("USD")?),
            credits: Credits::positive(100)?,
            method: PaymentMethod::Wire,
            reference: None,
            note: None,
            invoice_id: None,
            package: None,
        };
        bus.execute::<Payment>(
            &id.to_string(),
            record,
            &CommandContext::new(Actor::system("bench")),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        payments.push(id);
    }
    tracing::info!(measurement = name.as_str(), "measuring");
    let started = Instant::now();
    let approve = json!({ "action": "APPROVE", "reason": "wires arrived" });
    let mut latencies = match via {
        Via::Requests => {
            bulk_requests(
                http,
                url,
                token,
                "bulkPaymentAction",
                "BulkPaymentInput",
                &payments,
                approve,
                "bench-approve",
            )
            .await?
        }
        Via::Job => vec![start_job(http, url, token, &payments, approve).await?],
    };
    let ids: Vec<Uuid> = payments.clone();
    wait_for_count(
        pool,
        "SELECT count(*) FROM read.credit_ledger l JOIN unnest($1::uuid[]) AS p(id) \
         ON l.payment_id = p.id WHERE l.kind = 'purchase'",
        &ids,
        count,
        started,
        Duration::from_secs(600),
        "grants",
    )
    .await?;
    let elapsed = started.elapsed();
    let (lines, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT payment_id) FROM read.credit_ledger l \
         JOIN unnest($1::uuid[]) AS p(id) ON l.payment_id = p.id WHERE l.kind = 'purchase'",
    )
    .bind(&ids)
    .fetch_one(pool)
    .await?;
    if lines as usize != count || distinct as usize != count {
        anyhow::bail!(
            "{lines} grants for {distinct} of {count} payments: each must be granted once"
        );
    }
    latencies.sort();
    let pick = |q: f64| percentile_ms(&latencies, q);
    let requests = match via {
        Via::Requests => "p50/p99 per request of 500",
        Via::Job => "p50/p99 of the request starting the job",
    };
    Ok(Row {
        name: format!("{name} ({:.1} s; {requests})", elapsed.as_secs_f64()),
        clients: 1,
        ops: count,
        per_second: count as f64 / elapsed.as_secs_f64(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        of_ceiling: None,
    })
}

/// Whether the sealer keeps up with the write path: right after the command bus ran at 16
/// clients, how many of its events were not sealed yet, and how long until they were. The
/// sealer works beside the writers, paced (see `Sealer::pace`); it keeps up when it is only
/// about one pace behind and catches up at once.
async fn measure_sealing(pool: &PgPool, bus_row: &Row) -> anyhow::Result<Row> {
    let behind = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events e, projection_checkpoints c WHERE c.name = $1 \
             AND (e.transaction_id, e.position) > (c.last_transaction_id, c.last_position)",
        )
        .bind(projections::audit::seal::NAME)
        .fetch_one(pool)
        .await
    };
    let pending = behind().await?;
    let started = Instant::now();
    while behind().await? > 0 {
        anyhow::ensure!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the sealer did not catch up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let caught_up_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Row {
        name: format!(
            "sealer after the command bus at 16 clients ({:.0} events/s): events still unsealed, \
             and ms until sealed",
            bus_row.per_second
        ),
        clients: 16,
        ops: pending as usize,
        per_second: 0.0,
        p50_ms: caught_up_ms,
        p99_ms: caught_up_ms,
        of_ceiling: None,
    })
}

/// The resident memory of this process (the server runs in it), in bytes.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The whole credit ledger exported as CSV over HTTP (`/export/credit-ledger`), streamed to a
/// counter, against the same rows streamed straight from PostgreSQL (the ceiling); the row's
/// name carries the peak growth of resident memory while exporting, which stays flat when
/// the export streams.
async fn measure_ledger_export(
    pool: &PgPool,
    http: &reqwest::Client,
    graphql_url: &str,
    token: &str,
) -> anyhow::Result<Vec<Row>> {
    use futures::TryStreamExt;
    tracing::info!(measurement = "ledger export", "measuring");
    let started = Instant::now();
    let mut rows = sqlx::query(
        "SELECT position::text, account_id::text, kind, amount::text, balance_after::text,          reason, actor_id, actor_kind, payment_id::text, operation, model, units::text,          shortfall::text, cost_version::text, occurred_at::text, recorded_at::text          FROM read.credit_ledger ORDER BY position",
    )
    .fetch(pool);
    let mut ceiling_rows = 0usize;
    while rows.try_next().await?.is_some() {
        ceiling_rows += 1;
    }
    let ceiling = ceiling_rows as f64 / started.elapsed().as_secs_f64();

    let url = graphql_url.replace("/graphql", "/export/credit-ledger?format=csv");
    let before = resident_bytes();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = CancellationToken::new();
    let sampler = tokio::spawn({
        let peak = Arc::clone(&peak);
        let sampling = sampling.clone();
        async move {
            while !sampling.is_cancelled() {
                peak.fetch_max(resident_bytes(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let started = Instant::now();
    let mut response = http.get(&url).bearer_auth(token).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "export answered {}",
        response.status()
    );
    let mut lines = 0usize;
    let mut bytes = 0usize;
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let elapsed = started.elapsed();
    sampling.cancel();
    sampler.await?;
    let exported = lines.saturating_sub(1); // the header
    anyhow::ensure!(
        exported == ceiling_rows,
        "the export held {exported} rows, the ledger {ceiling_rows}"
    );
    let growth_mb = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before) as f64
        / 1_048_576.0;
    let per_second = exported as f64 / elapsed.as_secs_f64();
    Ok(vec![
        Row {
            name: format!("ceiling: the ledger's {ceiling_rows} rows streamed from PostgreSQL"),
            clients: 1,
            ops: ceiling_rows,
            per_second: ceiling,
            p50_ms: 0.0,
            p99_ms: 0.0,
            of_ceiling: None,
        },
        Row {
            name: format!(
                "export the credit ledger as CSV over HTTP ({exported} rows, {:.0} MB, {:.1} s; \
                 peak memory growth {growth_mb:.1} MB)",
                bytes as f64 / 1_048_576.0,
                elapsed.as_secs_f64()
            ),
            clients: 1,
            ops: exported,
            per_second,
            p50_ms: 0.0,
            p99_ms: 0.0,
            of_ceiling: Some(per_second / ceiling),
        },
    ])
}

/// `verify` over the whole log: events recomputed per second.
async fn measure_verify(pool: &PgPool, settings: &Settings) -> anyhow::Result<Row> {
    tracing::info!(measurement = "verify", "measuring");
    let options = projections::audit::verify::VerifyOptions {
        from_checkpoint: false,
        public_key: Some(settings.load_seal_key()?.public_key()),
    };
    let report = projections::audit::verify::verify(pool, &options).await?;
    anyhow::ensure!(
        report.ok(),
        "the benchmark's log does not verify: {:?}",
        report.breaks
    );
    Ok(rebuild_row(
        "verify the whole log",
        report.events_checked as u64,
        report.elapsed,
    ))
}

/// Time travel to the midpoint of one long account (target: under 100 ms), and a page of 50
/// versions of a busy account under `READ_CLIENTS` clients (target: p99 under 20 ms).
async fn measure_history(
    pool: &PgPool,
    engine: &Engine,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    busy: Uuid,
    options: &BenchOptions,
) -> anyhow::Result<Vec<Row>> {
    let long = long_account(pool, options.long_account_events).await?;
    // As in service, where its history snapshots follow the log by well under a second.
    engine
        .catch_up(projections::audit::history_snapshots::NAME)
        .await?;
    let graphql = |query: String, variables: serde_json::Value| {
        let http = http.clone();
        let url = url.to_string();
        let token = token.to_string();
        let body = Arc::new(json!({ "query": query, "variables": variables }));
        move |_: usize, _: usize| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            let body = Arc::clone(&body);
            async move {
                let answer: serde_json::Value = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&*body)
                    .send()
                    .await?
                    .json()
                    .await?;
                if answer.get("errors").is_some() {
                    anyhow::bail!("query failed: {answer}");
                }
                Ok(())
            }
        }
    };
    let midpoint = options.long_account_events / 2;
    let travel = measure(
        &format!(
            "time travel: an account of {} events, to its midpoint",
            options.long_account_events
        ),
        1,
        20,
        graphql(
            "query($id: ID!, $v: Int!) { aggregateAsOf(aggregateType: \"account\", \
             aggregateId: $id, asOf: { version: $v }) { version state } }"
                .into(),
            json!({ "id": long, "v": midpoint }),
        ),
    )
    .await?;
    let page = measure(
        "history page of 50 versions of a busy account",
        READ_CLIENTS,
        options.ops.max(READ_CLIENTS * 10),
        graphql(
            "query($id: ID!) { aggregateHistory(aggregateType: \"account\", aggregateId: $id, \
             first: 50) { nodes { version actorId reason changes { path old new } } } }"
                .into(),
            json!({ "id": busy }),
        ),
    )
    .await?;
    Ok(vec![travel, page])
}

/// One account with `events` events (an opening, then +1 adjustments), written straight to
/// the log like `grow_log`'s but each in its own transaction, as the command bus appends one
/// command's events: `events` versions, with no snapshot until the history snapshots catch up.
async fn long_account(pool: &PgPool, events: i64) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let mut conn = pool.acquire().await?;
    // A commit per event; the bench's log need not survive a crash of the machine.
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    // `DO` with `COMMIT` needs the simple protocol, which takes no parameters: the values are
    // a UUID and a number of ours.
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN FOR s IN 1..{events} LOOP \
           INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
           VALUES ('account', '{id}', s, \
                CASE WHEN s = 1 THEN 'AccountOpened' ELSE 'CreditsAdjusted' END, '1', \
                CASE WHEN s = 1 THEN jsonb_build_object('AccountOpened', jsonb_build_object( \
                       'name', 'Long account', 'slug', 'long-account', 'owner_email', 'owner@long.example', 'plan', 'growth')) \
                     ELSE jsonb_build_object('CreditsAdjusted', jsonb_build_object('amount', 1, 'reason', 'benchmark', 'balance_after', s - 1)) END, \
                jsonb_build_object('actor_id', 'bench', 'actor_kind', 'system', 'correlation_id', 'bench', \
                       'occurred_at', to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))); \
           COMMIT; \
         END LOOP; END $$"
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query("RESET synchronous_commit")
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// p50/p99 of three list pages and the dashboard under `READ_CLIENTS` concurrent GraphQL
/// clients.
async fn measure_reads(
    pool: &PgPool,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    ops: usize,
) -> anyhow::Result<Vec<Row>> {
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let busy_account: Uuid = sqlx::query_scalar(
        "SELECT account_id FROM read.credit_ledger GROUP BY account_id ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let queries = [
        ("read accounts page", "query { accounts(first: 20, sort: { field: BALANCE }) { edges { node { id name balance } } } }".to_string()),
        ("read ledger page of one account", format!("query {{ creditLedger(first: 20, filter: {{ accountId: \"{busy_account}\" }}) {{ edges {{ node {{ position amount balanceAfter }} }} }} }}")),
        ("read audit-log page", "query { auditLog(first: 20) { edges { node { position action actorId } } } }".to_string()),
        ("read the dashboard", "query { dashboard { figures { metric currency value } accounts { total byStatus { key count } byPlan { key count } lowCredits } pendingPayments { count totals { currency minorUnits } } workInProgress { tasksPending automationsRunning } projectionLag { maxLagSeconds stuck } series(metric: AI_CALLS) { start value } } }".to_string()),
    ];
    let mut rows = Vec::new();
    for (what, query) in queries {
        let name = format!("{what} @ {events} events");
        rows.push(measure_read(&name, http, url, token, query, ops).await?);
    }
    let base = url.trim_end_matches("/graphql");
    // One record of each kind with a page of its own, when the log has one.
    let mut records = vec![format!("/accounts/{busy_account}")];
    for (path, table) in [
        ("payments", "read.payments"),
        ("invoices", "read.invoices"),
        ("subscriptions", "read.subscriptions"),
    ] {
        let id: Option<Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {table} LIMIT 1"))
            .fetch_optional(pool)
            .await?;
        records.extend(id.map(|id| format!("/{path}/{id}")));
    }
    rows.extend(measure_console(base, token, &records, events, ops).await?);
    Ok(rows)
}

/// The server time of the console's main pages and of `records`' pages, one person at a time
/// (target: under 50 ms at a 1M-event log): signed in as the superuser, each page fetched
/// whole.
async fn measure_console(
    base: &str,
    token: &str,
    records: &[String],
    events: i64,
    ops: usize,
) -> anyhow::Result<Vec<Row>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let signed_in = http
        .post(format!("{base}/sign-in"))
        .form(&[("token", token)])
        .send()
        .await?;
    let cookie = signed_in
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("the console did not open a session"))?
        .to_string();
    let mut rows = Vec::new();
    let lists = [
        "/",
        "/accounts",
        "/payments",
        "/invoices",
        "/subscriptions",
        "/plans",
        "/users",
        "/audit",
    ];
    for path in lists
        .iter()
        .map(|p| p.to_string())
        .chain(records.iter().cloned())
    {
        let name = format!("console page {path} @ {events} events (target p99 under 50 ms)");
        let http = http.clone();
        let url = format!("{base}{path}");
        let cookie = cookie.clone();
        rows.push(
            measure(&name, 1, (ops / 10).clamp(20, 200), move |_, _| {
                let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
                async move {
                    let response = http
                        .get(&url)
                        .header(reqwest::header::COOKIE, cookie)
                        .send()
                        .await?;
                    if response.status() != reqwest::StatusCode::OK {
                        anyhow::bail!("{url} answered {}", response.status());
                    }
                    response.bytes().await?;
                    Ok(())
                }
            })
            .await?,
        );
    }
    Ok(rows)
}

/// p50/p99 of one read under `READ_CLIENTS` concurrent GraphQL clients, as `token`.
async fn measure_read(
    name: &str,
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: String,
    ops: usize,
) -> anyhow::Result<Row> {
    let http = http.clone();
    let url = url.to_string();
    let token = token.to_string();
    let query = Arc::new(query);
    measure(
        name,
        READ_CLIENTS,
        ops.max(READ_CLIENTS * 10),
        move |_, _| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            let query = Arc::clone(&query);
            async move {
                let body: serde_json::Value = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "query": *query }))
                    .send()
                    .await?
                    .json()
                    .await?;
                if body.get("errors").is_some() {
                    anyhow::bail!("read failed: {body}");
                }
                Ok(())
            }
        },
    )
    .await
}

/// What the platform asks on every AI call, as the platform's service principal: an
/// account's effective AI settings and its effective prompt of one type (target: p99 under
/// 5 ms at 32 clients). The account overrides a setting and customizes the prompt, so both
/// sources are read.
async fn measure_ai_lookups(
    bus: &CommandBus,
    engine: &Engine,
    http: &reqwest::Client,
    url: &str,
    account: Uuid,
    ops: usize,
) -> anyhow::Result<Vec<Row>> {
    use domain::ai_config::account_ai_settings::{
        AccountAiSettings, AccountAiSettingsCommand, PlanGate,
    };
    use domain::ai_config::account_prompts::{AccountPrompts, AccountPromptsCommand};
    use domain::ai_config::provider::{Provider, Setting};
    let system = CommandContext::new(Actor::system("bench"));
    let platform =
        crate::identity::create_with_token(bus, engine, "platform@bench.local", None, false, true)
            .await?;
    let id = account.to_string();
    let customize = AccountPromptsCommand::Customize {
        prompt_type: domain::ai_config::prompt::PromptType::parse("content_generation")?,
        text: "Ours: {title} {outline} {keywords} {tone}".into(),
        based_on_version: 1,
        variables: ["title", "outline", "keywords", "tone"]
            .map(String::from)
            .into(),
    };
    bus.execute::<AccountPrompts>(&id, customize, &system)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let overrides = AccountAiSettingsCommand::Override {
        provider: Provider::Openai,
        set: [(Setting::Model, json!("gpt-4o"))].into(),
        clear: Vec::new(),
        plan: PlanGate {
            plan: "growth".into(),
            overrides_allowed: true,
        },
    };
    bus.execute::<AccountAiSettings>(&id, overrides, &system)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for name in engine.handler_names() {
        engine.catch_up(name).await?;
    }
    let lookups = [
        (
            "the platform's lookup: an account's effective AI settings (target p99 < 5 ms)",
            format!(
                "query {{ accountAiSettings(accountId: \"{account}\") {{ providers {{ provider \
                 enabled keySet settings {{ setting value source }} }} }} }}"
            ),
        ),
        (
            "the platform's lookup: an account's effective prompt (target p99 < 5 ms)",
            format!(
                "query {{ effectivePrompt(accountId: \"{account}\", promptType: \
                 \"content_generation\") {{ text source version behindDefault }} }}"
            ),
        ),
    ];
    let mut rows = Vec::new();
    for (name, query) in lookups {
        rows.push(measure_read(name, http, url, &platform.token, query, ops).await?);
    }
    Ok(rows)
}

/// What authorization costs a request: the accounts page read by a Support Agent (whose
/// permission comes from a group) and by an account's owner (confined to their account),
/// beside the superuser's read of the same page in `measure_reads` (a superuser's check is one
/// boolean; guards cannot be taken out of the schema, so that is the baseline). Principals are
/// cached with the projections they come from, so none of these costs a query of its own.
async fn measure_guards(
    bus: &CommandBus,
    engine: &Engine,
    http: &reqwest::Client,
    url: &str,
    account: Uuid,
    ops: usize,
) -> anyhow::Result<Vec<Row>> {
    let system = CommandContext::new(Actor::system("bench"));
    let support =
        crate::identity::create_with_token(bus, engine, "support@bench.local", None, false, false)
            .await?;
    let group = Group::id_for(&GroupName::parse("Support Agent")?);
    bus.execute::<Group>(
        &group.to_string(),
        GroupCommand::AddMember {
            operator_id: support.operator_id,
        },
        &system,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = Email::parse("owner@bench-client.example")?;
    let user_id = user_id_for(&email);
    bus.execute::<UserEmailClaim>(
        &user_id.to_string(),
        UserEmailClaimCommand::Claim {
            account_id: account,
        },
        &system,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (owner_token, token_hash) = crate::auth::new_token();
    for command in [
        AccountUsersCommand::Add {
            user_id,
            email,
            name: DisplayName::parse("Bench owner")?,
            role: UserRole::Owner,
            invite: false,
        },
        AccountUsersCommand::User {
            user_id,
            action: UserAction::IssueToken {
                token_id: Uuid::now_v7(),
                token_hash,
                label: Label::parse("bench")?,
            },
        },
    ] {
        bus.execute::<AccountUsers>(&account.to_string(), command, &system)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for name in [
        projections::identity::operators::NAME,
        projections::identity::platform_users::NAME,
    ] {
        engine.catch_up(name).await?;
    }
    let page = "query { accounts(first: 20, sort: { field: BALANCE }) { edges { node { id name balance } } } }";
    let mut rows = Vec::new();
    for (who, token) in [
        ("a Support Agent (permission from a group)", support.token),
        ("an account's owner (confined to it)", owner_token),
    ] {
        let name = format!("read accounts page as {who}");
        rows.push(measure_read(&name, http, url, &token, page.into(), ops).await?);
    }
    Ok(rows)
}

/// A rebuild as a row: the log's events per second of wall time.
fn rebuild_row(what: &str, events: u64, elapsed: std::time::Duration) -> Row {
    Row {
        name: format!("{what} ({events} events)"),
        clients: 1,
        ops: events as usize,
        per_second: events as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: 0.0,
        p99_ms: 0.0,
        of_ceiling: None,
    }
}

fn write_report(rows: &[Row], options: &BenchOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.out_dir)?;
    std::fs::write(
        options.out_dir.join("latest.json"),
        serde_json::to_string_pretty(rows)?,
    )?;
    std::fs::write(options.out_dir.join("latest.md"), table(rows))?;
    Ok(())
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measurement | clients | ops | ops/s | p50 ms | p99 ms | of ceiling |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let ratio = row
            .of_ceiling
            .map_or(String::new(), |r| format!("{:.0}%", r * 100.0));
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
            row.name, row.clients, row.ops, row.per_second, row.p50_ms, row.p99_ms, ratio
        ));
    }
    out
}

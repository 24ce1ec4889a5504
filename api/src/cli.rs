//! The `igny8-admin` command line.

use crate::config::{LogFormat, Settings};
use crate::startup::{self, Application};
use anyhow::Context;
use clap::{Parser, Subcommand};
use projections::store::db;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "igny8-admin",
    version,
    about = "The igny8 administrative control plane"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP/GraphQL server and the projectors (the default).
    Serve,
    /// Create the database if missing and apply migrations.
    Migrate,
    /// Empty a projection and replay the whole log into it (process managers are never replayed).
    Rebuild {
        /// The projection or process manager to rebuild.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Rebuild every projection.
        #[arg(long)]
        all: bool,
    },
    /// Register an operator (if new) and print a fresh API token for them, once.
    CreateOperator {
        #[arg(long)]
        email: String,
        /// Display name; defaults to the part of the e-mail before `@`.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "service")]
        superuser: bool,
        /// A service principal for the platform, which may only report credit usage and activity.
        #[arg(long)]
        service: bool,
    },
    /// Print an aggregate's state as of a version or a time, folded from its own events, and the
    /// event it stopped at. Without `--version` or a time: its latest state.
    Replay {
        /// The aggregate type: account, payment, operator, slug_claim.
        aggregate_type: String,
        /// The aggregate's id.
        id: String,
        /// As the store had recorded it at this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long, group = "moment")]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// After the events that had happened by this business time (RFC 3339).
        #[arg(long, group = "moment")]
        occurred_at: Option<chrono::DateTime<chrono::Utc>>,
        /// After the event with this sequence, counting from 1.
        #[arg(long, group = "moment")]
        version: Option<i64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recompute the seal chain from the raw events table and report where it breaks, and why.
    /// Exits 0 only when the whole log verifies.
    Verify {
        /// Start from the latest checkpoint whose signature verifies (incremental).
        #[arg(long)]
        from_checkpoint: bool,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Fill the database with a realistic demo data set (through the command path; safe to rerun).
    SeedDemo {
        /// How many accounts to create.
        #[arg(long, default_value_t = 300)]
        accounts: usize,
    },
    /// Measure writes, projections and reads side by side on a fresh database; prints a table
    /// and writes it as Markdown and JSON.
    Bench {
        /// Small sizes, a few seconds: what CI runs so the harness cannot rot.
        #[arg(long)]
        quick: bool,
        /// Events in the large log (default 1,000,000; quick: 6,000).
        #[arg(long)]
        events: Option<i64>,
        /// Operations per measured configuration (default 4,000; quick: 160).
        #[arg(long)]
        ops: Option<usize>,
        /// Where to write latest.md and latest.json (default docs/benchmarks; quick: a temp dir).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print the GraphQL schema (SDL).
    PrintSchema,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env().context("invalid configuration")?;
    init_tracing(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                startup::shutdown_signal().await;
                trigger.cancel();
            });
            app.run_until(shutdown).await
        }
        Command::Migrate => {
            db::prepare(settings.database_url.expose(), 2).await?;
            println!("database is migrated");
            Ok(())
        }
        Command::Rebuild { name, all } => {
            let (_, engine) = startup::open(&settings).await?;
            let started = std::time::Instant::now();
            let reports = match name {
                Some(name) if !all => vec![engine.rebuild(&name).await?],
                _ => engine.rebuild_many(&engine.projection_names()).await?,
            };
            let rate = |events: u64, secs: f64| events as f64 / secs.max(1e-9);
            for report in &reports {
                let secs = report.elapsed.as_secs_f64();
                println!(
                    "rebuilt {:<24} {:>10} events in {:>8.2}s ({:.0} events/s)",
                    report.name,
                    report.events,
                    secs,
                    rate(report.events, secs)
                );
            }
            if reports.len() > 1 {
                let events = reports.iter().map(|r| r.events).max().unwrap_or(0);
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "rebuilt {} projections side by side in {secs:.2}s ({:.0} log events/s)",
                    reports.len(),
                    rate(events, secs)
                );
            }
            Ok(())
        }
        Command::CreateOperator {
            email,
            name,
            superuser,
            service,
        } => {
            let (bus, engine) = startup::open(&settings).await?;
            let created = crate::identity::create_with_token(
                &bus,
                &engine,
                &email,
                name.as_deref(),
                superuser,
                service,
            )
            .await?;
            if !created.newly_registered {
                eprintln!("operator {email} already exists; issued an additional token (superuser flag unchanged)");
            }
            eprintln!("operator id: {}", created.operator_id);
            eprintln!("API token (shown once; send it as `Authorization: Bearer <token>`):");
            println!("{}", created.token);
            Ok(())
        }
        Command::Replay {
            aggregate_type,
            id,
            at,
            occurred_at,
            version,
            json,
        } => {
            use projections::audit::history::{state_as_of, AsOf};
            let pool = db::prepare(settings.database_url.expose(), 2).await?;
            let chronicles = projections::all_chronicles();
            let chronicle = chronicles.get(&aggregate_type)?;
            let moment = match (at, occurred_at, version) {
                (Some(t), ..) => AsOf::RecordedAt(t),
                (_, Some(t), _) => AsOf::OccurredAt(t),
                (.., Some(v)) => AsOf::Version(v),
                // Now: as recorded up to this moment.
                _ => AsOf::RecordedAt(chrono::Utc::now()),
            };
            let state = state_as_of(&pool, chronicle, &id, moment).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&state)?);
            } else {
                let stop = &state.stopped_at;
                println!(
                    "{} {} as of version {} of {}",
                    state.aggregate_type, state.aggregate_id, state.version, state.latest_version
                );
                println!(
                    "stopped at {} (sequence {}, log position {}), which happened at {} and was recorded at {}",
                    stop.event_type, stop.sequence, stop.position, stop.occurred_at, stop.recorded_at
                );
                println!("{}", serde_json::to_string_pretty(&state.state)?);
            }
            Ok(())
        }
        Command::Verify {
            from_checkpoint,
            json,
        } => {
            use projections::audit::verify::{verify, VerifyOptions};
            let pool = db::prepare(settings.database_url.expose(), 2).await?;
            let key = settings.load_seal_key()?;
            let options = VerifyOptions {
                from_checkpoint,
                public_key: Some(key.public_key()),
            };
            let report = verify(&pool, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let secs = report.elapsed.as_secs_f64();
                println!(
                    "checked {} events after chain index {} and {} signed checkpoints in {secs:.2}s \
                     ({:.0} events/s); {} committed events not sealed yet",
                    report.events_checked,
                    report.from_index,
                    report.checkpoints_checked,
                    report.events_checked as f64 / secs.max(1e-9),
                    report.pending
                );
                for (n, found) in report.breaks.iter().enumerate() {
                    let label = if n == 0 { "BROKEN at" } else { "also at" };
                    let index = found
                        .chain_index
                        .map(|i| format!(" (chain index {i})"))
                        .unwrap_or_default();
                    println!(
                        "{label} position {}{index}: {}",
                        found.position, found.reason
                    );
                }
                if report.ok() {
                    println!("OK: the log verifies");
                }
            }
            if report.ok() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("the log does not verify"))
            }
        }
        Command::SeedDemo { accounts } => {
            let (bus, engine) = startup::open(&settings).await?;
            let started = std::time::Instant::now();
            let seeded = crate::demo::seed(&bus, &engine, accounts)
                .await
                .map_err(|e| anyhow::anyhow!("seeding failed: {}", e.message))?;
            for name in engine.handler_names() {
                engine.catch_up(name).await?;
            }
            println!(
                "seeded {} accounts, {} payments, {} commands ({} refused by business rules, as in life) and {} activity records in {:.1}s",
                seeded.accounts,
                seeded.payments,
                seeded.commands,
                seeded.refused,
                seeded.activity,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Bench {
            quick,
            events,
            ops,
            out,
        } => {
            let mut options = if quick {
                crate::bench::BenchOptions::quick()
            } else {
                crate::bench::BenchOptions::full()
            };
            options.events = events.unwrap_or(options.events);
            options.ops = ops.unwrap_or(options.ops);
            options.out_dir = out.unwrap_or(options.out_dir);
            let rows = crate::bench::run(&settings, &options).await?;
            print!("{}", crate::bench::table(&rows));
            println!("written to {}", options.out_dir.display());
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

//! Building and running the server: database, projector engine, schema, HTTP listener, and an
//! orderly shutdown (stop accepting, drain requests, then stop the projectors).

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::graphql::{self, Services};
use crate::http::{self, AppState};
use crate::metrics;
use anyhow::Context;
use projections::audit::seal::Sealer;
use projections::audit::seal_key::SealKey;
use projections::{store::db, CommandBus, Engine};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    settings: Settings,
    scheduler: projections::billing::scheduler::Scheduler,
    alerting: projections::insight::alerting::Evaluator,
    jobs: crate::operations::JobRunner,
}

/// The command bus (and through it the pool) and the engine every entry point (server and
/// CLI) starts from, with the system account in place. One bus per process, so its warm
/// aggregates serve the API and the process managers alike.
pub async fn open(settings: &Settings) -> anyhow::Result<(CommandBus, Arc<Engine>)> {
    open_with(settings, seal_key(settings)?).await
}

fn seal_key(settings: &Settings) -> anyhow::Result<SealKey> {
    settings
        .load_seal_key()
        .context("cannot load the seal key (see IGNY8_SEAL_KEY)")
}

/// `open`, with the seal key already loaded (the server also publishes its public key).
async fn open_with(
    settings: &Settings,
    seal_key: SealKey,
) -> anyhow::Result<(CommandBus, Arc<Engine>)> {
    let pool = db::prepare(settings.database_url.expose(), settings.db_pool_size)
        .await
        .context("cannot prepare the database (is PostgreSQL running? see DATABASE_URL)")?;
    let bus = CommandBus::new(pool.clone());
    let engine = Engine::new(
        pool.clone(),
        settings.projector.clone(),
        projections::all_handlers(&bus, Sealer::new(seal_key, settings.seal_checkpoint_every)),
    )
    .await
    .context("cannot register projections")?;
    let system = crate::tenancy::ensure_system_account(&bus)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the system account: {}", e.message))?;
    crate::identity::ensure_builtin_groups(&bus)
        .await
        .context("cannot create the built-in staff groups")?;
    crate::billing::ensure_builtin_plans(&bus)
        .await
        .context("cannot create the built-in plans")?;
    crate::billing::ensure_builtin_credit_costs(&bus)
        .await
        .context("cannot set the built-in credit costs")?;
    crate::ai_config::ensure_integration_settings(&bus)
        .await
        .context("cannot record the default AI settings")?;
    crate::ai_config::ensure_builtin_prompts(&bus)
        .await
        .context("cannot create the built-in prompts")?;
    crate::ai_config::ensure_builtin_templates(&bus)
        .await
        .context("cannot create the built-in author profiles and strategies")?;
    crate::insight::ensure_builtin_alert_rules(&bus)
        .await
        .context("cannot create the built-in alert rules")?;
    if !system.replayed {
        // First start: the log is a few events long; show the account before serving. A
        // projection that cannot catch up is reported by its status, not a reason not to start.
        if let Err(error) = engine.catch_up(projections::tenancy::accounts::NAME).await {
            tracing::warn!(%error, "the system account is not projected yet");
        }
    }
    Ok((bus, engine))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let seal_key = seal_key(&settings)?;
        let seal_public_key = seal_key.public_key();
        let master_key = settings
            .load_master_key()
            .context("cannot load the master key (see IGNY8_MASTER_KEY)")?;
        let (bus, engine) = open_with(&settings, seal_key).await?;
        let pool = bus.pool().clone();
        let scheduler =
            projections::billing::scheduler::Scheduler::new(bus.clone(), settings.late_fee);
        let alerting = projections::insight::alerting::Evaluator::new(bus.clone());
        let chronicles = projections::all_chronicles();
        let wake_jobs = Arc::new(tokio::sync::Notify::new());
        let jobs = crate::operations::JobRunner::new(bus.clone(), Arc::clone(&wake_jobs));
        let services = Services {
            pool: pool.clone(),
            bus,
            engine: Arc::clone(&engine),
            chronicles: chronicles.clone(),
            seal_public_key,
            read_your_writes_timeout: settings.read_your_writes_timeout,
            jobs: wake_jobs,
            late_fee: settings.late_fee,
            memo: Arc::default(),
            keyring: projections::ai_config::keyring::Keyring::new(pool.clone(), master_key),
        };
        let schema = graphql::build(Some(services.clone()));
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let auth = Arc::new(Authenticator::new(
            pool.clone(),
            [
                projections::identity::operators::NAME,
                projections::identity::platform_users::NAME,
            ]
            .into_iter()
            .map(|name| engine.watch(name))
            .collect(),
        ));
        let state = AppState {
            services,
            pool,
            auth,
            schema,
            engine,
            chronicles,
            metrics: metrics::install(),
            ready_max_lag: settings.ready_max_lag,
        };
        Ok(Self {
            listener,
            state,
            settings,
            scheduler,
            alerting,
            jobs,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` is cancelled, then drains requests and stops the projectors,
    /// each within the configured grace period.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let workers_stop = CancellationToken::new();
        let mut workers = self.state.engine.spawn(workers_stop.clone());
        if !self.settings.scheduler_every.is_zero() {
            let every = self.settings.scheduler_every;
            workers.spawn(self.scheduler.run_every(every, workers_stop.clone()));
        }
        if !self.settings.alerts_every.is_zero() {
            let every = self.settings.alerts_every;
            workers.spawn(self.alerting.run_every(every, workers_stop.clone()));
        }
        workers.spawn(self.jobs.run(workers_stop.clone()));
        let grace = self.settings.shutdown_grace;
        let app = http::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        tracing::info!(address = %self.listener.local_addr()?, "serving");
        let server = tokio::spawn(
            axum::serve(self.listener, app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .into_future(),
        );
        shutdown.cancelled().await;
        tracing::info!("shutting down: draining requests");
        match tokio::time::timeout(grace, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, "server error while draining"),
            Ok(Err(error)) => tracing::error!(%error, "server task failed"),
            Err(_) => tracing::warn!(
                ?grace,
                "requests still open after the grace period; closing them"
            ),
        }
        workers_stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("projectors did not stop in time; aborting them");
            workers.abort_all();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

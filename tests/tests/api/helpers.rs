//! Shared test helpers: a fresh, migrated database per test, and a running server on a free port.

use api::config::{Secret, Settings};
use api::startup::{self, Application};
use projections::{store::db, CommandBus, Engine};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The PostgreSQL server tests run against; each test gets its own database on it.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// A fresh database, migrated: a clone of the migrated template (see `template`).
    pub async fn new() -> Self {
        init_logs();
        let template = template().await;
        let name = format!("igny8_test_{}", Uuid::new_v4().simple());
        let admin = db::connect(&format!("{}/postgres", server_url()), 1)
            .await
            .expect("admin connection");
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&admin)
            .await
            .expect("test database cloned from the template");
        admin.close().await;
        let url = format!("{}/{name}", server_url());
        let pool = db::connect(&url, 16).await.expect("test database");
        Self { name, url, pool }
    }

    /// A fresh database with nothing in it, not even the schema.
    pub async fn empty() -> Self {
        init_logs();
        let name = format!("igny8_test_{}", Uuid::new_v4().simple());
        let url = format!("{}/{name}", server_url());
        db::ensure_database(&url).await.expect("test database");
        let pool = db::connect(&url, 16).await.expect("test database");
        Self { name, url, pool }
    }

    pub fn bus(&self) -> CommandBus {
        CommandBus::new(self.pool.clone())
    }

    pub fn settings(&self) -> Settings {
        let mut settings = Settings::from_lookup(|_| None).expect("default settings");
        settings.database_url = Secret::new(self.url.clone());
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.shutdown_grace = Duration::from_secs(5);
        // Tests run side by side on one server with 100 connections in all.
        settings.db_pool_size = 16;
        // Tests judge alerts at the moments they choose (`Evaluator::run`).
        settings.alerts_every = Duration::ZERO;
        settings.seal_key = Some(Secret::new(TEST_SEAL_KEY));
        settings.master_key = Some(Secret::new(TEST_MASTER_KEY));
        settings
    }
}

/// The master key of every test server (tests never write a key file).
pub const TEST_MASTER_KEY: &str =
    "5151515151515151515151515151515151515151515151515151515151515151";

/// The seal key of every test server (a fixed seed: tests never write a key file).
pub const TEST_SEAL_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

pub fn test_seal_key() -> projections::audit::seal_key::SealKey {
    projections::audit::seal_key::SealKey::from_hex(TEST_SEAL_KEY).expect("a valid seed")
}

/// Logs go to the test's captured output, shown when a test fails, and to [`logged`].
fn init_logs() {
    use tracing_subscriber::fmt::writer::{MakeWriterExt, TestWriter};
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,sqlx=warn")
        .with_writer(TestWriter::new().and(|| LogCopy))
        .try_init();
}

/// Every log line of this test process so far (all tests running in it), for tests that
/// prove something is never logged.
pub fn logged() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogCopy;

impl std::io::Write for LogCopy {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The name of a database migrated with exactly this build's migrations, made once (by
/// whichever test process gets there first) and cloned for every test: copying a database is
/// cheaper than running every migration again. Named by the migrations' checksums, so a new or
/// changed migration makes a new template. Built under another name and renamed when complete,
/// so an interrupted build never leaves a half-migrated template behind.
async fn template() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in db::MIGRATOR.iter() {
        migration.version.hash(&mut hasher);
        migration.checksum.hash(&mut hasher);
    }
    let name = format!("igny8_template_{:016x}", hasher.finish());
    let admin = db::connect(&format!("{}/postgres", server_url()), 1)
        .await
        .expect("admin connection");
    let mut conn = admin.acquire().await.expect("admin connection");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&name)
        .execute(&mut *conn)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut *conn)
            .await
            .expect("template lookup");
    if !exists {
        let building = format!("{name}_building");
        for statement in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            sqlx::query(&statement)
                .execute(&mut *conn)
                .await
                .expect("template");
        }
        let pool = db::connect(&format!("{}/{building}", server_url()), 2)
            .await
            .expect("template connection");
        db::migrate(&pool).await.expect("template migrated");
        pool.close().await;
        sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut *conn)
            .await
            .expect("template renamed");
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&name)
        .execute(&mut *conn)
        .await
        .expect("template unlock");
    name
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", server_url());
        let name = self.name.clone();
        // Drop runs inside the test's runtime; the clean-up gets a thread and runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(pool) = db::connect(&admin, 1).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A server running in this process against its own database, with a superuser signed in.
pub struct TestApp {
    pub db: TestDb,
    pub addr: SocketAddr,
    pub token: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let db = TestDb::new().await;
        let mut settings = db.settings();
        configure(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("app builds");
        let addr = app.local_addr();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until(shutdown.clone()));
        let token = create_operator(&settings, "root@example.com", true).await;
        Self {
            db,
            addr,
            token,
            http: reqwest::Client::new(),
            shutdown,
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a GraphQL request with `token` (or none) and returns the status and body.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// As the superuser; the body only.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(Some(&self.token), query, variables).await.1
    }

    /// Stops the server the way SIGTERM would, and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server
            .take()
            .expect("running")
            .await
            .expect("server task")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Registers an operator through the CLI's code path and returns a token for them.
pub async fn create_operator(settings: &Settings, email: &str, superuser: bool) -> String {
    register_with_token(settings, email, superuser, false).await
}

/// Registers the platform's service principal (it may only report credit usage and activity) and returns a
/// token for it.
pub async fn create_service(settings: &Settings, email: &str) -> String {
    register_with_token(settings, email, false, true).await
}

async fn register_with_token(
    settings: &Settings,
    email: &str,
    superuser: bool,
    service: bool,
) -> String {
    let (bus, engine) = startup::open(settings).await.expect("open");
    let created = api::identity::create_with_token(&bus, &engine, email, None, superuser, service)
        .await
        .expect("operator created");
    created.token
}

/// The error code of the first GraphQL error in `body`, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every projection has applied the whole log: what a page shows after a change
/// once the lists have caught up (a change's answer waits for them only so long).
pub async fn all_projected(app: &TestApp) {
    let done = eventually(Duration::from_secs(60), || async {
        let body = app.graphql("{ projections { pending } }", json!({})).await;
        body["data"]["projections"]
            .as_array()
            .is_some_and(|all| all.iter().all(|p| p["pending"] == 0))
    })
    .await;
    assert!(done, "the projections catch up with the log");
}

pub async fn engine_with(
    pool: &PgPool,
    handlers: Vec<Arc<dyn projections::store::engine::EventHandler>>,
) -> Arc<Engine> {
    Engine::new(pool.clone(), projections::EngineConfig::default(), handlers)
        .await
        .expect("engine")
}

/// The log and every checkpoint, for failure messages about read-your-writes: what was
/// appended in which transaction, and how far each projection had got.
pub async fn log_and_checkpoints(pool: &PgPool) -> String {
    let events: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT position, transaction_id::text, event_type, aggregate_id FROM events ORDER BY position",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    let checkpoints: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT name, last_transaction_id::text, last_position FROM projection_checkpoints ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    format!("events (position, xid, type, aggregate): {events:?}\ncheckpoints: {checkpoints:?}")
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection to the app, initialised with `token` (none: an empty
/// payload).
pub async fn websocket(app: &TestApp, token: Option<&str>) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let payload = token.map_or(
        json!({}),
        |t| json!({ "Authorization": format!("Bearer {t}") }),
    );
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    socket
}

/// Subscribes on `socket` (as operation `"1"`) to `query`.
pub async fn subscribe(socket: &mut Socket, query: &str) {
    let message = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    send_json(socket, message).await;
}

async fn send_json(socket: &mut Socket, message: Value) {
    use futures::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            message.to_string(),
        ))
        .await
        .unwrap();
}

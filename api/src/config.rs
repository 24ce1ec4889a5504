//! Typed configuration from the environment (12-factor), with defaults that work on a
//! developer machine with a local PostgreSQL and nothing else set.

use domain::billing::invoice::LateFeePolicy;
use projections::ai_config::keyring::{KeyringError, MasterKey};
use projections::audit::seal_key::{SealKey, SealKeyError};
use projections::EngineConfig;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/igny8_admin";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// A value that must never reach a log line: its `Debug` is redacted.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: may carry a password, hence secret.
    pub database_url: Secret,
    /// `IGNY8_BIND`: address the HTTP server listens on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// `IGNY8_DB_POOL_SIZE`
    pub db_pool_size: u32,
    /// `IGNY8_RYW_TIMEOUT_MS`: how long a mutation waits for its projections to catch up.
    pub read_your_writes_timeout: Duration,
    /// `IGNY8_PROJECTOR_BATCH` and `IGNY8_PROJECTOR_POLL_MS`
    pub projector: EngineConfig,
    /// `IGNY8_READY_MAX_LAG_SECS`: `/readyz` fails when a projection lags more than this.
    pub ready_max_lag: Duration,
    /// `IGNY8_SHUTDOWN_GRACE_SECS`: how long shutdown waits for requests and workers.
    pub shutdown_grace: Duration,
    /// `IGNY8_SCHEDULER_EVERY_SECS`: how often the scheduler looks for due deadlines (period
    /// ends); `0` turns it off on this server (one server running it is enough: runs take a
    /// lock, so several never act at once).
    pub scheduler_every: Duration,
    /// `IGNY8_ALERTS_EVERY_SECS`: how often the alert evaluator judges the alert rules; `0`
    /// turns it off on this server (runs take a lock, so several never act at once).
    pub alerts_every: Duration,
    /// `IGNY8_LATE_FEE`: the late fee on an invoice unpaid 7 days past its due date: a
    /// percentage of its total (`5%`, `2.5%`, rounded half to even) or a fixed amount in minor
    /// units (`1500`); `0` charges none.
    pub late_fee: LateFeePolicy,
    /// `IGNY8_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `IGNY8_SEAL_KEY`: the Ed25519 seed (64 hex characters) that signs the seal chain's
    /// checkpoints. When unset, the key in `seal_key_file` is used (created on first start).
    pub seal_key: Option<Secret>,
    /// `IGNY8_SEAL_KEY_FILE`: default `$HOME/.local/share/igny8-admin/seal.key`.
    pub seal_key_file: PathBuf,
    /// `IGNY8_MASTER_KEY`: the key (64 hex characters) that wraps the data keys encrypting the
    /// providers' API keys. When unset, the key in `master_key_file` is used (created on first
    /// start).
    pub master_key: Option<Secret>,
    /// `IGNY8_MASTER_KEY_FILE`: default `$HOME/.local/share/igny8-admin/master.key`.
    pub master_key_file: PathBuf,
    /// `IGNY8_SEAL_CHECKPOINT_EVERY`: sign the chain's head every this many events (and at
    /// least once a minute while events come).
    pub seal_checkpoint_every: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    name: &'static str,
    problem: String,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let parsed = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            Ok(lookup(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string()))
        };
        fn number<T: std::str::FromStr>(name: &'static str, raw: String) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            raw.trim().parse().map_err(|e: T::Err| ConfigError {
                name,
                problem: format!("`{raw}` is not valid: {e}"),
            })
        }
        let log_format = match parsed("IGNY8_LOG_FORMAT", "text")?.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError {
                    name: "IGNY8_LOG_FORMAT",
                    problem: format!("`{other}` is neither `text` nor `json`"),
                })
            }
        };
        let late_fee = parsed("IGNY8_LATE_FEE", "5%")?;
        let late_fee = LateFeePolicy::parse(&late_fee).map_err(|e| ConfigError {
            name: "IGNY8_LATE_FEE",
            problem: e.0,
        })?;
        Ok(Self {
            database_url: Secret::new(parsed("DATABASE_URL", DEFAULT_DATABASE_URL)?),
            bind: number("IGNY8_BIND", parsed("IGNY8_BIND", DEFAULT_BIND)?)?,
            db_pool_size: number("IGNY8_DB_POOL_SIZE", parsed("IGNY8_DB_POOL_SIZE", "32")?)?,
            read_your_writes_timeout: Duration::from_millis(number(
                "IGNY8_RYW_TIMEOUT_MS",
                parsed("IGNY8_RYW_TIMEOUT_MS", "2000")?,
            )?),
            projector: EngineConfig {
                batch_size: number(
                    "IGNY8_PROJECTOR_BATCH",
                    parsed("IGNY8_PROJECTOR_BATCH", "500")?,
                )?,
                poll_interval: Duration::from_millis(number(
                    "IGNY8_PROJECTOR_POLL_MS",
                    parsed("IGNY8_PROJECTOR_POLL_MS", "500")?,
                )?),
                min_batch_interval: Duration::from_millis(number(
                    "IGNY8_PROJECTOR_MIN_INTERVAL_MS",
                    parsed("IGNY8_PROJECTOR_MIN_INTERVAL_MS", "5")?,
                )?),
            },
            ready_max_lag: Duration::from_secs(number(
                "IGNY8_READY_MAX_LAG_SECS",
                parsed("IGNY8_READY_MAX_LAG_SECS", "60")?,
            )?),
            shutdown_grace: Duration::from_secs(number(
                "IGNY8_SHUTDOWN_GRACE_SECS",
                parsed("IGNY8_SHUTDOWN_GRACE_SECS", "10")?,
            )?),
            scheduler_every: Duration::from_secs(number(
                "IGNY8_SCHEDULER_EVERY_SECS",
                parsed("IGNY8_SCHEDULER_EVERY_SECS", "30")?,
            )?),
            alerts_every: Duration::from_secs(number(
                "IGNY8_ALERTS_EVERY_SECS",
                parsed("IGNY8_ALERTS_EVERY_SECS", "30")?,
            )?),
            late_fee,
            log_format,
            seal_checkpoint_every: number(
                "IGNY8_SEAL_CHECKPOINT_EVERY",
                parsed("IGNY8_SEAL_CHECKPOINT_EVERY", "10000")?,
            )?,
            seal_key: lookup("IGNY8_SEAL_KEY")
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new),
            seal_key_file: key_file(&lookup, "IGNY8_SEAL_KEY_FILE", "seal.key"),
            master_key: lookup("IGNY8_MASTER_KEY")
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new),
            master_key_file: key_file(&lookup, "IGNY8_MASTER_KEY_FILE", "master.key"),
        })
    }

    /// The key that signs seal checkpoints: `IGNY8_SEAL_KEY`, else the key file (created, with
    /// a warning, when missing, so a first `serve` needs no configuration).
    pub fn load_seal_key(&self) -> Result<SealKey, SealKeyError> {
        if let Some(seed) = &self.seal_key {
            return SealKey::from_hex(seed.expose());
        }
        let (key, created) = SealKey::load_or_create(&self.seal_key_file)?;
        if created {
            tracing::warn!(
                path = %self.seal_key_file.display(),
                "no IGNY8_SEAL_KEY set: generated a seal key in a local file; keep a copy away \
                 from the database, or set IGNY8_SEAL_KEY, so checkpoints prove what they sign"
            );
        }
        Ok(key)
    }

    /// The key that wraps the API keys' data keys: `IGNY8_MASTER_KEY`, else the key file
    /// (created, with a warning, when missing, so a first `serve` needs no configuration).
    pub fn load_master_key(&self) -> Result<MasterKey, KeyringError> {
        if let Some(key) = &self.master_key {
            return MasterKey::from_hex(key.expose());
        }
        let (key, created) = MasterKey::load_or_create(&self.master_key_file)?;
        if created {
            tracing::warn!(
                path = %self.master_key_file.display(),
                "no IGNY8_MASTER_KEY set: generated a master key in a local file; the API keys \
                 it protects can be read by anyone holding both it and the database, so set \
                 IGNY8_MASTER_KEY from a secret store in production"
            );
        }
        Ok(key)
    }
}

/// A key file's path: `variable`, else `name` under `$HOME/.local/share/igny8-admin/`.
fn key_file(lookup: &impl Fn(&str) -> Option<String>, variable: &str, name: &str) -> PathBuf {
    lookup(variable)
        .filter(|v| !v.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = lookup("HOME").unwrap_or_else(|| ".".into());
            PathBuf::from(home)
                .join(".local/share/igny8-admin")
                .join(name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_nothing_set_the_defaults_point_at_the_local_database() {
        let settings = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(settings.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(settings.bind.to_string(), DEFAULT_BIND);
        assert_eq!(settings.log_format, LogFormat::Text);
    }

    #[test]
    fn a_malformed_value_names_the_variable() {
        let error = Settings::from_lookup(|name| (name == "IGNY8_BIND").then(|| "nowhere".into()))
            .unwrap_err();
        assert!(error.to_string().contains("IGNY8_BIND"), "{error}");
    }

    #[test]
    fn the_database_url_is_never_printed() {
        let settings = Settings::from_lookup(|name| {
            (name == "DATABASE_URL").then(|| "postgres://u:hunter2@h/d".into())
        })
        .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}

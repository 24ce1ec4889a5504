//! Bearer-token authentication. A token is 32 random bytes shown once; only its SHA-256 is kept.

use axum::http::HeaderMap;
use domain::identity::operator::TokenHash;
use domain::identity::permission::Permission;
use domain::{Actor, ActorKind};
use projections::LogPosition;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// Makes tokens recognisable in a leaked file or a secret scanner.
pub const TOKEN_PREFIX: &str = "igny8_";

/// A fresh token and the hash to record.
pub fn new_token() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> TokenHash {
    TokenHash::parse(&hex::encode(Sha256::digest(token.as_bytes())))
        .expect("a SHA-256 digest is 64 hex characters")
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub operator_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub superuser: bool,
    /// The platform itself: may report usage, nothing else.
    pub service: bool,
    /// What the groups the operator is in grant (a superuser holds every permission anyway).
    pub permissions: BTreeSet<Permission>,
}

impl Principal {
    /// Whether this principal holds `permission`: superusers hold them all, the service
    /// principal none, anyone else what their groups grant.
    pub fn can(&self, permission: Permission) -> bool {
        !self.service && (self.superuser || self.permissions.contains(&permission))
    }

    pub fn actor(&self) -> Actor {
        let kind = if self.service {
            ActorKind::Service
        } else {
            ActorKind::Operator
        };
        Actor::new(kind, self.operator_id.to_string())
    }
}

/// The token from `Authorization: Bearer <token>`, if the header has that form.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves bearer tokens, remembering recent answers.
///
/// Without the cache every request costs two queries, the token and then the work; under
/// read load the token query was half the database's round trips (see
/// docs/benchmarks/README.md). A remembered principal is used only while the `operators`
/// projection has not moved in this process since it was looked up, so a revocation or a
/// role change applied here takes effect on the very next request, and for at most
/// `MAX_AGE`, which bounds how long a change applied by another process goes unseen.
pub struct Authenticator {
    pool: PgPool,
    operators: Option<watch::Receiver<LogPosition>>,
    cache: Mutex<HashMap<TokenHash, Remembered>>,
}

struct Remembered {
    principal: Principal,
    operators_at: LogPosition,
    looked_up: Instant,
}

impl Authenticator {
    const MAX_AGE: Duration = Duration::from_secs(1);
    /// Beyond this many live tokens the cache starts over rather than grow.
    const MAX_ENTRIES: usize = 10_000;

    /// `operators` follows the operators projection's progress in this process.
    pub fn new(pool: PgPool, operators: Option<watch::Receiver<LogPosition>>) -> Self {
        Self {
            pool,
            operators,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The token's operator; `None` for unknown or revoked tokens (never remembered).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, sqlx::Error> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let hash = hash_token(token);
        // Read before the lookup: a change applied meanwhile makes the entry stale at once.
        let operators_at = self
            .operators
            .as_ref()
            .map(|progress| *progress.borrow())
            .unwrap_or_default();
        if let Some(remembered) = self.cache().get(&hash) {
            if remembered.operators_at == operators_at
                && remembered.looked_up.elapsed() < Self::MAX_AGE
            {
                return Ok(Some(remembered.principal.clone()));
            }
        }
        let principal = lookup(&self.pool, &hash).await?;
        if let (Some(principal), Some(_)) = (&principal, &self.operators) {
            let mut cache = self.cache();
            if cache.len() >= Self::MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(
                hash,
                Remembered {
                    principal: principal.clone(),
                    operators_at,
                    looked_up: Instant::now(),
                },
            );
        }
        Ok(principal)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Remembered>> {
        // The map is only ever left consistent; a panic elsewhere cannot poison its meaning.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn lookup(pool: &PgPool, hash: &TokenHash) -> Result<Option<Principal>, sqlx::Error> {
    let row: Option<(Uuid, String, String, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT o.id, o.email, o.display_name, o.superuser, o.service, \
                ARRAY(SELECT DISTINCT p.permission FROM read.group_members m \
                      JOIN read.group_permissions p USING (group_id) \
                      WHERE m.operator_id = o.id) \
         FROM read.operator_tokens t JOIN read.operators o ON o.id = t.operator_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(operator_id, email, display_name, superuser, service, permissions)| Principal {
            operator_id,
            email,
            display_name,
            superuser,
            service,
            // A permission this build does not know (granted by a newer one) grants nothing here.
            permissions: permissions
                .iter()
                .filter_map(|name| Permission::parse(name))
                .collect(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_stably() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(hash_token(&a), hash_a);
        assert_ne!(hash_a.as_str(), a);
    }

    #[test]
    fn only_bearer_authorization_yields_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer igny8_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("igny8_abc"));
        headers.insert("authorization", "Basic dXNlcg==".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}

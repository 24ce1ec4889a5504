//! Bearer-token authentication. A token is 32 random bytes shown once; only its SHA-256 is kept.

use axum::http::HeaderMap;
use domain::identity::account_users::UserRole;
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

/// The authenticated caller of a request: an operator (staff, or the platform's service
/// principal) or a platform user acting within their account.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The operator's id, or the platform user's.
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub superuser: bool,
    /// The platform itself: may report usage, nothing else.
    pub service: bool,
    /// What the groups the operator is in grant (a superuser holds every permission anyway).
    pub permissions: BTreeSet<Permission>,
    /// For a platform user: the one account they act within, and their role there.
    pub account: Option<AccountScope>,
}

/// Where a platform user's token acts: their account, as their role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountScope {
    pub account_id: Uuid,
    pub role: UserRole,
}

impl Principal {
    /// Whether this principal holds `permission`: superusers hold them all, the service
    /// principal none, anyone else what their groups grant.
    pub fn can(&self, permission: Permission) -> bool {
        self.is_staff() && (self.superuser || self.permissions.contains(&permission))
    }

    /// Whether this principal holds `permission` for its own account: a platform user as their
    /// role allows (confined to their account by the resolver), anyone else as [`Self::can`].
    pub fn can_within_account(&self, permission: Permission) -> bool {
        match self.account {
            Some(scope) => scope.role.permissions().contains(&permission),
            None => self.can(permission),
        }
    }

    /// The account this principal is confined to: a platform user's own; none for staff.
    pub fn confined_to(&self) -> Option<Uuid> {
        self.account.map(|scope| scope.account_id)
    }

    /// A person on the staff of this backend: not the service principal, not a tenant's user.
    pub fn is_staff(&self) -> bool {
        !self.service && self.account.is_none()
    }

    pub fn actor(&self) -> Actor {
        let kind = if self.service {
            ActorKind::Service
        } else if self.account.is_some() {
            ActorKind::AccountUser
        } else {
            ActorKind::Operator
        };
        Actor::new(kind, self.id.to_string())
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
/// docs/benchmarks/README.md). A remembered principal is used only while the projections a
/// principal is made of (`operators`: operators, tokens, groups; `platform_users`: users and
/// their tokens) have not moved in this process since it was looked up, so a revocation, a
/// group or a role change applied here takes effect on the very next request, and for at most
/// `MAX_AGE`, which bounds how long a change applied by another process goes unseen.
pub struct Authenticator {
    pool: PgPool,
    /// The progress of those projections; none: nothing is remembered.
    progress: Option<Vec<watch::Receiver<LogPosition>>>,
    cache: Mutex<HashMap<TokenHash, Remembered>>,
}

struct Remembered {
    principal: Principal,
    progress: Vec<LogPosition>,
    looked_up: Instant,
}

impl Authenticator {
    const MAX_AGE: Duration = Duration::from_secs(1);
    /// Beyond this many live tokens the cache starts over rather than grow.
    const MAX_ENTRIES: usize = 10_000;

    /// `progress` follows, in this process, the projections a principal is made of.
    pub fn new(pool: PgPool, progress: Option<Vec<watch::Receiver<LogPosition>>>) -> Self {
        Self {
            pool,
            progress,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The token's operator; `None` for unknown or revoked tokens (never remembered).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, sqlx::Error> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        self.authenticate_hash(hash_token(token)).await
    }

    /// The principal a token's hash stands for, as `authenticate`: how a console session,
    /// which keeps the hash and never the token, is checked on every page.
    pub async fn authenticate_hash(
        &self,
        hash: TokenHash,
    ) -> Result<Option<Principal>, sqlx::Error> {
        // Read before the lookup: a change applied meanwhile makes the entry stale at once.
        let progress: Vec<LogPosition> = self
            .progress
            .iter()
            .flatten()
            .map(|watched| *watched.borrow())
            .collect();
        if let Some(remembered) = self.cache().get(&hash) {
            if remembered.progress == progress && remembered.looked_up.elapsed() < Self::MAX_AGE {
                return Ok(Some(remembered.principal.clone()));
            }
        }
        let principal = lookup(&self.pool, &hash).await?;
        if let (Some(principal), Some(_)) = (&principal, &self.progress) {
            let mut cache = self.cache();
            if cache.len() >= Self::MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(
                hash,
                Remembered {
                    principal: principal.clone(),
                    progress,
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

/// The principal a token hash stands for: an operator's live token, or an active platform
/// user's (a deactivated or deleted user's tokens stop working with them, and so do the tokens
/// of a deleted account's people: within `MAX_AGE`, as the cache does not follow accounts,
/// which change with every credit movement).
async fn lookup(pool: &PgPool, hash: &TokenHash) -> Result<Option<Principal>, sqlx::Error> {
    type Row = (
        Uuid,
        String,
        String,
        bool,
        bool,
        Vec<String>,
        Option<Uuid>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT o.id, o.email, o.display_name, o.superuser, o.service, \
                ARRAY(SELECT DISTINCT p.permission FROM read.group_members m \
                      JOIN read.group_permissions p USING (group_id) \
                      WHERE m.operator_id = o.id), \
                NULL::uuid, NULL::text \
         FROM read.operator_tokens t JOIN read.operators o ON o.id = t.operator_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
         UNION ALL \
         SELECT u.id, u.email, u.name, false, false, '{}'::text[], u.account_id, u.role \
         FROM read.platform_user_tokens t JOIN read.platform_users u ON u.id = t.user_id \
              JOIN read.accounts a ON a.id = u.account_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
           AND u.status = 'active' AND NOT u.deleted AND a.status <> 'deleted'",
    )
    .bind(hash.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(
        |(id, email, display_name, superuser, service, permissions, account_id, role)| {
            let account = match (account_id, role) {
                (Some(account_id), Some(role)) => Some(AccountScope {
                    account_id,
                    // A role this build does not know authenticates no one.
                    role: role.parse().ok()?,
                }),
                _ => None,
            };
            Some(Principal {
                id,
                email,
                display_name,
                superuser,
                service,
                // A permission this build does not know (granted by a newer one) grants
                // nothing here.
                permissions: permissions
                    .iter()
                    .filter_map(|name| Permission::parse(name))
                    .collect(),
                account,
            })
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

//! Signing in to the console and staying signed in.
//!
//! A person signs in with an API token (an operator's or an account user's), which is
//! exchanged for a session: a random cookie value (HttpOnly, SameSite=Strict, Secure behind
//! TLS) whose SHA-256 is the row in `console.sessions`. The row keeps the token's hash, never
//! the token, and every page authenticates that hash again, so a revoked token, a deactivated
//! user or a changed group takes effect on the next page. Every form carries the session's
//! CSRF value, and a POST whose `Origin` is another site is refused before it is read.

use super::page;
use crate::auth::{hash_token, Principal};
use crate::http::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::identity::operator::TokenHash;
use maud::html;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "igny8_session";
/// A session ends after this long without a page.
const IDLE: &str = "2 hours";
/// And after this long in any case.
const LIFETIME: &str = "12 hours";

/// The person looking at a page: who they are and their session's CSRF value.
pub struct Visitor {
    pub principal: Principal,
    pub csrf: String,
    /// What the previous action said, shown once.
    pub flash: Option<Flash>,
    /// Set when a form on the page showed the flash beside itself; otherwise the page shows
    /// it at the top (a refusal whose form is not on the page is still said).
    pub flash_shown: std::sync::atomic::AtomicBool,
    id_hash: String,
}

/// What an action said, carried to the page it returns to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub refused: bool,
    pub text: String,
    /// The form it is about (`_form`), to be shown beside it.
    pub form: Option<String>,
    /// The field the refusal names, when it names one of the form's.
    pub field: Option<String>,
    pub code: Option<String>,
}

impl Visitor {
    /// The visitor of a page. `Err` is the answer instead: to the sign-in page when there is no
    /// live session (with `next` so the person comes back), a 503 when the database is down.
    pub async fn of(state: &AppState, headers: &HeaderMap, next: &str) -> Result<Self, Response> {
        Self::load(state, headers, Some(next)).await
    }

    /// The visitor posting a form, after its origin and CSRF value are checked.
    pub async fn posting(
        state: &AppState,
        headers: &HeaderMap,
        csrf: Option<&str>,
    ) -> Result<Self, Response> {
        same_origin(headers)?;
        let visitor = Self::load(state, headers, None).await?;
        let matches =
            csrf.is_some_and(|csrf| constant_time_eq(csrf.as_bytes(), visitor.csrf.as_bytes()));
        if !matches {
            return Err(page::refusal(
                StatusCode::FORBIDDEN,
                "This form is out of date (it belongs to another session). Go back, reload the page and try again.",
            ));
        }
        Ok(visitor)
    }

    async fn load(
        state: &AppState,
        headers: &HeaderMap,
        next: Option<&str>,
    ) -> Result<Self, Response> {
        let to_sign_in = |ended: Option<&str>| {
            let mut target = String::from("/sign-in");
            let mut query = Vec::new();
            if let Some(next) = next.filter(|n| *n != "/") {
                query.push(format!("next={}", super::encode(next)));
            }
            if let Some(ended) = ended {
                query.push(format!("ended={ended}"));
            }
            if !query.is_empty() {
                target.push('?');
                target.push_str(&query.join("&"));
            }
            Redirect::to(&target).into_response()
        };
        let Some(id_hash) = cookie(headers).map(|value| hash_hex(value.as_bytes())) else {
            return Err(to_sign_in(None));
        };
        // One statement finds the session, moves its expiry on and, for a page (not a form),
        // takes the flash it is to show once.
        let row: Option<(String, String, Option<serde_json::Value>)> = sqlx::query_as(
            "UPDATE console.sessions s \
             SET last_seen_at = now(), \
                 expires_at = LEAST(s.created_at + $2::interval, now() + $3::interval), \
                 flash = CASE WHEN $4 THEN NULL ELSE s.flash END \
             FROM console.sessions old \
             WHERE s.id_hash = $1 AND old.id_hash = s.id_hash AND s.expires_at > now() \
               AND s.created_at + $2::interval > now() \
             RETURNING s.token_hash, s.csrf, CASE WHEN $4 THEN old.flash END",
        )
        .bind(&id_hash)
        .bind(LIFETIME)
        .bind(IDLE)
        .bind(next.is_some())
        .fetch_optional(&state.pool)
        .await
        .map_err(unavailable)?;
        let Some((token_hash, csrf, flash)) = row else {
            return Err(to_sign_in(Some("expired")));
        };
        let principal = match TokenHash::parse(&token_hash) {
            Ok(hash) => state
                .auth
                .authenticate_hash(hash)
                .await
                .map_err(unavailable)?,
            Err(_) => None,
        };
        let Some(principal) = principal else {
            // The token was revoked (or its person deactivated): the session ends with it.
            end(state, &id_hash).await;
            return Err(to_sign_in(Some("revoked")));
        };
        Ok(Self {
            principal,
            csrf,
            flash: flash.and_then(|f| serde_json::from_value(f).ok()),
            flash_shown: Default::default(),
            id_hash,
        })
    }

    /// Keeps what an action said for the next page of this session.
    pub async fn say(&self, state: &AppState, flash: &Flash) {
        let saved = sqlx::query("UPDATE console.sessions SET flash = $2 WHERE id_hash = $1")
            .bind(&self.id_hash)
            .bind(serde_json::to_value(flash).unwrap_or_default())
            .execute(&state.pool)
            .await;
        if let Err(error) = saved {
            tracing::warn!(%error, "the console could not keep an action's message");
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    ended: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    token: String,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn sign_in_page(Query(query): Query<SignInQuery>) -> Response {
    let notice = match query.ended.as_deref() {
        Some("expired") => Some("Your session has ended. Sign in again to go on."),
        Some("revoked") => {
            Some("Your session ended: the token it was opened with no longer works.")
        }
        Some("signed-out") => Some("You are signed out."),
        _ => None,
    };
    page::sign_in(query.next.as_deref(), notice, None)
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return garbled();
    };
    if let Err(refusal) = same_origin(&headers) {
        return refusal;
    }
    let token = form.token.trim();
    let refused = |message: &str| {
        let mut response = page::sign_in(form.next.as_deref(), None, Some(message));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
    };
    if token.is_empty() {
        return refused("Paste the API token you were given.");
    }
    let principal = match state.auth.authenticate(token).await {
        Ok(principal) => principal,
        Err(error) => return unavailable(error),
    };
    let Some(principal) = principal else {
        return refused("That token is not valid: it may be mistyped, revoked, or belong to a deactivated user.");
    };
    if principal.service {
        return refused("The platform's service token does not sign in to the console.");
    }
    let secret = random_hex(32);
    let csrf = random_hex(32);
    let opened = sqlx::query(
        "WITH gone AS (DELETE FROM console.sessions WHERE expires_at <= now()) \
         INSERT INTO console.sessions (id_hash, token_hash, csrf, expires_at) \
         VALUES ($1, $2, $3, now() + $4::interval)",
    )
    .bind(hash_hex(secret.as_bytes()))
    .bind(hash_token(token).as_str())
    .bind(&csrf)
    .bind(IDLE)
    .execute(&state.pool)
    .await;
    if let Err(error) = opened {
        return unavailable(error);
    }
    tracing::info!(principal = %principal.id, "console session opened");
    let target = form.next.as_deref().filter(|n| is_local(n)).unwrap_or("/");
    let mut response = Redirect::to(target).into_response();
    set_cookie(&mut response, &headers, &secret, false);
    response
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return garbled();
    };
    let visitor = match Visitor::posting(&state, &headers, form.csrf.as_deref()).await {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    end(&state, &visitor.id_hash).await;
    let mut response = Redirect::to("/sign-in?ended=signed-out").into_response();
    set_cookie(&mut response, &headers, "", true);
    response
}

/// The answer to a form body that is not a form's fields.
pub(crate) fn garbled() -> Response {
    page::refusal(
        StatusCode::BAD_REQUEST,
        "This form arrived garbled (not an HTML form's fields); go back and try again.",
    )
}

async fn end(state: &AppState, id_hash: &str) {
    let ended = sqlx::query("DELETE FROM console.sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&state.pool)
        .await;
    if let Err(error) = ended {
        tracing::warn!(%error, "the console could not end a session");
    }
}

fn set_cookie(response: &mut Response, headers: &HeaderMap, value: &str, clear: bool) {
    // Behind a proxy that ends TLS the cookie must never travel in the clear.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let mut cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        cookie.push_str("; Secure");
    }
    if clear {
        cookie.push_str("; Max-Age=0");
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// The session cookie's value, if the request carries one that could be ours.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The principal of a live console session, for the GET routes a signed-in page links to (the
/// exports). Never for a POST: only the console's own forms, which carry the CSRF value, act
/// on a cookie.
pub(crate) async fn principal_of_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<Principal> {
    cookie(headers)?;
    Visitor::load(state, headers, None)
        .await
        .ok()
        .map(|v| v.principal)
}

/// A POST's `Origin`, when the browser sends one, must be this server; the refusal otherwise.
#[allow(clippy::result_large_err)] // The refusal is a page, as every handler answers.
fn same_origin(headers: &HeaderMap) -> Result<(), Response> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    // This server as the browser addressed it: its `Host`, or the host a proxy in front of it
    // was asked for.
    let ours = origin.split_once("://").is_some_and(|(_, authority)| {
        [HOST.as_str(), "x-forwarded-host"]
            .iter()
            .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
            .any(|host| authority.eq_ignore_ascii_case(host))
    });
    if ours {
        return Ok(());
    }
    Err(page::refusal(
        StatusCode::FORBIDDEN,
        "This form was sent from another site, so it was not carried out.",
    ))
}

/// A path on this server, never another site (`//elsewhere`, `/\elsewhere`), and nothing a
/// `Location` header cannot hold.
pub(crate) fn is_local(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && path.bytes().all(|b| b.is_ascii_graphic())
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn hash_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unavailable(error: sqlx::Error) -> Response {
    tracing::error!(%error, "the console cannot reach the database");
    page::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "The console cannot reach its database just now. Try again in a moment.",
    )
}

/// The sign-in form, for `page::sign_in`.
pub(crate) fn sign_in_form(next: Option<&str>) -> maud::Markup {
    html! {
        form method="post" action="/sign-in" class="sign-in" {
            label for="token" { "API token" }
            input id="token" name="token" type="password" autocomplete="off" required autofocus;
            @if let Some(next) = next.filter(|n| is_local(n)) {
                input type="hidden" name="next" value=(next);
            }
            button type="submit" { "Sign in" }
        }
    }
}

//! The web console: pages at `/` for the people who used the Django admin, served by the same
//! binary over the same query layer and authorization as GraphQL.
//!
//! Every page reads what it shows by running GraphQL queries as the signed-in visitor
//! (`ask`), and every button runs a mutation the same way (`act`), so a page can show nothing
//! and do nothing its visitor could not through `/graphql`, with the same codes and messages.
//! Pages are by bounded context, as everywhere else.

pub(crate) mod act;
mod ai_config;
mod audit;
mod billing;
mod chart;
mod identity;
mod insight;
mod operations;
mod page;
pub mod session;
mod store;
mod tenancy;

use crate::graphql::Rule;
use crate::http::{code_of, execute_as, AppState};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::ErrorCode;
use serde_json::Value;
use session::Visitor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(insight::dashboard::page))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/act", post(act::act))
        .route("/live/alerts", get(insight::dashboard::live_alerts))
        .route("/accounts", get(tenancy::accounts::list))
        .route("/accounts/{id}", get(tenancy::accounts::one))
        .route("/payments", get(billing::payments::queue))
        .route("/payments/{id}", get(billing::payments::one))
        .route("/invoices", get(billing::invoices::list))
        .route("/invoices/{id}", get(billing::invoices::one))
        .route("/subscriptions", get(billing::subscriptions::list))
        .route("/subscriptions/{id}", get(billing::subscriptions::one))
        .route("/plans", get(billing::catalog::page))
        .route("/prompts", get(ai_config::prompts::list))
        .route("/prompts/{kind}", get(ai_config::prompts::one))
        .route("/settings/ai", get(ai_config::providers::page))
        .route("/templates", get(ai_config::templates::page))
        .route("/staff", get(identity::staff::page))
        .route("/users", get(identity::users::list))
        .route("/system", get(store::system::page))
        .route("/jobs/{id}", get(operations::jobs::one))
        .route("/audit", get(audit::trail::page))
        .route("/console/console.css", get(style))
        .route("/console/console.js", get(script))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", page::STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", page::SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Runs a query as the visitor and gives its data. A refusal becomes the page saying why, with
/// the status GraphQL's code maps to (a confined visitor asking for another account's page
/// gets the same `FORBIDDEN` or `NOT_FOUND` as through `/graphql`).
async fn ask(
    state: &AppState,
    visitor: &Visitor,
    query: &str,
    variables: Value,
) -> Result<Value, Response> {
    try_ask(state, visitor, query, variables)
        .await
        .map_err(|refusal| page::refusal(refusal.status, &refusal.message))
}

/// Why GraphQL refused a page's query: the message to show, and the status it maps to.
struct Refusal {
    status: StatusCode,
    message: String,
}

/// As [`ask`], the refusal given back for the page to show where it belongs (beside the
/// control that asked, say) rather than instead of the page.
async fn try_ask(
    state: &AppState,
    visitor: &Visitor,
    query: &str,
    variables: Value,
) -> Result<Value, Refusal> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let response = execute_as(state, visitor.principal.clone(), None, request).await;
    if let Some(error) = response.errors.first() {
        let code = code_of(error);
        let message = match code {
            ErrorCode::Internal => error.message.clone(),
            _ => format!("{} ({})", error.message, code.as_str()),
        };
        return Err(Refusal {
            status: crate::export::status_of(code),
            message,
        });
    }
    Ok(response.data.into_json().unwrap_or_default())
}

/// What a page handler answers: its page, or the page to show instead (the sign-in page, a
/// refusal), so a handler can say `?` to whatever stops it.
type Answer = Result<Response, Response>;

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    /// The visitor of a page, or the answer to give instead: to the sign-in page (coming back
    /// here after it) when there is no live session.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        Visitor::of(state, &parts.headers, next).await
    }
}

impl Visitor {
    /// Goes on only when `rule` lets the visitor see `what` at all.
    // The refusal is a page, the same size as what a handler answers anyway.
    #[allow(clippy::result_large_err)]
    fn require(&self, rule: Rule, what: &str) -> Result<(), Response> {
        if rule.allows(&self.principal) {
            return Ok(());
        }
        Err(page::refusal(
            StatusCode::FORBIDDEN,
            &format!("You may not see {what}: none of your groups (or your role) grants it."),
        ))
    }
}

/// A page's query parameters as given: a name may repeat (the choices of a multiple select).
struct Params(Vec<(String, String)>);

impl FromRequestParts<AppState> for Params {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| Params(pairs))
            .map_err(|_| {
                page::refusal(
                    StatusCode::BAD_REQUEST,
                    "This page's address is garbled; go back and try again.",
                )
            })
    }
}

impl Params {
    /// The first non-blank value of `name`, trimmed.
    fn one(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    /// Every non-blank value of `name`, trimmed.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// `path` with these parameters but the cursor: where the pager, the forms and the first
    /// page link go.
    fn base(&self, path: &str) -> String {
        let kept: Vec<String> = self
            .0
            .iter()
            .filter(|(n, v)| n != "after" && !v.trim().is_empty())
            .map(|(n, v)| format!("{}={}", encode(n), encode(v.trim())))
            .collect();
        if kept.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", kept.join("&"))
        }
    }
}

/// Percent-encodes text for a URL's query.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

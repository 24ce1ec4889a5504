//! The web console: pages at `/` for the people who used the Django admin, served by the same
//! binary over the same query layer and authorization as GraphQL.
//!
//! Every page reads what it shows by running GraphQL queries as the signed-in visitor
//! (`ask`), and every button runs a mutation the same way (`act`), so a page can show nothing
//! and do nothing its visitor could not through `/graphql`, with the same codes and messages.
//! Pages are by bounded context, as everywhere else.

mod act;
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

use crate::http::{code_of, execute_as, AppState};
use axum::http::{header, HeaderMap, StatusCode};
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
        .route("/accounts", get(tenancy::accounts::list))
        .route("/accounts/{id}", get(tenancy::accounts::one))
        .route("/payments", get(billing::payments::queue))
        .route("/invoices", get(billing::invoices::list))
        .route("/subscriptions", get(billing::subscriptions::list))
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
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let response = execute_as(state, visitor.principal.clone(), None, request).await;
    if let Some(error) = response.errors.first() {
        let code = code_of(error);
        let status = crate::export::status_of(code);
        let message = match code {
            ErrorCode::Internal => error.message.clone(),
            _ => format!("{} ({})", error.message, code.as_str()),
        };
        return Err(page::refusal(status, &message));
    }
    Ok(response.data.into_json().unwrap_or_default())
}

/// The visitor of a page, or the answer to give instead (the sign-in page).
async fn visitor(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Visitor, Response> {
    let next = uri.path_and_query().map_or("/", |p| p.as_str());
    Visitor::of(state, headers, next).await
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

/// A page's answer when the visitor may not see it at all.
fn not_allowed(what: &str) -> Response {
    page::refusal(
        StatusCode::FORBIDDEN,
        &format!("You may not see {what}: none of your groups (or your role) grants it."),
    )
}

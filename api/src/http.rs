//! HTTP routes: GraphQL (queries, mutations, GraphiQL, websocket subscriptions), health,
//! readiness and metrics. Authentication happens here, before the schema executes.

use crate::auth::{self, Authenticator, Principal};
use crate::error::ApiError;
use crate::graphql::insight::health::HealthByAccount;
use crate::graphql::{AppSchema, RequestMeta, TokensByOperator};
use crate::metrics;
use async_graphql::dataloader::DataLoader;
use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::ErrorCode;
use metrics_exporter_prometheus::PrometheusHandle;
use projections::Engine;
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use uuid::Uuid;

/// Largest request body accepted: generous for GraphQL documents, small enough to refuse abuse.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// What GraphQL's resolvers use, for the routes beside it (activity ingestion).
    pub services: crate::graphql::Services,
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    pub schema: AppSchema,
    pub engine: Arc<Engine>,
    /// Every aggregate type, for history exports (the same as the schema's).
    pub chronicles: projections::audit::history::Chronicles,
    pub metrics: PrometheusHandle,
    pub ready_max_lag: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphiql).post(graphql).fallback(method_not_allowed),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .route(
            "/ingest/activity",
            axum::routing::post(crate::ingest::activity),
        )
        .route("/export/audit-log", get(crate::export::audit_log))
        .route(
            "/export/reports/{report}",
            get(crate::export::reports::report),
        )
        .route("/export/history", get(crate::export::aggregate_history))
        .route("/export/accounts", get(crate::export::lists::accounts))
        .route(
            "/export/credit-ledger",
            get(crate::export::lists::credit_ledger),
        )
        .route("/export/payments", get(crate::export::lists::payments))
        .route("/export/invoices", get(crate::export::lists::invoices))
        .route(
            "/export/subscriptions",
            get(crate::export::lists::subscriptions),
        )
        .route("/export/plans", get(crate::export::lists::plans))
        .route(
            "/export/ai-providers",
            get(crate::export::lists::ai_providers),
        )
        .route(
            "/export/ai-overrides",
            get(crate::export::lists::ai_overrides),
        )
        .route("/export/prompts", get(crate::export::lists::prompts))
        .route(
            "/export/account-prompts",
            get(crate::export::lists::account_prompts),
        )
        .route(
            "/export/author-profiles",
            get(crate::export::lists::author_profiles),
        )
        .route(
            "/export/content-strategies",
            get(crate::export::lists::content_strategies),
        )
        .merge(crate::console::router())
        .with_state(state)
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("igny8-admin")
            .finish(),
    )
}

/// The caller's request id if it is a sane one, else a fresh one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_string)
}

/// The caller, from the bearer token; otherwise the answer to give (401 without a valid token,
/// 503 when tokens cannot be checked) and its outcome label.
pub(crate) async fn principal_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, (Response, &'static str)> {
    let principal = match auth::bearer(headers) {
        None => None,
        Some(token) => state.auth.authenticate(token).await.map_err(|e| {
            let response = error_response(StatusCode::SERVICE_UNAVAILABLE, ApiError::from(e));
            (response, "error")
        })?,
    };
    principal.ok_or_else(|| {
        let mut response = error_response(StatusCode::UNAUTHORIZED, ApiError::unauthenticated());
        response
            .headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        (response, "unauthenticated")
    })
}

/// The caller of a download a console page links to (the exports): the bearer token, or else
/// a live console session's cookie. Only for GETs that change nothing: a cookie alone never
/// acts (the console's forms carry their CSRF value).
pub(crate) async fn reader_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, (Response, &'static str)> {
    if auth::bearer(headers).is_none() {
        if let Some(principal) = crate::console::session::principal_of_cookie(state, headers).await
        {
            return Ok(principal);
        }
    }
    principal_of(state, headers).await
}

pub(crate) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let body = json!({
        "data": null,
        "errors": [{ "message": error.message, "extensions": { "code": error.code.as_str() } }],
    });
    (status, Json(body)).into_response()
}

async fn method_not_allowed() -> Response {
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::new(
            ErrorCode::BadRequest,
            "`/graphql` takes POST (a GraphQL request as JSON) or GET (GraphiQL)",
        ),
    );
    response
        .headers_mut()
        .insert("allow", HeaderValue::from_static("GET, POST"));
    response
}

/// Reads a POST body as one GraphQL request. Every way it can be wrong is answered as a GraphQL
/// error document with a code, never with plain text or parser internals.
///
/// JSON only (`content-type: application/json`): a browser sends a cross-site form or a
/// `text/plain` POST without asking first, but not JSON, so requiring it keeps a page on
/// another site from making a signed-in browser run a mutation.
async fn read_request(headers: &HeaderMap, body: Body) -> Result<async_graphql::Request, Response> {
    let bad = |status, code, message: String| error_response(status, ApiError::new(code, message));
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(bad(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the request as JSON with `content-type: application/json`".into(),
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            if too_large {
                bad(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                bad(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    "the request body could not be read".into(),
                )
            }
        })?;
    match serde_json::from_slice::<async_graphql::Request>(&bytes) {
        Ok(mut request)
            if !request.query.trim().is_empty()
                || request.extensions.contains_key("persistedQuery") =>
        {
            if request.query.len() > crate::graphql::PERSISTED_QUERY_MAX_BYTES {
                // Answered, not kept: the cache's memory stays bounded.
                request.extensions.remove("persistedQuery");
            }
            Ok(request)
        }
        _ => Err(explain_bad_body(&bytes)),
    }
}

/// Why a body that is not a usable GraphQL request was refused. Only bad requests pay for
/// this second look at the body.
fn explain_bad_body(bytes: &[u8]) -> Response {
    let bad = |message: String| {
        error_response(
            StatusCode::BAD_REQUEST,
            ApiError::new(ErrorCode::BadRequest, message),
        )
    };
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => return bad(format!("the body is not valid JSON ({e})")),
    };
    if value.is_array() {
        return bad("batched requests are not supported: send one operation per request".into());
    }
    let has_query = value
        .get("query")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|query| !query.trim().is_empty());
    if value.is_object() && !has_query {
        return bad(
            "the request has no `query`: send the GraphQL document as a string in `query`".into(),
        );
    }
    let cause = serde_json::from_value::<async_graphql::Request>(value)
        .err()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    bad(format!(
        "the body is not a GraphQL request: expected an object with `query` (a string) \
         and optional `operationName` and `variables`{cause}"
    ))
}

async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = request_id(&headers);
    let request = match read_request(&headers, body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let operation = metrics::operation_label(request.operation_name.as_deref());
    let span = tracing::info_span!("graphql", %request_id, %operation);
    let started = Instant::now();
    let (mut response, outcome) = async {
        let principal = match principal_of(&state, &headers).await {
            Ok(principal) => principal,
            Err(refused) => return refused,
        };
        let meta = RequestMeta {
            request_id: request_id.clone(),
            client_addr: Some(peer.ip().to_string()),
        };
        let request = as_principal(&state, principal, meta, request);
        let mut response = state.schema.execute(request).await;
        // Errors raised before resolvers run (syntax, unknown fields, wrong types, limits) come
        // from async-graphql without a code; they are all the client's to fix.
        for error in &mut response.errors {
            let code = match error.message.as_str() {
                // The message and code Apollo's and Relay's clients look for to resend the text.
                "PersistedQueryNotFound" => ErrorCode::PersistedQueryNotFound,
                _ => ErrorCode::Validation,
            };
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", code.as_str());
            }
        }
        let outcome = if response.is_ok() { "ok" } else { "error" };
        (GraphQLResponse::from(response).into_response(), outcome)
    }
    .instrument(span)
    .await;
    ::metrics::counter!("igny8_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
        .increment(1);
    ::metrics::histogram!("igny8_graphql_request_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Websocket subscriptions. The token travels in the `connection_init` payload, as
/// `{"Authorization": "Bearer <token>"}` (what GraphiQL sends from its headers pane) or `{"token": "<token>"}`.
async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let pool = state.pool.clone();
            let authenticator = Arc::clone(&state.auth);
            GraphQLWebSocket::new(stream, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_string()))
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(str::to_string)
                        });
                    let principal: Option<Principal> = match token {
                        Some(token) => authenticator
                            .authenticate(&token)
                            .await
                            .map_err(|e| async_graphql::Error::from(ApiError::from(e)))?,
                        None => None,
                    };
                    let principal = principal
                        .ok_or_else(|| async_graphql::Error::from(ApiError::unauthenticated()))?;
                    let mut data = Data::default();
                    data.insert(principal);
                    data.insert(RequestMeta {
                        request_id: Uuid::now_v7().to_string(),
                        client_addr: Some(peer.ip().to_string()),
                    });
                    loaders(&mut data, &pool);
                    Ok(data)
                })
                .serve()
        })
}

/// Runs a GraphQL request as `principal`, with a request's batch loaders: how the routes
/// beside `/graphql` (the report exports, the console) ask the schema, under its guards.
pub(crate) async fn execute_as(
    state: &AppState,
    principal: Principal,
    client_addr: Option<String>,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let request = as_principal(state, principal, new_meta(client_addr), request);
    state.schema.execute(request).await
}

/// Runs a GraphQL subscription as `principal`, as [`execute_as`] runs a query: the console's
/// live pages follow it.
pub(crate) fn stream_as(
    state: &AppState,
    principal: Principal,
    client_addr: Option<String>,
    request: async_graphql::Request,
) -> impl futures::Stream<Item = async_graphql::Response> + Send + 'static {
    let request = as_principal(state, principal, new_meta(client_addr), request);
    state.schema.execute_stream(request)
}

/// `request` as `principal` asks it, with the request's own identity and batch loaders: what
/// every way into the schema (`/graphql`, the exports, the console) gives it.
fn as_principal(
    state: &AppState,
    principal: Principal,
    meta: RequestMeta,
    request: async_graphql::Request,
) -> async_graphql::Request {
    let mut request = request.data(principal).data(meta);
    loaders(&mut request.data, &state.pool);
    request
}

/// A request of our own making (an export, a console page), under a new request id.
fn new_meta(client_addr: Option<String>) -> RequestMeta {
    RequestMeta {
        request_id: Uuid::now_v7().to_string(),
        client_addr,
    }
}

/// An error's stable code. Errors the schema raises before any resolver runs (a variable of
/// the wrong type) carry none; they are the caller's to fix.
pub(crate) fn code_of(error: &async_graphql::ServerError) -> ErrorCode {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(|code| match code {
            async_graphql::Value::String(code) => {
                <ErrorCode as strum::IntoEnumIterator>::iter().find(|c| c.as_str() == code)
            }
            _ => None,
        })
        .unwrap_or(ErrorCode::Validation)
}

/// The batch loaders of one request (or one subscription's connection): what every node of a
/// page asks for is read in one query.
pub(crate) fn loaders(data: &mut async_graphql::Data, pool: &sqlx::PgPool) {
    data.insert(DataLoader::new(
        TokensByOperator(pool.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(HealthByAccount(pool.clone()), tokio::spawn));
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers, no projection lags more than the configured bound and none
/// is held at an event it cannot apply.
async fn readyz(State(state): State<AppState>) -> Response {
    let statuses = match state.engine.status().await {
        Ok(statuses) => statuses,
        Err(error) => {
            tracing::warn!(%error, "readiness check cannot reach the database");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "database": "unreachable" })),
            )
                .into_response();
        }
    };
    let max_lag = state.ready_max_lag.as_secs_f64();
    let projections: Vec<_> = statuses
        .iter()
        .map(|s| {
            let stuck = s.stuck.as_ref().map(|stuck| {
                json!({ "position": stuck.event.position, "eventType": stuck.event.event_type, "since": stuck.since })
            });
            json!({ "name": s.name, "position": s.checkpoint.position, "pending": s.pending,
                    "lagSeconds": s.lag_seconds, "stuck": stuck })
        })
        .collect();
    let ready = statuses
        .iter()
        .all(|s| s.lag_seconds <= max_lag && s.stuck.is_none());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": ready, "database": "ok", "projections": projections })),
    )
        .into_response()
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    match state.engine.status().await {
        Ok(statuses) => metrics::record_projections(&statuses),
        Err(error) => tracing::warn!(%error, "projection status unavailable for metrics"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

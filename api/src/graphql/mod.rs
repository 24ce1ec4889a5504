//! The GraphQL schema. Axum only wires it (see `http`); everything a resolver needs arrives
//! through the schema's data (`Services`) and the request's data (`Principal`, `RequestMeta`).

pub(crate) mod ai_config;
pub(crate) mod audit;
pub(crate) mod billing;
mod identity;
pub(crate) mod insight;
pub mod kit;
pub(crate) mod operations;
mod store;
pub(crate) mod tenancy;

use crate::auth::Principal;
use crate::error::ApiError;
use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{Context, Guard, MergedObject, MergedSubscription, Schema, SimpleObject};
use domain::identity::permission::Permission;
use projections::{Appended, CommandBus, CommandContext, Engine};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

pub use identity::TokensByOperator;

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Most fields one query may ask for (each field costs 1; lists count once per field).
pub const MAX_COMPLEXITY: usize = 1_000;
/// Parsed documents kept for persisted queries, by hash: more than the operations of any
/// client set. With `PERSISTED_QUERY_MAX_BYTES` this bounds the memory the cache can hold.
const PERSISTED_QUERIES: usize = 512;
/// Longer query texts are answered but not kept as persisted queries.
pub const PERSISTED_QUERY_MAX_BYTES: usize = 16 * 1024;

// Each bounded context contributes its roots; they are merged here and nowhere else.
#[derive(MergedObject, Default)]
pub struct Query(
    tenancy::TenancyQuery,
    billing::BillingQuery,
    ai_config::AiConfigQuery,
    audit::AuditQuery,
    identity::IdentityQuery,
    operations::OperationsQuery,
    insight::InsightQuery,
    store::StoreQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    tenancy::TenancyMutation,
    billing::BillingMutation,
    ai_config::AiConfigMutation,
    identity::IdentityMutation,
    operations::OperationsMutation,
    insight::InsightMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    store::StoreSubscription,
    operations::OperationsSubscription,
    insight::InsightSubscription,
);

/// What resolvers (and the routes beside GraphQL) share for the life of the server.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub bus: CommandBus,
    pub engine: Arc<Engine>,
    /// Every aggregate type, for history and time travel.
    pub chronicles: projections::audit::history::Chronicles,
    /// The public key that signs the seal chain's checkpoints.
    pub seal_public_key: [u8; 32],
    pub read_your_writes_timeout: Duration,
    /// Wakes the bulk-job runner when a job starts (see `crate::operations`).
    pub jobs: Arc<tokio::sync::Notify>,
    /// Encrypts the providers' API keys before they are recorded, and destroys them.
    pub keyring: projections::ai_config::keyring::Keyring,
    /// The late fee a person charges on an overdue invoice (`IGNY8_LATE_FEE`).
    pub late_fee: domain::billing::invoice::LateFeePolicy,
    /// The dashboard's answers, while their read models stand still.
    pub memo: Arc<kit::memo::Memo>,
}

/// Facts about the HTTP request, copied into the metadata of every event it causes.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: Option<String>,
}

pub fn build(services: Option<Services>) -> AppSchema {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(kit::limits::DepthLimit)
    // Clients that send a query's SHA-256 instead of its text (Apollo's and Relay's persisted
    // queries) get the document this server parsed when it first saw the text: no text on
    // the wire, no parsing. The cache is per process and bounded; a miss asks for the text.
    .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
        PERSISTED_QUERIES,
    )))
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(8);
    match services {
        Some(services) => builder.data(services).finish(),
        None => builder.finish(),
    }
}

/// The schema in SDL, as committed in `api/schema.graphql`: everything introspection shows,
/// `@specifiedBy` included.
pub fn sdl() -> String {
    build(None).sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// The authenticated caller. Transports refuse unauthenticated requests before execution;
/// this is the resolvers' own guard against a transport that forgot.
pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    ctx.data_opt::<Principal>()
        .ok_or_else(ApiError::unauthenticated)
}

/// Who may use a field. Every field of the query, mutation and subscription roots declares one
/// (`#[graphql(guard = "Rule::Can(Permission::AccountsRead)")]`; a test fails when one does
/// not), so a field reached by the wrong principal is refused before its resolver runs. Finer
/// rules that depend on the arguments (e.g. "your own tokens, or anyone's as a superuser") stay
/// in the resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any operator who is a person, whatever their groups: their own record and tokens, the
    /// engine's status. Not service principals, nor platform users.
    Staff,
    /// Operators holding this permission through a group; superusers hold every permission.
    Can(Permission),
    /// As `Can`, and also platform users whose role holds it, within their own account: the
    /// resolver confines what they see and touch to it (`confined_to`).
    Scoped(Permission),
    /// Superusers only.
    Superuser,
    /// The platform's service principal only: it reports usage.
    Platform,
    /// As `Scoped`, and also the platform's service principal, for any account: what the
    /// platform reads on every AI call (an account's effective AI settings and prompts).
    ScopedOrPlatform(Permission),
}

impl Rule {
    /// Whether the rule lets `principal` in: what the guard checks, and what the console asks
    /// before it shows an action.
    pub fn allows(self, principal: &Principal) -> bool {
        match self {
            Self::Staff => principal.is_staff(),
            Self::Can(permission) => principal.can(permission),
            Self::Scoped(permission) => principal.can_within_account(permission),
            Self::Superuser => principal.superuser && principal.is_staff(),
            Self::Platform => principal.service,
            Self::ScopedOrPlatform(permission) => {
                principal.service || principal.can_within_account(permission)
            }
        }
    }
}

impl Guard for Rule {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx)?;
        if self.allows(principal) {
            return Ok(());
        }
        let message = match self {
            _ if principal.service => {
                "a service principal may only report credit usage and activity, and \
                 read accounts' effective AI settings and prompts"
                    .to_string()
            }
            Self::Scoped(permission) | Self::ScopedOrPlatform(permission)
                if principal.account.is_some() =>
            {
                format!("this needs the `{permission}` permission, which your role does not hold")
            }
            _ if principal.account.is_some() => {
                "a platform user's token acts only within their own account".to_string()
            }
            Self::Can(permission)
            | Self::Scoped(permission)
            | Self::ScopedOrPlatform(permission) => {
                format!(
                    "this needs the `{permission}` permission, which none of your groups grants"
                )
            }
            Self::Superuser => "only a superuser may do this".to_string(),
            Self::Platform => {
                "only the platform's service principal reports credit usage and activity"
                    .to_string()
            }
            Self::Staff => "only operators may do this".to_string(),
        };
        Err(ApiError::forbidden(message).into())
    }
}

/// The account a platform user's request is confined to; none for staff.
pub(crate) fn confined_to(ctx: &Context<'_>) -> Option<uuid::Uuid> {
    ctx.data_opt::<Principal>().and_then(Principal::confined_to)
}

/// Adds `AND <column> = <the caller's account>` to a list query when the caller is confined to
/// one, so rows, totals and cursors never reach past it.
pub(crate) fn confine(
    ctx: &Context<'_>,
    query: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
    column: &str,
) {
    if let Some(account) = confined_to(ctx) {
        query.push(format!(" AND {column} = ")).push_bind(account);
    }
}

/// Whether a row of `account` may be shown to the caller.
pub(crate) fn visible(ctx: &Context<'_>, account: uuid::Uuid) -> bool {
    confined_to(ctx).is_none_or(|own| own == account)
}

pub(crate) fn parse_id(field: &str, id: &async_graphql::ID) -> Result<uuid::Uuid, ApiError> {
    id.trim()
        .parse()
        .map_err(|_| ApiError::validation(format!("`{field}` is not a valid id")))
}

/// The command context for a mutation by `principal` in this request.
pub(crate) fn command_context(
    ctx: &Context<'_>,
    principal: &Principal,
    idempotency_key: Option<String>,
    reason: Option<String>,
) -> CommandContext {
    let mut command = CommandContext::new(principal.actor());
    if let Some(meta) = ctx.data_opt::<RequestMeta>() {
        command.request_id = Some(meta.request_id.clone());
        command.client_addr = meta.client_addr.clone();
    }
    command.idempotency_key = idempotency_key;
    command.reason = reason;
    command
}

/// Where a mutation's events landed, and whether the read models already show them.
#[derive(SimpleObject, Debug, Clone)]
pub struct WriteReceipt {
    /// Global log position of the last event appended; null when nothing changed.
    pub position: Option<i64>,
    /// True when the affected read models had applied the change before this answer.
    pub caught_up: bool,
    /// True when an idempotency key matched an earlier request and nothing new was appended.
    pub replayed: bool,
}

/// Read-your-writes: waits (bounded by the configured timeout) until every handler that reads
/// `aggregate_type` has applied what `appended` wrote, then, when process managers are among
/// them, until the projections reading what those managers write have applied everything
/// appended meanwhile (the managers' commands included). Derived from what the handlers declare
/// they consume (`Engine::readers_of`).
pub(crate) async fn settle(
    ctx: &Context<'_>,
    appended: &Appended,
    aggregate_type: &str,
) -> WriteReceipt {
    let services = services(ctx);
    settle_on(
        services,
        appended,
        aggregate_type,
        services.read_your_writes_timeout,
    )
    .await
}

/// `settle`, for a route outside GraphQL, waiting at most `timeout` (zero: only says whether
/// the read models already show the write).
pub(crate) async fn settle_on(
    services: &Services,
    appended: &Appended,
    aggregate_type: &str,
    timeout: Duration,
) -> WriteReceipt {
    let engine = &services.engine;
    let readers = engine.readers_of(aggregate_type);
    let deadline = tokio::time::Instant::now() + timeout;
    let caught_up = match appended.last.or(appended.observed) {
        None => true,
        Some(at) if readers.then.is_empty() => engine.wait_for(&readers.first, at, timeout).await,
        Some(at) => {
            engine.wait_for(&readers.first, at, timeout).await
                && match engine.head().await {
                    Ok(head) => {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        engine.wait_for(&readers.then, head.max(at), left).await
                    }
                    Err(_) => false,
                }
        }
    };
    WriteReceipt {
        position: appended.last.map(|at| at.position),
        caught_up,
        replayed: appended.replayed,
    }
}

/// Runs `command` on aggregate `id` as the caller, with their reason (required: a catalogue or
/// settings change must be explainable) and idempotency key, and waits for the read models:
/// the common shape of a mutation that then answers with the aggregate's row.
pub(crate) async fn run_explained<A>(
    ctx: &Context<'_>,
    id: impl std::fmt::Display,
    command: A::Command,
    reason: &str,
    idempotency_key: Option<String>,
) -> Result<WriteReceipt, ApiError>
where
    A: domain::kit::event::StoredAggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
    A::Event: domain::kit::event::StoredEvent,
    A::Error: domain::kit::error::Coded + std::error::Error + 'static,
{
    let me = principal(ctx)?;
    let reason = domain::kit::values::Reason::parse(reason)?;
    let context = command_context(ctx, me, idempotency_key, Some(reason.to_string()));
    let appended = services(ctx)
        .bus
        .execute::<A>(&id.to_string(), command, &context)
        .await?;
    Ok(settle(ctx, &appended, A::TYPE).await)
}

#[cfg(test)]
mod tests {
    use domain::identity::account_users::UserRole;
    use domain::identity::permission::Permission;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The committed SDL is the API's contract; a change to the code must change it visibly.
    /// Regenerate with `cargo run -p api -- print-schema > api/schema.graphql`.
    #[test]
    fn the_committed_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::sdl(),
            "api/schema.graphql is out of date: run `cargo run -p api -- print-schema > api/schema.graphql`"
        );
    }

    /// What clients see is what introspection answers, so the committed SDL is compared with
    /// it: every type, field, argument, enum value and `@specifiedBy` URL introspection reports
    /// appears in the SDL, and nothing else does.
    #[tokio::test]
    async fn the_committed_schema_says_what_introspection_reports() {
        let query = include_str!("../../../tests/introspection/graphql-js-all.graphql");
        let response = super::build(None).execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("JSON");
        let mut seen = BTreeSet::new();
        for ty in data["__schema"]["types"].as_array().expect("types") {
            let name = ty["name"].as_str().unwrap_or_default();
            // Built-in scalars are part of every schema; SDL leaves them out.
            if name.starts_with("__") || ["Boolean", "Float", "ID", "Int", "String"].contains(&name)
            {
                continue;
            }
            seen.insert(format!("type {name}"));
            if let Some(url) = ty["specifiedByURL"].as_str() {
                seen.insert(format!("{name} @specifiedBy({url})"));
            }
            for list in ["fields", "inputFields", "enumValues"] {
                for member in ty[list].as_array().into_iter().flatten() {
                    let member_name = member["name"].as_str().unwrap_or_default();
                    seen.insert(format!("{name}.{member_name}"));
                    for arg in member["args"].as_array().into_iter().flatten() {
                        seen.insert(format!(
                            "{name}.{member_name}({})",
                            arg["name"].as_str().unwrap_or_default()
                        ));
                    }
                }
            }
        }
        let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("committed SDL");
        let document = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
        let mut declared = BTreeSet::new();
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            declared.insert(format!("type {name}"));
            for directive in &ty.node.directives {
                if directive.node.name.node == "specifiedBy" {
                    if let Some((_, url)) = directive.node.arguments.first() {
                        let url = url.node.to_string();
                        declared.insert(format!("{name} @specifiedBy({})", url.trim_matches('"')));
                    }
                }
            }
            match &ty.node.kind {
                TypeKind::Object(object) => {
                    for field in &object.fields {
                        let field_name = &field.node.name.node;
                        declared.insert(format!("{name}.{field_name}"));
                        for arg in &field.node.arguments {
                            declared.insert(format!("{name}.{field_name}({})", arg.node.name.node));
                        }
                    }
                }
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        declared.insert(format!("{name}.{}", field.node.name.node));
                    }
                }
                TypeKind::Enum(values) => {
                    for value in &values.values {
                        declared.insert(format!("{name}.{}", value.node.value.node));
                    }
                }
                _ => {}
            }
        }
        let missing: Vec<_> = seen.difference(&declared).collect();
        let extra: Vec<_> = declared.difference(&seen).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "the committed SDL differs from introspection: missing {missing:?}, extra {extra:?}"
        );
        assert!(
            seen.iter().any(|s| s.contains("@specifiedBy")),
            "introspection reports specifiedBy URLs"
        );
    }

    #[test]
    fn the_console_offers_each_action_to_whom_its_guard_lets_in() {
        let (guarded, _) = guarded_fields();
        for (mutation, rule) in crate::console::act::OFFERED {
            let field = format!("Mutation.{mutation}");
            let guard = guarded
                .iter()
                .find(|g| g.field == field)
                .unwrap_or_else(|| panic!("the console offers `{field}`, which has no guard"));
            let declared = guard.rule.replace("Rule::", "").replace("Permission::", "");
            assert_eq!(
                format!("{rule:?}"),
                declared,
                "the console's rule for `{field}`"
            );
        }
    }

    /// A field that declares who may use it, as the resolver sources say.
    struct Guarded {
        /// `Query.accounts`, `Mutation.adjustCredits`, `Account.history`, ...
        field: String,
        /// The guard expression, e.g. `Rule::Can(Permission::AccountsRead)`.
        rule: String,
    }

    /// Every guarded field of the schema, read from the resolvers under `src/graphql`
    /// (async-graphql does not show guards to introspection), and the root fields without one.
    fn guarded_fields() -> (Vec<Guarded>, Vec<String>) {
        let mut guarded = Vec::new();
        let mut unguarded = Vec::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql");
        let mut files: Vec<_> = walk(&dir);
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            let mut owner: Option<String> = None;
            let mut attributes = String::new();
            for line in text.lines() {
                let trimmed = line.trim();
                if let Some(rest) = trimmed.strip_prefix("impl ") {
                    let ty = rest.split_whitespace().next().unwrap_or_default();
                    let root = ["Query", "Mutation", "Subscription"]
                        .into_iter()
                        .find(|suffix| ty.ends_with(suffix));
                    owner = Some(match root {
                        Some(root) => root.to_string(),
                        // `OperatorNode` is `Operator` in the schema.
                        None => ty.trim_end_matches("Node").to_string(),
                    });
                } else if line == "}" {
                    owner = None;
                }
                if trimmed.starts_with("#[") || trimmed.starts_with("///") {
                    attributes.push_str(trimmed);
                    continue;
                }
                if let (Some(owner), true) = (
                    &owner,
                    line.starts_with("    ") && trimmed.starts_with("async fn "),
                ) {
                    let name = trimmed["async fn ".len()..]
                        .split('(')
                        .next()
                        .unwrap_or_default();
                    let field = format!("{owner}.{}", camel(name));
                    match attributes.split_once("guard = \"") {
                        Some((_, rest)) => guarded.push(Guarded {
                            field,
                            rule: rest.split('"').next().unwrap_or_default().to_string(),
                        }),
                        None if ["Query", "Mutation", "Subscription"].contains(&owner.as_str()) => {
                            unguarded.push(format!("{}: {field}", file.display()))
                        }
                        None => {}
                    }
                }
                attributes.clear();
            }
        }
        guarded.sort_by(|a, b| a.field.cmp(&b.field));
        (guarded, unguarded)
    }

    fn camel(snake: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in snake.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Every field of the query, mutation and subscription roots declares who may use it: each
    /// resolver in a `*Query`, `*Mutation` or `*Subscription` impl of this folder carries a
    /// `guard`. Fails naming the field that does not.
    #[test]
    fn every_root_field_declares_a_permission() {
        let (guarded, unguarded) = guarded_fields();
        assert!(
            guarded.len() > 40,
            "the scan found the resolvers ({})",
            guarded.len()
        );
        assert!(
            unguarded.is_empty(),
            "fields without a guard: {unguarded:#?}"
        );
    }

    /// The roles of platform users, as the matrix's columns name them.
    const TENANT_ROLES: [&str; 4] = ["owner", "admin", "editor", "viewer"];

    /// The README's access matrix is this table, rendered from the guards themselves, so it
    /// cannot drift from the code. Run with `UPDATE_README=1` to rewrite it after a change.
    #[test]
    fn the_readme_access_matrix_is_the_code() {
        use domain::identity::group::builtin;
        let groups = builtin();
        let mut table = String::from("| field | needs | superuser |");
        for (name, _) in &groups {
            table.push_str(&format!(" {name} |"));
        }
        table.push_str(" in no group | platform service |");
        for role in TENANT_ROLES {
            table.push_str(&format!(" account {role} |"));
        }
        table.push_str("\n|---|---|:-:|");
        table.push_str(&":-:|".repeat(groups.len() + 2 + TENANT_ROLES.len()));
        table.push('\n');
        let (guarded, _) = guarded_fields();
        for Guarded { field, rule } in &guarded {
            let permission = Permission::ALL
                .iter()
                .find(|p| rule.ends_with(&format!("(Permission::{p:?})")));
            let none = vec![false; groups.len()];
            let (needs, superuser, group, no_group, service, tenant) =
                match (rule.as_str(), permission) {
                    ("Rule::Staff", _) => (
                        "any operator".to_string(),
                        true,
                        vec![true; groups.len()],
                        true,
                        false,
                        None,
                    ),
                    ("Rule::Superuser", _) => ("superuser".into(), true, none, false, false, None),
                    ("Rule::Platform", _) => {
                        ("the platform".into(), false, none, false, true, None)
                    }
                    (rule, Some(p)) => {
                        let held = groups.iter().map(|(_, held)| held.contains(p)).collect();
                        if rule.starts_with("Rule::ScopedOrPlatform") {
                            (
                                format!("`{p}`, own account; the platform"),
                                true,
                                held,
                                false,
                                true,
                                Some(*p),
                            )
                        } else if rule.starts_with("Rule::Scoped") {
                            (
                                format!("`{p}`, own account"),
                                true,
                                held,
                                false,
                                false,
                                Some(*p),
                            )
                        } else {
                            (format!("`{p}`"), true, held, false, false, None)
                        }
                    }
                    _ => panic!("{field}: a rule the matrix does not know: {rule}"),
                };
            let mark = |yes: bool| if yes { "yes" } else { "" };
            table.push_str(&format!("| `{field}` | {needs} | {} |", mark(superuser)));
            for yes in group {
                table.push_str(&format!(" {} |", mark(yes)));
            }
            table.push_str(&format!(" {} | {} |", mark(no_group), mark(service)));
            for role in TENANT_ROLES {
                let role: UserRole = role.parse().expect("a role");
                let yes = tenant.is_some_and(|p| role.permissions().contains(&p));
                table.push_str(&format!(" {} |", mark(yes)));
            }
            table.push('\n');
        }
        let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&readme_path).expect("README");
        const BEGIN: &str = "<!-- access-matrix:begin (generated by api/src/graphql/mod.rs; UPDATE_README=1 cargo test -p api the_readme_access_matrix) -->\n";
        const END: &str = "<!-- access-matrix:end -->";
        let (before, rest) = readme
            .split_once(BEGIN)
            .expect("the README has the matrix's begin marker");
        let (current, after) = rest
            .split_once(END)
            .expect("the README has the matrix's end marker");
        if current != table {
            if std::env::var_os("UPDATE_README").is_some() {
                std::fs::write(&readme_path, format!("{before}{BEGIN}{table}{END}{after}"))
                    .expect("README written");
            } else {
                panic!("the README's access matrix is out of date; run UPDATE_README=1 cargo test -p api the_readme_access_matrix. It should read:\n{table}");
            }
        }
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }
}

//! The people of tenant accounts: search, filter by role and status, and each person's
//! changes (activate, deactivate, role, email, password reset, ownership, delete, restore). An account's own admins see only their account's people.

use crate::console::page::{self, count, field, when, words, Forms, Section};
use crate::console::{act, ask, Answer, Params, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Map};

const QUERY: &str = "query($after: String, $filter: PlatformUserFilter) { \
    platformUsers(first: 25, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id accountId email name role status emailVerified joinedAt } } }";

const ROLES: [&str; 4] = ["OWNER", "ADMIN", "EDITOR", "VIEWER"];

pub async fn list(State(state): State<AppState>, visitor: Visitor, params: Params) -> Answer {
    visitor.require(Rule::Scoped(Permission::UsersRead), "the accounts' people")?;
    let mut filter = Map::new();
    if let Some(search) = params.one("search") {
        filter.insert("search".into(), json!(search));
    }
    if let Some(role) = params.one("role") {
        filter.insert("role".into(), json!([role]));
    }
    let variables = json!({ "after": params.one("after"), "filter": filter });
    let data = ask(&state, &visitor, QUERY, variables).await?;
    let users = &data["platformUsers"];
    let nodes = users["nodes"].as_array().cloned().unwrap_or_default();
    let base = params.base("/users");
    let forms = Forms::new(&visitor, act::catalog(&state).await, &base, &[]);
    let body = html! {
        form method="get" action="/users" class="filters" role="search" {
            label class="field" { span { "Search" } input type="search" name="search" value=[params.one("search")] placeholder="name or email"; }
            label class="field" { span { "Role" }
                select name="role" {
                    option value="" { "any" }
                    @for role in ROLES { option value=(role) selected[params.one("role").as_deref() == Some(role)] { (words(role)) } }
                }
            }
            button type="submit" { "Filter" }
        }
        p { strong { (count(users["totalCount"].as_i64().unwrap_or(0))) } " people." }
        (page::table("users", &nodes, &[
            ("Person", &|u| html! { (field(u, "name")) br; span class="muted" { (field(u, "email")) } }),
            ("Account", &|u| html! { a href={ "/accounts/" (field(u, "accountId")) } { (field(u, "accountId")) } }),
            ("Role", &|u| html! { (words(&field(u, "role"))) }),
            ("Status", &|u| html! { (words(&field(u, "status"))) @if u["emailVerified"] != true { " (email not verified)" } }),
            ("Joined", &|u| html! { (when(&field(u, "joinedAt"))) }),
            ("", &|u| {
                let id = field(u, "id");
                let given = [("userId", id.as_str())];
                let forms = forms.given(&given);
                let active = u["status"] == "ACTIVE";
                let deleted = u["status"] == "DELETED";
                html! {
                    div class="actions" {
                        @if deleted {
                            (forms.offer("restorePlatformUser", "Restore", "Restored."))
                        } @else {
                            @if active {
                                (forms.confirming("deactivatePlatformUser", "Deactivate", "Deactivated: their tokens stop working.",
                                                  "Deactivate this person? Their tokens stop working."))
                            } @else {
                                (forms.offer("activatePlatformUser", "Activate", "Activated."))
                            }
                            (forms.offer("changePlatformUserRole", "Change the role", "Role changed."))
                            @if u["emailVerified"] != true { (forms.offer("verifyPlatformUserEmail", "Mark the email verified", "Email verified.")) }
                            (forms.offer("requestPlatformUserPasswordReset", "Send a password reset", "Password reset requested."))
                            @if u["role"] != "OWNER" {
                                (forms.confirming("transferAccountOwnership", "Make the owner", "Ownership transferred.",
                                                  "Make this person the account's owner? The current owner becomes an admin."))
                            }
                            (forms.confirming("deletePlatformUser", "Delete", "Deleted.", "Delete this person?"))
                        }
                    }
                }
            }),
        ]))
        (page::pager(&base, &users["pageInfo"]))
    };
    Ok(page::page(&visitor, "People", Section::Users, body))
}

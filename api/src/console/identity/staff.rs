//! The staff: operators with their groups and permissions, and the permission groups with
//! their members and permissions, managed by superusers. Tokens are issued by the CLI or
//! GraphQL, never shown here.

use crate::console::page::{self, field, when, Forms, Section};
use crate::console::{act, ask, Answer, Visitor};
use crate::graphql::Rule;
use crate::http::AppState;
use axum::extract::State;
use domain::identity::permission::Permission;
use maud::html;
use serde_json::{json, Value};

const QUERY: &str =
    "{ operators(first: 100) { nodes { id email displayName superuser service createdAt \
      groups { name } tokens { label createdAt revokedAt } } } \
    permissionGroups { id name permissions memberIds } }";

pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Answer {
    visitor.require(Rule::Can(Permission::OperatorsRead), "the staff")?;
    let data = ask(&state, &visitor, QUERY, json!({})).await?;
    let operators = data["operators"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let groups = data["permissionGroups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let forms = Forms::new(&visitor, act::catalog(&state).await, "/staff", &[]);
    let name_of = |id: &Value| -> String {
        operators
            .iter()
            .find(|o| o["id"] == *id)
            .map_or_else(|| page::json_cell(id), |o| field(o, "displayName"))
    };
    let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    let list = |values: &Value| -> String {
        values
            .as_array()
            .into_iter()
            .flatten()
            .map(page::json_cell)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let body = html! {
        h2 { "Operators" }
        (page::table("operators", &operators, &[
            ("Name", &|o| html! { (field(o, "displayName")) br; span class="muted" { (field(o, "email")) } br; code class="muted" { (field(o, "id")) } }),
            ("Kind", &|o| html! { (if o["superuser"] == true { "superuser" } else if o["service"] == true { "the platform's service" } else { "staff" }) }),
            ("Groups", &|o| html! { (o["groups"].as_array().into_iter().flatten().map(|g| field(g, "name")).collect::<Vec<_>>().join(", ")) }),
            ("Live tokens", &|o| html! { (o["tokens"].as_array().into_iter().flatten().filter(|t| t["revokedAt"].is_null()).count()) }),
            ("Since", &|o| html! { (when(&field(o, "createdAt"))) }),
        ]))
        (forms.offer("registerOperator", "Register an operator", "Operator registered; issue their token with the CLI or GraphQL."))
        h2 { "Permission groups" }
        (page::table("groups", &groups, &[
            ("Group", &|g| html! { (field(g, "name")) }),
            ("Permissions", &|g| html! { (list(&g["permissions"])) }),
            ("Members", &|g| html! {
                @for member in g["memberIds"].as_array().into_iter().flatten() {
                    (name_of(member)) br;
                }
            }),
            ("", &|g| {
                let id = field(g, "id");
                let given = [("groupId", id.as_str())];
                let forms = forms.given(&given);
                html! {
                    div class="actions" {
                        (forms.offer("addGroupMember", "Add a member", "Member added."))
                        (forms.confirming("removeGroupMember", "Remove a member", "Member removed.",
                                          "Remove this member? They lose the group's permissions at once."))
                        (forms.offer("grantGroupPermission", "Grant a permission", "Permission granted."))
                        (forms.confirming("revokeGroupPermission", "Revoke a permission", "Permission revoked.",
                                          "Revoke this permission from every member?"))
                    }
                }
            }),
        ]))
        (forms.offer("createPermissionGroup", "Create a group", "Group created."))
        @if Rule::Superuser.allows(&visitor.principal) {
            p class="muted" { "Permissions: " (known.join(", ")) "." }
        }
    };
    Ok(page::page(&visitor, "Staff", Section::Staff, body))
}

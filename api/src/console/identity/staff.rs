//! The staff: operators with their groups and permissions, and the permission groups. Tokens
//! are issued by the CLI or GraphQL, never shown here.

use crate::console::page::{self, field, when, Section};
use crate::console::{ask, Answer, Visitor};
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
            ("Name", &|o| html! { (field(o, "displayName")) br; span class="muted" { (field(o, "email")) } }),
            ("Kind", &|o| html! { (if o["superuser"] == true { "superuser" } else if o["service"] == true { "the platform's service" } else { "staff" }) }),
            ("Groups", &|o| html! { (o["groups"].as_array().into_iter().flatten().map(|g| field(g, "name")).collect::<Vec<_>>().join(", ")) }),
            ("Live tokens", &|o| html! { (o["tokens"].as_array().into_iter().flatten().filter(|t| t["revokedAt"].is_null()).count()) }),
            ("Since", &|o| html! { (when(&field(o, "createdAt"))) }),
        ]))
        h2 { "Permission groups" }
        (page::table("groups", &groups, &[
            ("Group", &|g| html! { (field(g, "name")) }),
            ("Permissions", &|g| html! { (list(&g["permissions"])) }),
            ("Members", &|g| html! { (g["memberIds"].as_array().map_or(0, Vec::len)) }),
        ]))
    };
    Ok(page::page(&visitor, "Staff", Section::Staff, body))
}

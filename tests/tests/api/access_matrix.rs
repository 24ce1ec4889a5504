//! The access matrix, tried for real: every query and mutation field of the schema (found by
//! introspection, so a new field is tried without anyone writing a case for it) is called by
//! every kind of principal, and the answer must be what the README's matrix says: refused with
//! `FORBIDDEN` (appending nothing), or not refused. Without a token, or with a revoked one,
//! every field is `UNAUTHENTICATED`.
//!
//! Arguments are filled from their types (a fresh id, `"x"`, `1`, an enum's first value, an
//! input object's required fields), so an allowed call may still fail, as `VALIDATION` or
//! `NOT_FOUND`: only a refusal counts here.

use crate::accounts::event_count;
use crate::helpers::{create_operator, create_service, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Fields whose resolver refuses some arguments on top of the field's rule ("your own tokens,
/// or anyone's as a superuser"): with another operator's id, an allowed principal is refused
/// by the resolver, which is right. Their guards are still checked for the others.
/// The same holds for a platform user's tokens (their own only), ownership (the owner's) and
/// the template library (staff's).
const FINER_RULES: &[&str] = &[
    "Mutation.issueOperatorToken",
    "Mutation.revokeOperatorToken",
    "Mutation.issuePlatformUserToken",
    "Mutation.revokePlatformUserToken",
    "Mutation.transferAccountOwnership",
    // Without an account, a template goes to the platform's library, which only staff change.
    "Mutation.createAuthorProfile",
    "Mutation.createContentStrategy",
];

/// Stands for an account id in the documents: the caller's own account for a platform user
/// (they act on their own account here), a fresh id for anyone else.
const OWN_ACCOUNT: &str = "__OWN_ACCOUNT__";

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

/// The README's matrix: field -> column -> allowed.
fn matrix() -> (Vec<String>, BTreeMap<String, BTreeMap<String, bool>>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let table = readme
        .split("<!-- access-matrix:begin")
        .nth(1)
        .and_then(|rest| rest.split("<!-- access-matrix:end -->").next())
        .expect("the README's access matrix");
    let mut lines = table.lines().filter(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect()
    };
    let header = cells(lines.next().expect("header"));
    lines.next();
    let columns: Vec<String> = header[2..].to_vec();
    let mut rows = BTreeMap::new();
    for line in lines {
        let cells = cells(line);
        let allowed = columns
            .iter()
            .zip(&cells[2..])
            .map(|(column, cell)| (column.clone(), cell == "yes"))
            .collect();
        rows.insert(cells[0].clone(), allowed);
    }
    (columns, rows)
}

/// A GraphQL literal of the named type, as a caller that knows nothing but the schema would
/// send it.
fn literal(types: &BTreeMap<String, Value>, ty: &Value) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => literal(types, &ty["ofType"]),
        "LIST" => format!("[{}]", literal(types, &ty["ofType"])),
        "ENUM" => {
            let name = ty["name"].as_str().unwrap();
            types[name]["enumValues"][0]["name"]
                .as_str()
                .unwrap()
                .to_string()
        }
        "INPUT_OBJECT" => {
            let name = ty["name"].as_str().unwrap();
            let fields = types[name]["inputFields"].as_array().unwrap();
            let required: Vec<&Value> = fields
                .iter()
                .filter(|f| f["type"]["kind"] == "NON_NULL")
                .collect();
            // A `@oneOf` input (or one with nothing required) gets its first field.
            let chosen = if required.is_empty() {
                fields.iter().take(1).collect()
            } else {
                required
            };
            let inner: Vec<String> = chosen.iter().map(|f| argument(types, f)).collect();
            format!("{{ {} }}", inner.join(", "))
        }
        _ => match ty["name"].as_str().unwrap() {
            "ID" | "UUID" => format!("\"{}\"", uuid::Uuid::new_v4()),
            "Int" => "1".into(),
            "Float" => "1.0".into(),
            "Boolean" => "false".into(),
            "DateTime" => "\"2026-01-01T00:00:00Z\"".into(),
            "NaiveDate" => "\"2026-01-01\"".into(),
            "JSON" => "{}".into(),
            _ => "\"x\"".into(),
        },
    }
}

/// `name: value` for an argument or input field.
fn argument(types: &BTreeMap<String, Value>, field: &Value) -> String {
    let name = field["name"].as_str().unwrap();
    let value = if name == "accountId" {
        format!("\"{OWN_ACCOUNT}\"")
    } else {
        literal(types, &field["type"])
    };
    format!("{name}: {value}")
}

/// The innermost named type of a type reference.
fn named(ty: &Value) -> &Value {
    if ty["ofType"].is_object() {
        named(&ty["ofType"])
    } else {
        ty
    }
}

/// One call of each query and mutation field, as `(field, document)`.
async fn calls(app: &TestApp) -> Vec<(String, String)> {
    let body = app
        .graphql(
            &format!(
                "{{ __schema {{ \
                   queryType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }} \
                   mutationType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }} \
                   types {{ name kind enumValues {{ name }} inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let schema = &body["data"]["__schema"];
    let types: BTreeMap<String, Value> = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect();
    let mut calls = Vec::new();
    for (root, keyword) in [("queryType", "query"), ("mutationType", "mutation")] {
        for field in schema[root]["fields"].as_array().unwrap() {
            let name = field["name"].as_str().unwrap();
            let args: Vec<String> = field["args"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["type"]["kind"] == "NON_NULL")
                .map(|a| argument(&types, a))
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let selection = match named(&field["type"])["kind"].as_str().unwrap() {
                "OBJECT" | "INTERFACE" | "UNION" => " { __typename }",
                _ => "",
            };
            let title = if keyword == "query" {
                "Query"
            } else {
                "Mutation"
            };
            calls.push((
                format!("{title}.{name}"),
                format!("{keyword} {{ {name}{args}{selection} }}"),
            ));
        }
    }
    calls
}

/// A token of a user of `account` with `role` (the owner first, if the account has none).
pub async fn platform_user_token(app: &TestApp, account: &str, role: &str) -> String {
    use crate::platform_users::add_as;
    let owner_email = format!("owner@{account}.example");
    let owner = add_as(app, &app.token, account, &owner_email, "OWNER", false).await;
    let user = if role == "owner" {
        owner
    } else {
        let email = format!("{role}@{account}.example");
        add_as(
            app,
            &app.token,
            account,
            &email,
            &role.to_uppercase(),
            false,
        )
        .await
    };
    let user_id = user["data"]["addPlatformUser"]["user"]["id"].clone();
    assert!(user_id.is_string(), "{user}");
    user_token(app, &user_id).await
}

/// A token of a new operator whom the superuser put in the built-in group `group`.
pub async fn staff_in_group(app: &TestApp, email: &str, group: &str) -> String {
    let token = create_operator(&app.db.settings(), email, false).await;
    let (_, me) = app
        .graphql_as(Some(&token), "{ me { id } }", json!({}))
        .await;
    let groups = app
        .graphql("{ permissionGroups { id name } }", json!({}))
        .await;
    let group_id = groups["data"]["permissionGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .unwrap_or_else(|| panic!("no group {group}"))["id"]
        .clone();
    let added = app
        .graphql(
            "mutation($input: GroupMemberInput!) { addGroupMember(input: $input) { position } }",
            json!({ "input": { "groupId": group_id, "operatorId": me["data"]["me"]["id"], "reason": "joined" } }),
        )
        .await;
    assert!(added["errors"].is_null(), "{added}");
    token
}

/// A fresh token for a platform user, issued by the superuser.
pub async fn user_token(app: &TestApp, user_id: &Value) -> String {
    let issued = app
        .graphql(
            "mutation($input: IssuePlatformUserTokenInput!) { issuePlatformUserToken(input: $input) { token } }",
            json!({ "input": { "userId": user_id, "label": "test" } }),
        )
        .await;
    issued["data"]["issuePlatformUserToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issued}"))
        .to_string()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn every_field_answers_each_kind_of_principal_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let settings = app.db.settings();
    let (columns, matrix) = matrix();

    // One principal per column: the superuser, an operator in each built-in group, one in no
    // group, and the platform's service principal.
    let tenant = crate::accounts::open_account(&app, "tenant-a").await;
    // Account B, with people and credits, which account A's people must never reach.
    let other = crate::accounts::open_account(&app, "tenant-b-secret").await;
    crate::accounts::adjust(&app, &other, 100, "opening balance").await;
    platform_user_token(&app, &other, "admin").await;
    let mut principals: Vec<(String, String)> = Vec::new();
    for column in &columns {
        let token = match column.as_str() {
            role if role.starts_with("account ") => {
                platform_user_token(&app, &tenant, role.trim_start_matches("account ")).await
            }
            "superuser" => app.token.clone(),
            "platform service" => create_service(&settings, "platform@igny8.com").await,
            "in no group" => create_operator(&settings, "nobody@example.com", false).await,
            group => {
                let email = format!("{}@example.com", group.replace(' ', ".").to_lowercase());
                staff_in_group(&app, &email, group).await
            }
        };
        principals.push((column.clone(), token));
    }

    // A revoked token: issued, then revoked by the superuser.
    let revoked = create_operator(&settings, "revoked@example.com", false).await;
    let (_, me) = app
        .graphql_as(Some(&revoked), "{ me { id operator: id } }", json!({}))
        .await;
    let revoked_id = me["data"]["me"]["id"].clone();
    let token_id: String = sqlx::query_scalar(
        "SELECT token_id::text FROM read.operator_tokens WHERE operator_id = $1::uuid",
    )
    .bind(revoked_id.as_str().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let body = app
        .graphql(
            "mutation($input: RevokeOperatorTokenInput!) { revokeOperatorToken(input: $input) { position } }",
            json!({ "input": { "operatorId": revoked_id, "tokenId": token_id, "reason": "left" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    let calls = calls(&app).await;
    assert!(calls.len() > 35, "introspection found the fields");
    let mut tried = 0;
    for (field, document) in &calls {
        let allowed = matrix
            .get(field)
            .unwrap_or_else(|| panic!("{field} is not in the README's access matrix"));
        for token in [None, Some(revoked.as_str())] {
            let document = document.replace(OWN_ACCOUNT, &tenant);
            let (_, body) = app.graphql_as(token, &document, json!({})).await;
            assert_eq!(
                code(&body),
                Some("UNAUTHENTICATED"),
                "{field} without a valid token: {body}"
            );
        }
        for (column, token) in &principals {
            if column.starts_with("account ") {
                // Acting on account B: nothing of B comes back, and nothing is appended.
                let document = document.replace(OWN_ACCOUNT, &other);
                let before = event_count(&app).await;
                let (_, body) = app.graphql_as(Some(token), &document, json!({})).await;
                let text = body.to_string();
                // (B's id is in the request; an answer that repeats it has found B.)
                assert!(
                    !text.contains("tenant-b-secret") && !text.contains(other.as_str()),
                    "{field} as {column} on account B leaked: {document} -> {body}"
                );
                assert_ne!(code(&body), Some("INTERNAL"), "{field} as {column}: {body}");
                assert_eq!(
                    event_count(&app).await,
                    before,
                    "{field} as {column} on account B appended: {document} -> {body}"
                );
            }
            let account = if column.starts_with("account ") {
                tenant.clone()
            } else {
                uuid::Uuid::new_v4().to_string()
            };
            let document = document.replace(OWN_ACCOUNT, &account);
            let document = document.as_str();
            let before = event_count(&app).await;
            let (_, body) = app.graphql_as(Some(token), document, json!({})).await;
            tried += 1;
            if allowed[column] {
                if !FINER_RULES.contains(&field.as_str()) {
                    assert_ne!(
                        code(&body),
                        Some("FORBIDDEN"),
                        "{field} as {column} is allowed by the matrix: {document} -> {body}"
                    );
                }
                assert_ne!(
                    code(&body),
                    Some("INTERNAL"),
                    "{field} as {column}: {document} -> {body}"
                );
            } else {
                assert_eq!(
                    code(&body),
                    Some("FORBIDDEN"),
                    "{field} as {column} is refused by the matrix: {document} -> {body}"
                );
                assert!(
                    body["data"].is_null()
                        || body["data"][field.split('.').nth(1).unwrap()].is_null(),
                    "{field} as {column}: {body}"
                );
                assert_eq!(
                    event_count(&app).await,
                    before,
                    "{field} as {column} appended"
                );
            }
        }
    }
    assert_eq!(tried, calls.len() * principals.len());
}

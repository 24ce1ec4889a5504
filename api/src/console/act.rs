//! `POST /act`: every button of the console that changes something.
//!
//! A form names a mutation (`_mutation`) and carries the fields of its `input`; this turns
//! the fields into the input object the schema declares (read once from the schema by
//! introspection, so a form's `credits` becomes an `Int` and checked boxes a list) and runs
//! the mutation as the visitor. The console thus has no write path of its own: the same
//! guards, the same validation, the same codes and messages, the same events with the
//! visitor as actor. Then back to the page the form was on, which shows what happened (beside
//! the form, for a refusal); a bulk action answers with its per-item results instead.

use super::page::{self, Section};
use super::session::{garbled, is_local, Flash, Visitor};
use crate::http::{code_of, execute_as, AppState};
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::sync::OnceCell;

/// What the schema says of its mutations' inputs.
struct Catalog {
    mutations: HashMap<String, Signature>,
    inputs: HashMap<String, Vec<(String, TypeRef)>>,
}

struct Signature {
    /// The `input` argument's type.
    input: TypeRef,
    /// The name of the type it answers with.
    answers: String,
}

#[derive(Debug, Clone)]
enum TypeRef {
    NonNull(Box<TypeRef>),
    List(Box<TypeRef>),
    Named { kind: String, name: String },
}

impl TypeRef {
    fn parse(value: &Value) -> Option<Self> {
        let inner = || Self::parse(&value["ofType"]).map(Box::new);
        match value["kind"].as_str()? {
            "NON_NULL" => Some(Self::NonNull(inner()?)),
            "LIST" => Some(Self::List(inner()?)),
            kind => Some(Self::Named {
                kind: kind.to_string(),
                name: value["name"].as_str()?.to_string(),
            }),
        }
    }

    /// As GraphQL writes it: `[ID!]!`.
    fn written(&self) -> String {
        match self {
            Self::NonNull(inner) => format!("{}!", inner.written()),
            Self::List(inner) => format!("[{}]", inner.written()),
            Self::Named { name, .. } => name.clone(),
        }
    }

    fn named(&self) -> (&str, &str) {
        match self {
            Self::NonNull(inner) | Self::List(inner) => inner.named(),
            Self::Named { kind, name } => (kind, name),
        }
    }
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

static CATALOG: OnceCell<Catalog> = OnceCell::const_new();

async fn catalog(state: &AppState) -> &'static Catalog {
    CATALOG
        .get_or_init(|| async {
            let query = format!(
                "{{ __schema {{ mutationType {{ fields {{ name type {{ {TYPE_REF} }} \
                 args {{ name type {{ {TYPE_REF} }} }} }} }} \
                 types {{ kind name inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}"
            );
            let data = state
                .schema
                .execute(async_graphql::Request::new(query))
                .await
                .data
                .into_json()
                .unwrap_or_default();
            let schema = &data["__schema"];
            let mutations = schema["mutationType"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|field| {
                    let input = field["args"]
                        .as_array()?
                        .iter()
                        .find(|arg| arg["name"] == "input")?;
                    let signature = Signature {
                        input: TypeRef::parse(&input["type"])?,
                        answers: TypeRef::parse(&field["type"])?.named().1.to_string(),
                    };
                    Some((field["name"].as_str()?.to_string(), signature))
                })
                .collect();
            let inputs = schema["types"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["kind"] == "INPUT_OBJECT")
                .filter_map(|t| {
                    let fields = t["inputFields"]
                        .as_array()?
                        .iter()
                        .filter_map(|f| {
                            Some((f["name"].as_str()?.to_string(), TypeRef::parse(&f["type"])?))
                        })
                        .collect();
                    Some((t["name"].as_str()?.to_string(), fields))
                })
                .collect();
            Catalog { mutations, inputs }
        })
        .await
}

/// A form field the console fills itself (prefixed `_`), or one of the mutation's input.
fn own(name: &str) -> bool {
    name.starts_with('_')
}

pub async fn act(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return garbled();
    };
    let value = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let visitor = match Visitor::posting(&state, &headers, value("_csrf")).await {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    let back = value("_back").filter(|b| is_local(b)).unwrap_or("/");
    let form = value("_form").map(str::to_string);
    let catalog = catalog(&state).await;
    let Some(name) = value("_mutation") else {
        return page::refusal(StatusCode::BAD_REQUEST, "This form names no action.");
    };
    let Some(signature) = catalog.mutations.get(name) else {
        return page::refusal(
            StatusCode::BAD_REQUEST,
            &format!("The console has no action `{name}`."),
        );
    };
    let refuse = |text: String, code: Option<&str>, field: Option<String>| Flash {
        refused: true,
        text,
        form: form.clone(),
        field,
        code: code.map(str::to_string),
    };
    let input = match input_of(
        catalog,
        signature.input.named().1,
        "",
        &fields,
        value("_key"),
    ) {
        Ok(input) => input,
        Err((message, field)) => {
            let flash = refuse(message, Some("VALIDATION"), Some(field));
            return back_with(&state, &visitor, back, &flash).await;
        }
    };
    let bulk = signature.answers == "BulkResult";
    let selection = if bulk {
        "bulkKey done noOp refused caughtUp items { id outcome code message replayed } \
         job { id total status }"
    } else {
        "__typename"
    };
    let document = format!(
        "mutation Console($input: {}) {{ result: {name}(input: $input) {{ {selection} }} }}",
        signature.input.written()
    );
    let request = async_graphql::Request::new(document).variables(
        async_graphql::Variables::from_json(json!({ "input": input })),
    );
    let client = Some(peer.ip().to_string());
    let response = execute_as(&state, visitor.principal.clone(), client, request).await;
    if let Some(error) = response.errors.first() {
        let field = named_field(&error.message, &fields);
        let flash = refuse(error.message.clone(), Some(code_of(error).as_str()), field);
        return back_with(&state, &visitor, back, &flash).await;
    }
    let data = response.data.into_json().unwrap_or_default();
    if bulk {
        return bulk_results(&visitor, name, back, &data["result"]);
    }
    let flash = Flash {
        refused: false,
        text: value("_done").unwrap_or("Done.").to_string(),
        form,
        field: None,
        code: None,
    };
    back_with(&state, &visitor, back, &flash).await
}

/// Back to the page the form was on, which shows `flash` once.
async fn back_with(state: &AppState, visitor: &Visitor, back: &str, flash: &Flash) -> Response {
    visitor.say(state, flash).await;
    Redirect::to(back).into_response()
}

/// The input object of type `type_name` from the form's fields named `<prefix><field>`,
/// coerced to the types the schema declares. `_key`, the form's own random key, is the
/// idempotency (or bulk) key, so sending the same form twice does its work once.
fn input_of(
    catalog: &Catalog,
    type_name: &str,
    prefix: &str,
    fields: &[(String, String)],
    key: Option<&str>,
) -> Result<Value, (String, String)> {
    let declared = catalog
        .inputs
        .get(type_name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if prefix.is_empty() {
        if let Some((unknown, _)) = fields.iter().find(|(name, _)| {
            !own(name)
                && !declared
                    .iter()
                    .any(|(field, _)| name == field || name.starts_with(&format!("{field}.")))
        }) {
            return Err((
                format!("the form sent `{unknown}`, which this action does not take"),
                unknown.clone(),
            ));
        }
    }
    let mut object = Map::new();
    for (field, type_ref) in declared {
        let name = format!("{prefix}{field}");
        let required = matches!(type_ref, TypeRef::NonNull(_));
        let inner = match type_ref {
            TypeRef::NonNull(inner) => inner.as_ref(),
            other => other,
        };
        let values: Vec<&str> = fields
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        let value = match inner {
            TypeRef::List(item) => {
                let items = values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .map(|v| scalar(item.named(), v, &name))
                    .collect::<Result<Vec<_>, _>>()?;
                (!items.is_empty() || required).then_some(Value::Array(items))
            }
            TypeRef::Named { kind, name: nested } if kind == "INPUT_OBJECT" => {
                let nested_prefix = format!("{name}.");
                let any = fields
                    .iter()
                    .any(|(n, v)| n.starts_with(&nested_prefix) && !v.is_empty());
                if any {
                    Some(input_of(catalog, nested, &nested_prefix, fields, None)?)
                } else {
                    None
                }
            }
            TypeRef::Named {
                kind,
                name: scalar_name,
            } => match values.first() {
                Some(v) if !v.is_empty() || (required && scalar_name == "String") => {
                    Some(scalar((kind, scalar_name), v, &name)?)
                }
                _ if prefix.is_empty() && (field == "idempotencyKey" || field == "bulkKey") => {
                    key.map(|key| Value::String(key.to_string()))
                }
                _ => None,
            },
            TypeRef::NonNull(_) => None,
        };
        if let Some(value) = value {
            object.insert(field.clone(), value);
        }
    }
    Ok(Value::Object(object))
}

/// One form value as the scalar or enum the schema declares.
fn scalar((kind, name): (&str, &str), value: &str, field: &str) -> Result<Value, (String, String)> {
    let value = value.trim();
    let wrong = |what: &str| (format!("`{field}` must be {what}"), field.to_string());
    match (kind, name) {
        ("SCALAR", "Int") => value
            .replace([',', '_', ' '], "")
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong("a whole number")),
        ("SCALAR", "Float") => value
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| wrong("a number")),
        ("SCALAR", "Boolean") => match value {
            "true" | "on" | "yes" => Ok(Value::Bool(true)),
            "false" | "off" | "no" => Ok(Value::Bool(false)),
            _ => Err(wrong("yes or no")),
        },
        _ => Ok(Value::String(value.to_string())),
    }
}

/// The form field a refusal is about, when its message names one (`reason`, "amount").
fn named_field(message: &str, fields: &[(String, String)]) -> Option<String> {
    fields
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !own(name))
        .find(|name| {
            let last = name.rsplit('.').next().unwrap_or(name);
            message.contains(&format!("`{last}`")) || message.contains(&format!("\"{last}\""))
        })
        .cloned()
}

/// The answer to a bulk action: each item's outcome, or the job carrying them out.
fn bulk_results(visitor: &Visitor, mutation: &str, back: &str, result: &Value) -> Response {
    let items = result["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p class="summary" {
            strong { (result["done"]) } " done, "
            strong { (result["noOp"]) } " already so, "
            strong { (result["refused"]) } " refused."
            @if result["caughtUp"] == Value::Bool(false) {
                " The lists may take a moment to show every change."
            }
        }
        @if result["job"].is_object() {
            p {
                "The items run as a job in the background: "
                a href={ "/jobs/" (page::json_cell(&result["job"]["id"])) } { "follow its progress" } "."
            }
        }
        @if !items.is_empty() {
            table class="results" {
                thead { tr { th { "Item" } th { "Outcome" } th { "Code" } th { "Message" } } }
                tbody {
                    @for item in &items {
                        tr class={ "outcome-" (page::json_cell(&item["outcome"]).to_lowercase()) } {
                            td { code { (page::json_cell(&item["id"])) } }
                            td { (page::words(&page::json_cell(&item["outcome"]))) @if item["replayed"] == Value::Bool(true) { " (earlier try)" } }
                            td { @if let Some(code) = item["code"].as_str() { code { (code) } } }
                            td { (item["message"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        p { a href=(back) { "Back" } }
    };
    let title = format!("Results of {}", page::words(&camel_to_snake(mutation)));
    page::page(visitor, &title, Section::None, body)
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: &str, name: &str) -> TypeRef {
        TypeRef::Named {
            kind: kind.into(),
            name: name.into(),
        }
    }

    #[test]
    fn form_fields_become_the_input_the_schema_declares() {
        let catalog = Catalog {
            mutations: HashMap::new(),
            inputs: HashMap::from([(
                "BulkInput".to_string(),
                vec![
                    (
                        "ids".into(),
                        TypeRef::List(Box::new(TypeRef::NonNull(Box::new(named("SCALAR", "ID"))))),
                    ),
                    (
                        "amount".into(),
                        TypeRef::NonNull(Box::new(named("SCALAR", "Int"))),
                    ),
                    (
                        "reason".into(),
                        TypeRef::NonNull(Box::new(named("SCALAR", "String"))),
                    ),
                    ("note".into(), named("SCALAR", "String")),
                    (
                        "bulkKey".into(),
                        TypeRef::NonNull(Box::new(named("SCALAR", "String"))),
                    ),
                ],
            )]),
        };
        let fields: Vec<(String, String)> = [
            ("_csrf", "x"),
            ("ids", "a"),
            ("ids", "b"),
            ("amount", "1,500"),
            ("reason", ""),
            ("note", ""),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let input = input_of(&catalog, "BulkInput", "", &fields, Some("k1")).unwrap();
        assert_eq!(
            input,
            json!({ "ids": ["a", "b"], "amount": 1500, "reason": "", "bulkKey": "k1" })
        );

        let bad = [("amount".to_string(), "lots".to_string())];
        let (message, field) = input_of(&catalog, "BulkInput", "", &bad, None).unwrap_err();
        assert_eq!(
            (message.as_str(), field.as_str()),
            ("`amount` must be a whole number", "amount")
        );

        let unknown = [("credits".to_string(), "5".to_string())];
        let (message, _) = input_of(&catalog, "BulkInput", "", &unknown, None).unwrap_err();
        assert_eq!(
            message,
            "the form sent `credits`, which this action does not take"
        );
    }

    #[test]
    fn a_refusal_is_shown_beside_the_field_it_names() {
        let fields = vec![
            ("_csrf".to_string(), "x".to_string()),
            ("reason".to_string(), String::new()),
        ];
        assert_eq!(
            named_field("`reason` must not be empty", &fields).as_deref(),
            Some("reason")
        );
        assert_eq!(named_field("the payment is not pending", &fields), None);
    }
}

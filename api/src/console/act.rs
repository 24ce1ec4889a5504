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
use crate::graphql::Rule;
use crate::http::{code_of, execute_as, AppState};
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::identity::permission::Permission::*;
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use tokio::sync::OnceCell;

/// What the schema says of its mutations' inputs.
pub struct Catalog {
    mutations: HashMap<String, Signature>,
    inputs: HashMap<String, Vec<InputField>>,
    /// Each enum's values, for the choices of a form.
    enums: HashMap<String, Vec<String>>,
    /// The mutations' answers that carry `caughtUp`.
    telling: HashSet<String>,
}

struct InputField {
    name: String,
    type_ref: TypeRef,
    /// The schema's description of the field, shown as help beside it.
    description: Option<String>,
    /// Whether the schema has a default for it, so a form may leave it out.
    defaulted: bool,
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

/// The schema's mutations and inputs, read once by introspection.
pub async fn catalog(state: &AppState) -> &'static Catalog {
    CATALOG
        .get_or_init(|| async {
            let query = format!(
                "{{ __schema {{ mutationType {{ fields {{ name type {{ {TYPE_REF} }} \
                 args {{ name type {{ {TYPE_REF} }} }} }} }} \
                 types {{ kind name enumValues {{ name }} fields {{ name }} \
                   inputFields {{ name description defaultValue type {{ {TYPE_REF} }} }} }} }} }}"
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
                            Some(InputField {
                                name: f["name"].as_str()?.to_string(),
                                type_ref: TypeRef::parse(&f["type"])?,
                                description: f["description"].as_str().map(str::to_string),
                                defaulted: !f["defaultValue"].is_null(),
                            })
                        })
                        .collect();
                    Some((t["name"].as_str()?.to_string(), fields))
                })
                .collect();
            let enums = schema["types"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["kind"] == "ENUM")
                .filter_map(|t| {
                    let values = t["enumValues"]
                        .as_array()?
                        .iter()
                        .filter_map(|v| v["name"].as_str().map(str::to_string))
                        .collect();
                    Some((t["name"].as_str()?.to_string(), values))
                })
                .collect();
            // The answers that say whether the lists already show the change.
            let telling = schema["types"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["fields"]
                        .as_array()
                        .is_some_and(|fields| fields.iter().any(|f| f["name"] == "caughtUp"))
                })
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect();
            Catalog {
                mutations,
                inputs,
                enums,
                telling,
            }
        })
        .await
}

impl Catalog {
    /// Form controls for `mutation`'s input as the schema declares it: the `given` fields
    /// hidden with their values (what the page knows, such as its account's id), the keys left
    /// to the form, and every other field a labelled control of its type, required when the
    /// schema requires it, with the schema's description as help.
    pub fn controls(&self, mutation: &str, given: &[(&str, &str)]) -> Markup {
        match self.mutations.get(mutation) {
            Some(signature) => self.fields(signature.input.named().1, "", given, false),
            None => {
                html! { p class="field-error" { "This build has no action `" (mutation) "`." } }
            }
        }
    }

    /// The fields of input type `type_name`, named `<prefix><field>`; inside an optional
    /// object none is required, so the object may be left out whole.
    fn fields(
        &self,
        type_name: &str,
        prefix: &str,
        given: &[(&str, &str)],
        optional: bool,
    ) -> Markup {
        let declared = self
            .inputs
            .get(type_name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        html! {
            @for field in declared {
                @let name = format!("{prefix}{}", field.name);
                @if let Some((_, value)) = given.iter().find(|(given, _)| *given == name) {
                    input type="hidden" name=(name) value=(value);
                } @else if !(prefix.is_empty() && KEYS.contains(&field.name.as_str())) {
                    (self.control(&name, field, given, optional))
                }
            }
        }
    }

    fn control(
        &self,
        name: &str,
        field: &InputField,
        given: &[(&str, &str)],
        optional: bool,
    ) -> Markup {
        let (required, inner) = match &field.type_ref {
            TypeRef::NonNull(inner) => (!field.defaulted && !optional, inner.as_ref()),
            other => (false, other),
        };
        let label = label_of(&field.name);
        let help = field.description.as_deref();
        let (kind, type_name) = inner.named();
        let control = match (inner, kind) {
            (TypeRef::Named { .. }, "INPUT_OBJECT") => {
                return html! {
                    fieldset {
                        legend { (label) @if !required { " (optional)" } }
                        @if let Some(help) = help { p class="help" { (help) } }
                        (self.fields(type_name, &format!("{name}."), given, !required))
                    }
                };
            }
            (TypeRef::List(_), "ENUM") => html! {
                select name=(name) multiple size=(self.enum_values(type_name).len().min(6)) {
                    @for value in self.enum_values(type_name) { option value=(value) { (page::words(value)) } }
                }
            },
            (TypeRef::List(_), "INPUT_OBJECT") => html! {
                textarea name=(name) rows="4" cols="60" required[required] placeholder="[{ … }] as JSON" {}
            },
            (TypeRef::List(_), _) => html! {
                textarea name=(name) rows="3" cols="40" required[required] placeholder="one per line" {}
            },
            (_, "ENUM") => html! {
                select name=(name) required[required] {
                    @if !required { option value="" { "—" } }
                    @for value in self.enum_values(type_name) { option value=(value) { (page::words(value)) } }
                }
            },
            (_, _) => match type_name {
                "Int" => html! { input type="number" step="1" name=(name) required[required]; },
                "Float" => html! { input type="number" step="any" name=(name) required[required]; },
                "Boolean" => html! {
                    select name=(name) required[required] {
                        @if !required { option value="" { "—" } }
                        option value="true" { "yes" } option value="false" { "no" }
                    }
                },
                "JSON" => {
                    html! { textarea name=(name) rows="4" cols="60" required[required] placeholder="{ … } as JSON" {} }
                }
                "DateTime" => {
                    html! { input type="text" name=(name) required[required] placeholder="2026-12-31T00:00:00Z" autocomplete="off"; }
                }
                // A secret is typed, never shown back, and never kept by the browser.
                _ if SECRETS.contains(&field.name.as_str()) => html! {
                    input type="password" name=(name) required[required] autocomplete="new-password";
                },
                _ if LONG_TEXT.contains(&field.name.as_str()) => html! {
                    textarea name=(name) rows="6" cols="70" required[required] {}
                },
                _ => html! { input type="text" name=(name) required[required] autocomplete="off"; },
            },
        };
        html! {
            label class="field" {
                span { (label) @if !required { " (optional)" } }
                (control)
                @if let Some(help) = help { span class="help" { (help) } }
            }
        }
    }

    fn enum_values(&self, name: &str) -> &[String] {
        self.enums.get(name).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Who may run each action the console can offer: the rule its GraphQL guard declares (a test
/// holds the two together), so that a page shows a form only to those it would not refuse.
/// Not here: what only the platform does, and the actions that answer with a token, which a
/// page never shows.
pub(crate) const OFFERED: &[(&str, Rule)] = &[
    ("acknowledgeAlert", Rule::Can(InsightRead)),
    ("activateAccount", Rule::Can(AccountsWrite)),
    ("activateCreditPackage", Rule::Can(BillingWrite)),
    ("activatePlan", Rule::Can(BillingWrite)),
    ("activatePlatformUser", Rule::Scoped(UsersWrite)),
    ("activateSubscription", Rule::Can(BillingWrite)),
    ("addGroupMember", Rule::Superuser),
    ("addInvoiceLine", Rule::Can(BillingWrite)),
    ("addPlatformUser", Rule::Scoped(UsersWrite)),
    ("adjustCredits", Rule::Can(CreditsAdjust)),
    ("applyLateFee", Rule::Can(BillingWrite)),
    ("approvePayment", Rule::Can(PaymentsApprove)),
    ("bulkAccountAction", Rule::Can(AccountsWrite)),
    ("bulkAdjustCredits", Rule::Can(CreditsAdjust)),
    ("bulkCreditPackageAction", Rule::Can(BillingWrite)),
    ("bulkInvoiceAction", Rule::Can(BillingWrite)),
    ("bulkPaymentAction", Rule::Can(PaymentsApprove)),
    ("bulkPlanAction", Rule::Can(BillingWrite)),
    ("bulkPromptAction", Rule::Can(PromptsWrite)),
    ("bulkResetAiSettings", Rule::Can(AiSettingsWrite)),
    ("bulkResetPromptsToDefault", Rule::Can(PromptsWrite)),
    ("bulkSubscriptionAction", Rule::Can(BillingWrite)),
    ("bulkTemplateAction", Rule::Can(ContentWrite)),
    ("cancelBulkJob", Rule::Staff),
    ("cancelInvoice", Rule::Can(BillingWrite)),
    ("cancelSubscription", Rule::Can(BillingWrite)),
    ("changeAccountPlan", Rule::Can(BillingWrite)),
    ("changeAlertRule", Rule::Superuser),
    ("changePlatformUserRole", Rule::Scoped(UsersWrite)),
    ("changeTemplateStatus", Rule::Scoped(ContentWrite)),
    ("clonePlan", Rule::Superuser),
    ("cloneTemplate", Rule::Scoped(ContentWrite)),
    ("configureAiProvider", Rule::Can(SettingsGlobal)),
    ("createAuthorProfile", Rule::Scoped(ContentWrite)),
    ("createContentStrategy", Rule::Scoped(ContentWrite)),
    ("createCreditPackage", Rule::Can(BillingWrite)),
    ("createPermissionGroup", Rule::Superuser),
    ("createPrompt", Rule::Can(PromptsWrite)),
    ("customizePrompt", Rule::Scoped(PromptsWrite)),
    ("deactivateCreditPackage", Rule::Can(BillingWrite)),
    ("deactivatePlan", Rule::Can(BillingWrite)),
    ("deactivatePlatformUser", Rule::Scoped(UsersWrite)),
    ("defineAlertRule", Rule::Superuser),
    ("deleteAccount", Rule::Can(AccountsWrite)),
    ("deletePlatformUser", Rule::Scoped(UsersWrite)),
    ("disableAlertRule", Rule::Superuser),
    ("downgradeSubscription", Rule::Can(BillingWrite)),
    ("draftInvoice", Rule::Can(BillingWrite)),
    ("enableAlertRule", Rule::Superuser),
    ("grantGroupPermission", Rule::Superuser),
    ("issueInvoice", Rule::Can(BillingWrite)),
    ("markInvoicePaid", Rule::Can(BillingWrite)),
    ("markInvoicePending", Rule::Can(BillingWrite)),
    ("openAccount", Rule::Can(AccountsWrite)),
    ("overrideAiSettings", Rule::Scoped(AiSettingsWrite)),
    ("publishPromptVersion", Rule::Can(PromptsWrite)),
    ("recordPayment", Rule::Can(BillingWrite)),
    ("refundPayment", Rule::Can(PaymentsApprove)),
    ("registerOperator", Rule::Superuser),
    ("rejectPayment", Rule::Can(PaymentsApprove)),
    ("removeAiProviderKey", Rule::Can(SettingsGlobal)),
    ("removeGroupMember", Rule::Superuser),
    ("renameAccount", Rule::Can(AccountsWrite)),
    ("renewSubscription", Rule::Can(BillingWrite)),
    ("requestPlatformUserPasswordReset", Rule::Scoped(UsersWrite)),
    ("resetAiSettings", Rule::Scoped(AiSettingsWrite)),
    ("resetPromptToDefault", Rule::Scoped(PromptsWrite)),
    ("restoreAccount", Rule::Can(AccountsWrite)),
    ("restorePlatformUser", Rule::Scoped(UsersWrite)),
    ("reviseAuthorProfile", Rule::Scoped(ContentWrite)),
    ("reviseContentStrategy", Rule::Scoped(ContentWrite)),
    ("reviseCreditPackage", Rule::Can(BillingWrite)),
    ("revisePlan", Rule::Can(BillingWrite)),
    ("revokeGroupPermission", Rule::Superuser),
    ("revokeOperatorToken", Rule::Staff),
    ("revokePlatformUserToken", Rule::Scoped(UsersWrite)),
    ("savePromptVersion", Rule::Can(PromptsWrite)),
    ("sendInvoiceReminder", Rule::Can(BillingWrite)),
    ("setAiProviderKey", Rule::Can(SettingsGlobal)),
    ("setCreditCost", Rule::Can(BillingWrite)),
    ("snoozeAlert", Rule::Can(InsightRead)),
    ("startSubscription", Rule::Can(BillingWrite)),
    ("suspendAccount", Rule::Can(AccountsWrite)),
    ("transferAccountOwnership", Rule::Scoped(UsersWrite)),
    ("upgradeSubscription", Rule::Can(BillingWrite)),
    ("verifyPlatformUserEmail", Rule::Scoped(UsersWrite)),
    ("voidInvoice", Rule::Can(BillingWrite)),
    ("withdrawCreditCost", Rule::Can(BillingWrite)),
];

/// The rule of `mutation`, when the console offers it.
pub fn rule_of(mutation: &str) -> Option<Rule> {
    OFFERED
        .iter()
        .find(|(name, _)| *name == mutation)
        .map(|(_, rule)| *rule)
}

/// Input fields the form fills itself: its own random key, so a form sent twice acts once.
const KEYS: [&str; 2] = ["idempotencyKey", "bulkKey"];

/// Fields that hold a secret.
const SECRETS: [&str; 4] = ["apiKey", "password", "secret", "token"];

/// Text fields that hold more than a line.
const LONG_TEXT: [&str; 5] = ["text", "body", "description", "content", "instructions"];

/// A field's name as a label: `ownerEmail` is "Owner email".
fn label_of(name: &str) -> String {
    let spaced = camel_to_snake(name).replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
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
    } else if catalog.telling.contains(&signature.answers) {
        "caughtUp"
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
    let mut text = value("_done").unwrap_or("Done.").to_string();
    if data["result"]["caughtUp"] == Value::Bool(false) {
        text.push_str(" The pages may take a moment to show it.");
    }
    let flash = Flash {
        refused: false,
        text,
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
                    .any(|f| *name == f.name || name.starts_with(&format!("{}.", f.name)))
        }) {
            return Err((
                format!("the form sent `{unknown}`, which this action does not take"),
                unknown.clone(),
            ));
        }
    }
    let mut object = Map::new();
    for InputField {
        name: field,
        type_ref,
        ..
    } in declared
    {
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
            TypeRef::List(item) if item.named().0 == "INPUT_OBJECT" => {
                // A list of objects is written as one JSON array.
                match values.first().map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    Some(v) => Some(scalar(("SCALAR", "JSON"), v, &name)?),
                    None => required.then(|| Value::Array(Vec::new())),
                }
            }
            TypeRef::List(item) => {
                // A list comes as repeated fields (checkboxes) or as lines of one text box.
                let items = values
                    .iter()
                    .flat_map(|v| v.lines())
                    .map(str::trim)
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
                _ if prefix.is_empty() && KEYS.contains(&field.as_str()) => {
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
        // Structured values (a template's sections, an invoice's lines) are written as JSON.
        ("SCALAR", "JSON") | ("INPUT_OBJECT", _) => {
            serde_json::from_str(value).map_err(|e| wrong(&format!("JSON ({e})")))
        }
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

    fn non_null(inner: TypeRef) -> TypeRef {
        TypeRef::NonNull(Box::new(inner))
    }

    fn input(name: &str, type_ref: TypeRef) -> InputField {
        InputField {
            name: name.into(),
            type_ref,
            description: None,
            defaulted: false,
        }
    }

    #[test]
    fn form_fields_become_the_input_the_schema_declares() {
        let catalog = Catalog {
            mutations: HashMap::new(),
            enums: HashMap::new(),
            telling: HashSet::new(),
            inputs: HashMap::from([(
                "BulkInput".to_string(),
                vec![
                    input(
                        "ids",
                        TypeRef::List(Box::new(non_null(named("SCALAR", "ID")))),
                    ),
                    input("amount", non_null(named("SCALAR", "Int"))),
                    input("reason", non_null(named("SCALAR", "String"))),
                    input("note", named("SCALAR", "String")),
                    input("bulkKey", non_null(named("SCALAR", "String"))),
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
    fn a_form_shows_each_field_as_its_type_says() {
        let enum_of = |name: &str| non_null(named("ENUM", name));
        let catalog = Catalog {
            mutations: HashMap::from([(
                "setThing".to_string(),
                Signature {
                    input: non_null(named("INPUT_OBJECT", "SetThingInput")),
                    answers: "ThingPayload".into(),
                },
            )]),
            enums: HashMap::from([("Plan".to_string(), vec!["FREE".into(), "GROWTH".into()])]),
            telling: HashSet::new(),
            inputs: HashMap::from([
                (
                    "SetThingInput".to_string(),
                    vec![
                        input("accountId", non_null(named("SCALAR", "ID"))),
                        input("plan", enum_of("Plan")),
                        input("apiKey", non_null(named("SCALAR", "String"))),
                        input("limits", named("INPUT_OBJECT", "Limits")),
                        InputField {
                            defaulted: true,
                            ..input("invite", non_null(named("SCALAR", "Boolean")))
                        },
                        input("idempotencyKey", named("SCALAR", "String")),
                    ],
                ),
                (
                    "Limits".to_string(),
                    vec![input("maxTokens", non_null(named("SCALAR", "Int")))],
                ),
            ]),
        };
        let html = catalog
            .controls("setThing", &[("accountId", "a-1")])
            .into_string();
        assert!(
            html.contains(r#"<input type="hidden" name="accountId" value="a-1">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<select name="plan" required><option value="FREE">free</option>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<input type="password" name="apiKey" required"#),
            "a secret is typed unseen: {html}"
        );
        assert!(
            html.contains(r#"<input type="number" step="1" name="limits.maxTokens">"#),
            "inside an optional object nothing is required: {html}"
        );
        assert!(
            html.contains("Invite (optional)"),
            "a default makes a field optional: {html}"
        );
        assert!(
            !html.contains("idempotencyKey"),
            "the form's own key is not asked: {html}"
        );
        assert!(catalog
            .controls("noSuchThing", &[])
            .into_string()
            .contains("no action"));
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

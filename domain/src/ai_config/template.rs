//! Content templates: author profiles (a persona: tone, language, structure) and content
//! strategies (which prompts, and how sections are built). The platform keeps a library of
//! each; an account clones one (remembering which, at which version) or creates its own.
//!
//! Decisions:
//! - One aggregate for both kinds, because they live the same life (create, clone, revise,
//!   activate, deactivate, delete, restore) and differ only in their details.
//! - Revising makes a new version; a clone remembers the version it copied, so an account can
//!   see when the library's template has moved on.
//! - Library templates are never deleted (accounts' clones name them); they are deactivated.
//!   An account's templates are deleted softly and can be restored.
//! - Changing nothing, and asking for the state a template is already in, record nothing.

use super::prompt::PromptType;
use crate::kit::error::{Coded, ErrorCode};
use crate::kit::text_enum;
use crate::kit::values::{bounded_text, checked_json, multiline_text, InvalidValue};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

text_enum! {
    pub enum TemplateKind {
        AuthorProfile,
        Strategy,
    }
}

text_enum! {
    /// What kind of content a template is for (the seeds' categories).
    pub enum TemplateCategory {
        Saas,
        Ecommerce,
        Blog,
        Technical,
        Creative,
        General,
    }
}

/// What a template holds beyond its name, description and category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TemplateDetails {
    AuthorProfile {
        /// e.g. `professional`, `conversational`.
        tone: String,
        /// A language tag, e.g. `en`, `en-GB`.
        language: String,
        /// How an article by this persona is laid out (a JSON object).
        structure: Value,
    },
    Strategy {
        /// The prompt types the strategy runs, in order.
        prompt_types: Vec<PromptType>,
        /// How each section is built (a JSON object).
        sections: Value,
    },
}

impl TemplateDetails {
    pub fn kind(&self) -> TemplateKind {
        match self {
            Self::AuthorProfile { .. } => TemplateKind::AuthorProfile,
            Self::Strategy { .. } => TemplateKind::Strategy,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateTerms {
    pub name: String,
    pub description: String,
    pub category: TemplateCategory,
    pub details: TemplateDetails,
}

/// The largest JSON a template's structure or sections may hold, serialised.
const MAX_JSON_BYTES: usize = 20_000;

impl TemplateTerms {
    /// The terms, trimmed and checked.
    pub fn checked(self) -> Result<Self, InvalidValue> {
        let name = bounded_text("a template's name", &self.name, 120)?;
        let description = multiline_text("a template's description", &self.description, 2_000)?;
        let json = |what: &str, value: Value| -> Result<Value, InvalidValue> {
            if !value.is_object() {
                return Err(InvalidValue(format!("{what} must be a JSON object")));
            }
            checked_json(what, value, MAX_JSON_BYTES)
        };
        let details = match self.details {
            TemplateDetails::AuthorProfile {
                tone,
                language,
                structure,
            } => {
                let tone = bounded_text("a tone", &tone, 60)?;
                let language = language.trim().to_string();
                let tag_ok = (2..=12).contains(&language.len())
                    && language
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !tag_ok {
                    return Err(InvalidValue(format!(
                        "a language is a tag such as `en` or `en-GB`, got `{language}`"
                    )));
                }
                TemplateDetails::AuthorProfile {
                    tone,
                    language,
                    structure: json("a profile's structure", structure)?,
                }
            }
            TemplateDetails::Strategy {
                prompt_types,
                sections,
            } => {
                if prompt_types.is_empty() || prompt_types.len() > 20 {
                    return Err(InvalidValue("a strategy runs 1 to 20 prompt types".into()));
                }
                TemplateDetails::Strategy {
                    prompt_types,
                    sections: json("a strategy's sections", sections)?,
                }
            }
        };
        Ok(Self {
            name,
            description,
            category: self.category,
            details,
        })
    }
}

/// A template at one version: what a clone copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub template_id: Uuid,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TemplateCommand {
    /// A library template (`account_id` none) or an account's own, possibly a clone.
    Create {
        account_id: Option<Uuid>,
        terms: TemplateTerms,
        cloned_from: Option<TemplateRef>,
    },
    Revise {
        terms: TemplateTerms,
    },
    Activate,
    Deactivate,
    Delete,
    Restore,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum TemplateEvent {
    /// Version 1, active.
    TemplateCreated {
        account_id: Option<Uuid>,
        terms: TemplateTerms,
        cloned_from: Option<TemplateRef>,
    },
    TemplateRevised {
        version: i32,
        terms: TemplateTerms,
    },
    TemplateActivated,
    TemplateDeactivated,
    TemplateDeleted,
    TemplateRestored,
}

crate::stored_event!(TemplateEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this template already exists")]
    AlreadyExists,
    /// `NOT_FOUND`
    #[error("no such template")]
    NotFound,
    /// `CONFLICT`
    #[error("a library template is never deleted (accounts' clones name it); deactivate it")]
    LibraryKept,
    /// `CONFLICT`
    #[error("this template is deleted; restore it first")]
    Deleted,
}

impl From<InvalidValue> for TemplateError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for TemplateError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::NotFound => ErrorCode::NotFound,
            Self::AlreadyExists | Self::LibraryKept | Self::Deleted => ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Current {
    account_id: Option<Uuid>,
    version: i32,
    terms: TemplateTerms,
    active: bool,
    deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    current: Option<Current>,
}

impl Template {
    /// The template's terms and version, and the account owning it (none: the library).
    pub fn terms(&self) -> Option<(&TemplateTerms, i32, Option<Uuid>)> {
        self.current
            .as_ref()
            .map(|c| (&c.terms, c.version, c.account_id))
    }

    fn decide(&self, command: TemplateCommand) -> Result<Option<TemplateEvent>, TemplateError> {
        use TemplateCommand as C;
        use TemplateEvent as E;
        let Some(current) = &self.current else {
            let C::Create {
                account_id,
                terms,
                cloned_from,
            } = command
            else {
                return Err(TemplateError::NotFound);
            };
            return Ok(Some(E::TemplateCreated {
                account_id,
                terms: terms.checked()?,
                cloned_from,
            }));
        };
        if current.deleted && !matches!(command, C::Restore | C::Delete) {
            return Err(TemplateError::Deleted);
        }
        match command {
            C::Create { .. } => Err(TemplateError::AlreadyExists),
            C::Revise { terms } => {
                if terms.details.kind() != current.terms.details.kind() {
                    return Err(TemplateError::Invalid(format!(
                        "this template is of kind {}; it cannot become a {}",
                        current.terms.details.kind(),
                        terms.details.kind()
                    )));
                }
                let terms = terms.checked()?;
                if terms == current.terms {
                    return Ok(None);
                }
                Ok(Some(E::TemplateRevised {
                    version: current.version + 1,
                    terms,
                }))
            }
            C::Activate => Ok((!current.active).then_some(E::TemplateActivated)),
            C::Deactivate => Ok(current.active.then_some(E::TemplateDeactivated)),
            C::Delete if current.account_id.is_none() => Err(TemplateError::LibraryKept),
            C::Delete => Ok((!current.deleted).then_some(E::TemplateDeleted)),
            C::Restore => Ok(current.deleted.then_some(E::TemplateRestored)),
        }
    }
}

impl crate::kit::event::StoredAggregate for Template {}

impl Aggregate for Template {
    const TYPE: &'static str = "template";
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = TemplateError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(event) = self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use TemplateEvent as E;
        if let E::TemplateCreated {
            account_id, terms, ..
        } = event
        {
            self.current = Some(Current {
                account_id,
                version: 1,
                terms,
                active: true,
                deleted: false,
            });
            return;
        }
        let Some(current) = &mut self.current else {
            return;
        };
        match event {
            E::TemplateCreated { .. } => {}
            E::TemplateRevised { version, terms } => {
                current.version = version;
                current.terms = terms;
            }
            E::TemplateActivated => current.active = true,
            E::TemplateDeactivated => current.active = false,
            E::TemplateDeleted => current.deleted = true,
            E::TemplateRestored => current.deleted = false,
        }
    }
}

/// The library the platform starts with (the seeds' five profiles and five strategies).
pub fn builtin() -> Vec<TemplateTerms> {
    use serde_json::json;
    let profile = |name: &str, category, tone: &str, description: &str| TemplateTerms {
        name: name.into(),
        description: description.into(),
        category,
        details: TemplateDetails::AuthorProfile {
            tone: tone.into(),
            language: "en".into(),
            structure: json!({ "intro": "short", "headings": "h2", "conclusion": true }),
        },
    };
    let strategy = |name: &str, category, prompts: &[&str], description: &str| TemplateTerms {
        name: name.into(),
        description: description.into(),
        category,
        details: TemplateDetails::Strategy {
            prompt_types: prompts
                .iter()
                .map(|p| PromptType::parse(p).expect("a built-in prompt type"))
                .collect(),
            sections: json!({ "introduction": 1, "body": 4, "conclusion": 1 }),
        },
    };
    use TemplateCategory as C;
    vec![
        profile(
            "SaaS B2B Professional",
            C::Saas,
            "professional",
            "Clear, credible writing for software buyers.",
        ),
        profile(
            "E-commerce Product Writer",
            C::Ecommerce,
            "persuasive",
            "Product pages and buying guides that convert.",
        ),
        profile(
            "Blog Conversational",
            C::Blog,
            "conversational",
            "Friendly posts that read like a chat.",
        ),
        profile(
            "Technical Documentation",
            C::Technical,
            "precise",
            "Exact, step-by-step technical writing.",
        ),
        profile(
            "Creative Storyteller",
            C::Creative,
            "narrative",
            "Stories that carry the message.",
        ),
        strategy(
            "SEO Blog Post",
            C::Blog,
            &["title_generation", "content_generation", "meta_description"],
            "A search-optimised article from a keyword cluster.",
        ),
        strategy(
            "Product Launch",
            C::Ecommerce,
            &["ideas", "content_generation", "image_prompt_generation"],
            "Announce a product: story, benefits, visuals.",
        ),
        strategy(
            "How-To Guide",
            C::Technical,
            &["title_generation", "content_generation"],
            "Steps a reader can follow.",
        ),
        strategy(
            "Comparison Article",
            C::General,
            &["ideas", "content_generation", "meta_description"],
            "Two or more options side by side.",
        ),
        strategy(
            "Case Study",
            C::Saas,
            &["content_generation", "meta_description"],
            "A customer's problem, solution and results.",
        ),
    ]
}

/// A library template's id: derived from its kind and name, so it is created once.
pub fn library_id(terms: &TemplateTerms) -> Uuid {
    const LIBRARY_NAMESPACE: Uuid = Uuid::from_u128(0x5d2c_7a81_9e34_4b6f_a0c5_18e7_d4f2_93b6);
    let name = format!("{}:{}", terms.details.kind(), terms.name);
    Uuid::new_v5(&LIBRARY_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    type TemplateTest = TestFramework<Template>;

    fn profile(tone: &str) -> TemplateTerms {
        TemplateTerms {
            name: "Our voice".into(),
            description: String::new(),
            category: TemplateCategory::Blog,
            details: TemplateDetails::AuthorProfile {
                tone: tone.into(),
                language: "en".into(),
                structure: json!({}),
            },
        }
    }

    fn created(account: Option<Uuid>) -> TemplateEvent {
        TemplateEvent::TemplateCreated {
            account_id: account,
            terms: profile("warm"),
            cloned_from: None,
        }
    }

    #[test]
    fn revising_makes_a_version_and_changing_nothing_records_nothing() {
        TemplateTest::with(())
            .given(vec![created(None)])
            .when(TemplateCommand::Revise {
                terms: profile("dry"),
            })
            .then_expect_events(vec![TemplateEvent::TemplateRevised {
                version: 2,
                terms: profile("dry"),
            }]);
        TemplateTest::with(())
            .given(vec![created(None)])
            .when(TemplateCommand::Revise {
                terms: profile(" warm "),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_template_keeps_its_kind() {
        let strategy = TemplateTerms {
            details: TemplateDetails::Strategy {
                prompt_types: vec![PromptType::parse("ideas").unwrap()],
                sections: json!({}),
            },
            ..profile("warm")
        };
        TemplateTest::with(())
            .given(vec![created(None)])
            .when(TemplateCommand::Revise { terms: strategy })
            .then_expect_error_message(
                "this template is of kind author_profile; it cannot become a strategy",
            );
    }

    #[test]
    fn bad_terms_are_refused() {
        let mut terms = profile("warm");
        terms.details = TemplateDetails::AuthorProfile {
            tone: "warm".into(),
            language: "english please".into(),
            structure: json!({}),
        };
        TemplateTest::with(())
            .given_no_previous_events()
            .when(TemplateCommand::Create {
                account_id: None,
                terms,
                cloned_from: None,
            })
            .then_expect_error_message(
                "a language is a tag such as `en` or `en-GB`, got `english please`",
            );
        let mut terms = profile("warm");
        terms.details = TemplateDetails::AuthorProfile {
            tone: "warm".into(),
            language: "en".into(),
            structure: json!([1, 2]),
        };
        TemplateTest::with(())
            .given_no_previous_events()
            .when(TemplateCommand::Create {
                account_id: None,
                terms,
                cloned_from: None,
            })
            .then_expect_error_message("a profile's structure must be a JSON object");
        let mut terms = profile("warm");
        terms.details = TemplateDetails::AuthorProfile {
            tone: "warm".into(),
            language: "en".into(),
            structure: json!({ "intro": "a\u{0}b" }),
        };
        TemplateTest::with(())
            .given_no_previous_events()
            .when(TemplateCommand::Create {
                account_id: None,
                terms,
                cloned_from: None,
            })
            .then_expect_error_message("a profile's structure must not contain NUL characters");
    }

    #[test]
    fn only_an_accounts_templates_are_deleted_and_a_deleted_one_is_restored_first() {
        TemplateTest::with(())
            .given(vec![created(None)])
            .when(TemplateCommand::Delete)
            .then_expect_error(TemplateError::LibraryKept);
        let account = Some(Uuid::from_u128(7));
        TemplateTest::with(())
            .given(vec![created(account)])
            .when(TemplateCommand::Delete)
            .then_expect_events(vec![TemplateEvent::TemplateDeleted]);
        TemplateTest::with(())
            .given(vec![created(account), TemplateEvent::TemplateDeleted])
            .when(TemplateCommand::Deactivate)
            .then_expect_error(TemplateError::Deleted);
        TemplateTest::with(())
            .given(vec![created(account), TemplateEvent::TemplateDeleted])
            .when(TemplateCommand::Restore)
            .then_expect_events(vec![TemplateEvent::TemplateRestored]);
    }

    #[test]
    fn states_already_in_place_record_nothing() {
        for command in [TemplateCommand::Activate, TemplateCommand::Restore] {
            TemplateTest::with(())
                .given(vec![created(None)])
                .when(command)
                .then_expect_events(vec![]);
        }
    }

    #[test]
    fn the_builtin_library_is_valid_and_named_once() {
        let library = builtin();
        for terms in &library {
            assert_eq!(&terms.clone().checked().unwrap(), terms);
        }
        let ids: std::collections::HashSet<Uuid> = library.iter().map(library_id).collect();
        assert_eq!(ids.len(), library.len());
    }
}

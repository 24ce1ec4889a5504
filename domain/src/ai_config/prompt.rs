//! The platform's prompt library: one global prompt per type (clustering, ideas, content
//! generation, ...), with a description and the variables its text must keep.
//!
//! Decisions:
//! - Every save is a new, immutable version; exactly one version is published (what accounts
//!   that have not customized the type use). Rolling back is publishing an earlier version.
//! - A version's text must name every variable the type requires (`{keyword}`), so no version
//!   can break the platform's substitution; a type's variables are fixed when it is created.
//! - Saving the published text again, publishing the published version, activating an active
//!   prompt and deactivating an inactive one succeed and record nothing.
//! - An inactive prompt keeps its versions and customizations; the platform does not use it.

use crate::kit::error::{Coded, ErrorCode};
use crate::kit::values::{multiline_text, InvalidValue};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

const PROMPT_NAMESPACE: Uuid = Uuid::from_u128(0x3b7e_91c4_5a02_4d6f_8e1b_c9a4_27d5_f068);

/// The longest prompt text kept, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// A kind of prompt, e.g. `content_generation`: lowercase letters, digits and underscores,
/// starting with a letter, at most 50 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PromptType(String);

impl PromptType {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        snake_name("a prompt type", value, 50).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PromptType {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, InvalidValue> {
        Self::parse(&value)
    }
}

impl From<PromptType> for String {
    fn from(value: PromptType) -> Self {
        value.0
    }
}

impl std::fmt::Display for PromptType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn snake_name(what: &str, value: &str, max: usize) -> Result<String, InvalidValue> {
    let value = value.trim();
    let ok = (1..=max).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(InvalidValue(format!(
            "{what} is 1 to {max} lowercase letters, digits or underscores, starting with a \
             letter; got `{value}`"
        )));
    }
    Ok(value.to_string())
}

/// The variables a type's text must keep, by name (`keyword` for `{keyword}`).
pub fn parse_variables(names: &[String]) -> Result<BTreeSet<String>, InvalidValue> {
    if names.len() > 20 {
        return Err(InvalidValue(
            "a prompt type has at most 20 variables".into(),
        ));
    }
    names
        .iter()
        .map(|name| snake_name("a variable's name", name, 40))
        .collect()
}

/// A prompt's text, checked: not empty, not too long, and naming every required variable.
pub fn checked_text(text: &str, required: &BTreeSet<String>) -> Result<String, InvalidValue> {
    let text = multiline_text("a prompt's text", text, MAX_TEXT_CHARS)?;
    if text.is_empty() {
        return Err(InvalidValue("a prompt's text must not be empty".into()));
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|name| !text.contains(&format!("{{{name}}}")))
        .map(|name| format!("{{{name}}}"))
        .collect();
    if !missing.is_empty() {
        return Err(InvalidValue(format!(
            "the text must keep the variables this prompt type requires; missing {}",
            missing.join(", ")
        )));
    }
    Ok(text)
}

/// The library the platform starts with: (type, description, variables, text).
pub fn builtin() -> Vec<(PromptType, String, Vec<String>, String)> {
    let prompt = |kind: &str, description: &str, variables: &[&str], text: &str| {
        (
            PromptType::parse(kind).expect("a valid built-in type"),
            description.to_string(),
            variables.iter().map(|v| v.to_string()).collect(),
            text.to_string(),
        )
    };
    vec![
        prompt(
            "clustering",
            "Groups keywords into topical clusters.",
            &["keywords"],
            "Group these keywords into topical clusters of closely related search intent. \
             Name each cluster and list its keywords.\n\nKeywords:\n{keywords}",
        ),
        prompt(
            "ideas",
            "Proposes article ideas for a keyword cluster.",
            &["cluster", "keywords"],
            "Propose ten article ideas for the cluster \"{cluster}\". Each idea targets some \
             of these keywords: {keywords}. Give a working title and a one-line angle.",
        ),
        prompt(
            "content_generation",
            "Writes an article from a title and an outline.",
            &["title", "outline", "keywords", "tone"],
            "Write an article titled \"{title}\" in a {tone} tone, following this outline:\n\
             {outline}\n\nUse these keywords naturally: {keywords}.",
        ),
        prompt(
            "meta_description",
            "Writes an SEO meta description.",
            &["title", "content"],
            "Write a meta description of at most 155 characters for the article \"{title}\":\n\
             {content}",
        ),
        prompt(
            "title_generation",
            "Proposes titles for a topic.",
            &["topic", "keywords"],
            "Propose five blog titles about {topic} that include one of: {keywords}.",
        ),
        prompt(
            "image_prompt_generation",
            "Describes an image for an article, for an image model.",
            &["title", "content"],
            "Describe one illustrative image for the article \"{title}\" for an image \
             model: subject, style, composition. Article:\n{content}",
        ),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PromptCommand {
    /// A new prompt type, its first version published.
    Create {
        prompt_type: PromptType,
        description: String,
        variables: Vec<String>,
        text: String,
    },
    /// A new version; published at once when `publish`.
    SaveVersion {
        text: String,
        publish: bool,
    },
    /// Makes `version` the one in use (rolling back is publishing an earlier one).
    Publish {
        version: i32,
    },
    Activate,
    Deactivate,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
pub enum PromptEvent {
    /// Version 1, published, active.
    PromptCreated {
        prompt_type: PromptType,
        description: String,
        variables: BTreeSet<String>,
        text: String,
    },
    PromptVersionSaved {
        version: i32,
        text: String,
    },
    PromptVersionPublished {
        version: i32,
    },
    PromptActivated,
    PromptDeactivated,
}

crate::stored_event!(PromptEvent);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// `VALIDATION`
    #[error("{0}")]
    Invalid(String),
    /// `CONFLICT`
    #[error("this prompt type already exists")]
    AlreadyExists,
    /// `NOT_FOUND`
    #[error("no such prompt")]
    NotFound,
    /// `NOT_FOUND`
    #[error("this prompt has no version {0}")]
    NoSuchVersion(i32),
}

impl From<InvalidValue> for PromptError {
    fn from(invalid: InvalidValue) -> Self {
        Self::Invalid(invalid.0)
    }
}

impl Coded for PromptError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::Validation,
            Self::AlreadyExists => ErrorCode::Conflict,
            Self::NotFound | Self::NoSuchVersion(_) => ErrorCode::NotFound,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Library {
    prompt_type: PromptType,
    variables: BTreeSet<String>,
    /// Every version's text, version `n` at `n - 1`.
    versions: Vec<String>,
    published: i32,
    active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlobalPrompt {
    library: Option<Library>,
}

impl GlobalPrompt {
    /// The prompt of a type (one per type, so its id derives from the type).
    pub fn id_for(prompt_type: &PromptType) -> Uuid {
        Uuid::new_v5(&PROMPT_NAMESPACE, prompt_type.as_str().as_bytes())
    }

    /// The published version and its text; none before the prompt exists.
    pub fn published(&self) -> Option<(i32, &str)> {
        let library = self.library.as_ref()?;
        let text = library.versions.get(library.published as usize - 1)?;
        Some((library.published, text))
    }

    /// The variables every text of this type must keep.
    pub fn variables(&self) -> Option<&BTreeSet<String>> {
        self.library.as_ref().map(|l| &l.variables)
    }

    pub fn is_active(&self) -> bool {
        self.library.as_ref().is_some_and(|l| l.active)
    }

    fn decide(&self, command: PromptCommand) -> Result<Vec<PromptEvent>, PromptError> {
        use PromptCommand as C;
        use PromptEvent as E;
        let Some(library) = &self.library else {
            let C::Create {
                prompt_type,
                description,
                variables,
                text,
            } = command
            else {
                return Err(PromptError::NotFound);
            };
            let variables = parse_variables(&variables)?;
            let text = checked_text(&text, &variables)?;
            let description = multiline_text("a prompt's description", &description, 500)?;
            return Ok(vec![E::PromptCreated {
                prompt_type,
                description,
                variables,
                text,
            }]);
        };
        match command {
            C::Create { .. } => Err(PromptError::AlreadyExists),
            C::SaveVersion { text, publish } => {
                let text = checked_text(&text, &library.variables)?;
                let latest = library.versions.len() as i32;
                if library.versions.last() == Some(&text) {
                    // The latest version already says this: publish it if asked.
                    return Ok((publish && library.published != latest)
                        .then_some(E::PromptVersionPublished { version: latest })
                        .into_iter()
                        .collect());
                }
                let version = latest + 1;
                let mut events = vec![E::PromptVersionSaved { version, text }];
                if publish {
                    events.push(E::PromptVersionPublished { version });
                }
                Ok(events)
            }
            C::Publish { version } => {
                if !(1..=library.versions.len() as i32).contains(&version) {
                    return Err(PromptError::NoSuchVersion(version));
                }
                Ok((version != library.published)
                    .then_some(E::PromptVersionPublished { version })
                    .into_iter()
                    .collect())
            }
            C::Activate if library.active => Ok(vec![]),
            C::Activate => Ok(vec![E::PromptActivated]),
            C::Deactivate if !library.active => Ok(vec![]),
            C::Deactivate => Ok(vec![E::PromptDeactivated]),
        }
    }
}

impl crate::kit::event::StoredAggregate for GlobalPrompt {}

impl Aggregate for GlobalPrompt {
    const TYPE: &'static str = "global_prompt";
    type Command = PromptCommand;
    type Event = PromptEvent;
    type Error = PromptError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use PromptEvent as E;
        match event {
            E::PromptCreated {
                prompt_type,
                variables,
                text,
                ..
            } => {
                self.library = Some(Library {
                    prompt_type,
                    variables,
                    versions: vec![text],
                    published: 1,
                    active: true,
                });
            }
            E::PromptVersionSaved { text, .. } => {
                if let Some(library) = &mut self.library {
                    library.versions.push(text);
                }
            }
            E::PromptVersionPublished { version } => {
                if let Some(library) = &mut self.library {
                    library.published = version;
                }
            }
            E::PromptActivated | E::PromptDeactivated => {
                if let Some(library) = &mut self.library {
                    library.active = matches!(event, E::PromptActivated);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type PromptTest = TestFramework<GlobalPrompt>;

    fn created() -> PromptEvent {
        PromptEvent::PromptCreated {
            prompt_type: PromptType::parse("ideas").unwrap(),
            description: "Ideas".into(),
            variables: ["keyword".to_string()].into(),
            text: "Ideas about {keyword}".into(),
        }
    }

    fn save(text: &str, publish: bool) -> PromptCommand {
        PromptCommand::SaveVersion {
            text: text.into(),
            publish,
        }
    }

    #[test]
    fn a_prompt_starts_with_its_first_version_published() {
        PromptTest::with(())
            .given_no_previous_events()
            .when(PromptCommand::Create {
                prompt_type: PromptType::parse("ideas").unwrap(),
                description: " Ideas ".into(),
                variables: vec!["keyword".into()],
                text: " Ideas about {keyword} ".into(),
            })
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn a_text_must_keep_the_required_variables() {
        PromptTest::with(())
            .given(vec![created()])
            .when(save("Ideas about things", true))
            .then_expect_error_message(
                "the text must keep the variables this prompt type requires; missing {keyword}",
            );
        PromptTest::with(())
            .given_no_previous_events()
            .when(PromptCommand::Create {
                prompt_type: PromptType::parse("ideas").unwrap(),
                description: "Ideas".into(),
                variables: vec!["Bad Name".into()],
                text: "x".into(),
            })
            .then_expect_error_message(
                "a variable's name is 1 to 40 lowercase letters, digits or underscores, starting with a letter; got `Bad Name`",
            );
    }

    #[test]
    fn every_save_is_a_version_published_only_when_asked() {
        PromptTest::with(())
            .given(vec![created()])
            .when(save("More ideas about {keyword}", false))
            .then_expect_events(vec![PromptEvent::PromptVersionSaved {
                version: 2,
                text: "More ideas about {keyword}".into(),
            }]);
        PromptTest::with(())
            .given(vec![created()])
            .when(save("More ideas about {keyword}", true))
            .then_expect_events(vec![
                PromptEvent::PromptVersionSaved {
                    version: 2,
                    text: "More ideas about {keyword}".into(),
                },
                PromptEvent::PromptVersionPublished { version: 2 },
            ]);
        PromptTest::with(())
            .given(vec![created()])
            .when(save("Ideas about {keyword}", true))
            .then_expect_events(vec![]);
    }

    #[test]
    fn rolling_back_publishes_an_earlier_version() {
        let saved = PromptEvent::PromptVersionSaved {
            version: 2,
            text: "v2 {keyword}".into(),
        };
        let published = PromptEvent::PromptVersionPublished { version: 2 };
        PromptTest::with(())
            .given(vec![created(), saved.clone(), published.clone()])
            .when(PromptCommand::Publish { version: 1 })
            .then_expect_events(vec![PromptEvent::PromptVersionPublished { version: 1 }]);
        PromptTest::with(())
            .given(vec![created(), saved.clone(), published.clone()])
            .when(PromptCommand::Publish { version: 2 })
            .then_expect_events(vec![]);
        PromptTest::with(())
            .given(vec![created(), saved, published])
            .when(PromptCommand::Publish { version: 3 })
            .then_expect_error(PromptError::NoSuchVersion(3));
    }

    #[test]
    fn activation_is_safe_to_repeat_and_types_are_created_once() {
        PromptTest::with(())
            .given(vec![created()])
            .when(PromptCommand::Activate)
            .then_expect_events(vec![]);
        PromptTest::with(())
            .given(vec![created()])
            .when(PromptCommand::Deactivate)
            .then_expect_events(vec![PromptEvent::PromptDeactivated]);
        PromptTest::with(())
            .given(vec![created()])
            .when(PromptCommand::Create {
                prompt_type: PromptType::parse("ideas").unwrap(),
                description: "Ideas".into(),
                variables: vec![],
                text: "x".into(),
            })
            .then_expect_error(PromptError::AlreadyExists);
    }

    #[test]
    fn the_builtin_library_is_valid() {
        for (kind, _, variables, text) in builtin() {
            let variables = parse_variables(&variables).unwrap();
            assert_eq!(checked_text(&text, &variables).unwrap(), text, "{kind}");
        }
        let nul = checked_text("Ideas \u{0} {keyword}", &["keyword".to_string()].into());
        assert!(nul.unwrap_err().0.contains("control characters"));
        let lines = checked_text("Ideas\n\t{keyword}\r\n", &["keyword".to_string()].into());
        assert_eq!(lines.unwrap(), "Ideas\n\t{keyword}");
        assert!(PromptType::parse("Content").is_err());
        assert!(PromptType::parse("9lives").is_err());
    }
}

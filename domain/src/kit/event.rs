//! How an aggregate's events are named, versioned and read back.
//!
//! An event enum derives `strum::IntoStaticStr` and `strum::VariantNames` and is declared with
//! [`stored_event!`]: its variant names are its stable `event_type`s (the one list of them), and
//! its `event_version` is [`StoredEvent::VERSION`]. Readers decode through [`StoredEvent::read`],
//! which is where an older version of a payload is upcast to today's shape.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a stored event payload turned out to be.
#[derive(Debug, Clone)]
pub enum Read<E> {
    Event(E),
    /// A type this build does not know: written by a newer version (a rolling upgrade) or for a
    /// feature this build lacks. Readers skip it, and count it.
    Unknown,
}

/// An aggregate's event enum as the log stores it.
pub trait StoredEvent: cqrs_es::DomainEvent + DeserializeOwned + strum::VariantNames {
    /// The version this build writes. Raise it when a payload's shape changes, and teach
    /// [`StoredEvent::upcast`] to read the older one.
    const VERSION: u32 = 1;

    /// Rewrites a payload written at `version` (older than [`StoredEvent::VERSION`]) into
    /// today's shape. No event has changed shape yet, so there is nothing to rewrite.
    fn upcast(event_type: &str, version: u32, payload: Value) -> Result<Value, String> {
        let _ = (event_type, payload);
        Err(format!("no upcaster from version {version}"))
    }

    /// Whether this build knows `event_type`.
    fn knows(event_type: &str) -> bool {
        Self::VARIANTS.contains(&event_type)
    }

    /// Decodes a stored payload. A known type that cannot be read (a newer version of it, a
    /// payload that does not match) is an error: skipping it would silently diverge from the log.
    fn read(event_type: &str, version: &str, payload: &Value) -> Result<Read<Self>, String> {
        if !Self::knows(event_type) {
            return Ok(Read::Unknown);
        }
        let version: u32 = version
            .parse()
            .map_err(|_| format!("`{version}` is not an event version"))?;
        let decoded = match version {
            v if v == Self::VERSION => serde_json::from_value(payload.clone()),
            v if v > Self::VERSION => {
                return Err(format!(
                    "version {v} was written by a newer build (this one reads up to {})",
                    Self::VERSION
                ))
            }
            v => serde_json::from_value(Self::upcast(event_type, v, payload.clone())?),
        };
        decoded.map(Read::Event).map_err(|e| e.to_string())
    }

    /// [`StoredEvent::read`] for a payload given as JSON text (as the database sends
    /// `payload::text`): today's version is decoded straight from the text, without building a
    /// JSON tree first; an older one goes through [`StoredEvent::upcast`] as usual.
    fn read_text(event_type: &str, version: &str, text: &str) -> Result<Read<Self>, String> {
        if Self::knows(event_type) && version.parse() == Ok(Self::VERSION) {
            return serde_json::from_str(text)
                .map(Read::Event)
                .map_err(|e| e.to_string());
        }
        let payload: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Self::read(event_type, version, &payload)
    }
}

/// An aggregate whose state the store may snapshot. `STATE_VERSION` names the shape of its
/// state: raise it when a field is added, removed or changes meaning, and snapshots taken at
/// another version are ignored (the events are replayed) instead of misread.
pub trait StoredAggregate: cqrs_es::Aggregate {
    const STATE_VERSION: i32 = 1;
}

/// Implements `DomainEvent` (type from the variant name, version from `StoredEvent::VERSION`)
/// and `StoredEvent` for an event enum.
#[macro_export]
macro_rules! stored_event {
    ($event:ty) => {
        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                <&'static str>::from(self).to_string()
            }

            fn event_version(&self) -> String {
                <Self as $crate::kit::event::StoredEvent>::VERSION.to_string()
            }
        }

        impl $crate::kit::event::StoredEvent for $event {}
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(
        Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
    )]
    enum Sample {
        Happened { n: i64 },
    }

    stored_event!(Sample);

    #[test]
    fn an_event_is_named_by_its_variant_and_versioned() {
        use cqrs_es::DomainEvent;
        let event = Sample::Happened { n: 1 };
        assert_eq!(event.event_type(), "Happened");
        assert_eq!(event.event_version(), "1");
        let payload = serde_json::to_value(&event).unwrap();
        assert!(matches!(
            Sample::read("Happened", "1", &payload),
            Ok(Read::Event(e)) if e == event
        ));
    }

    #[test]
    fn an_unknown_type_is_skipped_but_an_unreadable_known_one_is_an_error() {
        let payload = serde_json::json!({ "Happened": { "n": "not a number" } });
        assert!(matches!(
            Sample::read("SomethingNew", "1", &payload),
            Ok(Read::Unknown)
        ));
        assert!(Sample::read("Happened", "1", &payload).is_err());
        let good = serde_json::json!({ "Happened": { "n": 1 } });
        assert!(
            Sample::read("Happened", "2", &good).is_err(),
            "newer version"
        );
        assert!(Sample::read("Happened", "x", &good).is_err());
    }

    #[test]
    fn reading_from_text_answers_as_reading_from_a_tree() {
        let text = r#"{"Happened": {"n": 7}}"#;
        let tree: Value = serde_json::from_str(text).unwrap();
        for (event_type, version) in [
            ("Happened", "1"),
            ("Happened", "2"),
            ("Other", "1"),
            ("Happened", "x"),
        ] {
            let from_text = format!("{:?}", Sample::read_text(event_type, version, text));
            let from_tree = format!("{:?}", Sample::read(event_type, version, &tree));
            assert_eq!(from_text, from_tree, "{event_type} v{version}");
        }
        assert!(Sample::read_text("Happened", "1", "not json").is_err());
    }
}

//! The AI providers the platform calls and the settings each takes (model and parameters).
//!
//! A setting's value is checked against its provider here, once, whoever sets it (the global
//! default or an account's override), so every value in an event is one the provider accepts.
//! Values are kept as JSON (a model's name, a token count, a temperature) because that is what
//! the platform passes on to the provider; nothing is priced by them.

use crate::kit::text_enum;
use crate::kit::values::InvalidValue;
use serde_json::Value;
use std::collections::BTreeMap;

text_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum Provider {
        /// Text generation (GPT models).
        Openai,
        /// Image generation (DALL-E).
        Dalle,
        /// Text generation (Claude models).
        Anthropic,
        /// Image generation (Runware).
        Runware,
    }
}

text_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum Setting {
        /// The model called, e.g. `gpt-4-turbo-preview`.
        Model,
        /// Sampling temperature, up to two decimals.
        Temperature,
        /// The longest answer, in tokens.
        MaxTokens,
        /// Image size, `WIDTHxHEIGHT`.
        ImageSize,
        ImageQuality,
        ImageStyle,
    }
}

/// A provider's settings: each named setting's value (a setting left out has none).
pub type Settings = BTreeMap<Setting, Value>;

impl Provider {
    /// The settings this provider takes.
    pub fn settings(self) -> &'static [Setting] {
        use Setting::*;
        match self {
            Self::Openai | Self::Anthropic => &[Model, Temperature, MaxTokens],
            Self::Dalle => &[Model, ImageSize, ImageQuality, ImageStyle],
            Self::Runware => &[Model, ImageSize],
        }
    }

    /// `value` for `setting`, checked (and written the one way it is stored), or why not.
    pub fn check(self, setting: Setting, value: &Value) -> Result<Value, InvalidValue> {
        if !self.settings().contains(&setting) {
            return Err(InvalidValue(format!("{self} has no setting `{setting}`")));
        }
        let name = format!("{self} {setting}");
        match setting {
            Setting::Model => {
                let text = text(&name, value)?;
                let ok = (1..=100).contains(&text.len())
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._:@/-".contains(c));
                if !ok {
                    return Err(InvalidValue(format!(
                        "{name} must be 1 to 100 letters, digits or `._:@/-`, got {value}"
                    )));
                }
                Ok(Value::String(text.to_string()))
            }
            Setting::Temperature => {
                let max = if self == Self::Anthropic { 100 } else { 200 };
                let hundredths = value
                    .as_f64()
                    .map(|t| t * 100.0)
                    .filter(|h| (h - h.round()).abs() < 1e-6 && (0.0..=max as f64).contains(h))
                    .ok_or_else(|| {
                        InvalidValue(format!(
                            "{name} must be a number from 0 to {} with at most two decimals, got {value}",
                            max / 100
                        ))
                    })?;
                // Stored as the two-decimal number it is (0.7, not 0.7000000000000001).
                let stored = hundredths.round() / 100.0;
                Ok(serde_json::json!(stored))
            }
            Setting::MaxTokens => {
                let max = if self == Self::Anthropic {
                    200_000
                } else {
                    128_000
                };
                match value.as_i64() {
                    Some(n) if (1..=max).contains(&n) => Ok(Value::from(n)),
                    _ => Err(InvalidValue(format!(
                        "{name} must be a whole number from 1 to {max}, got {value}"
                    ))),
                }
            }
            Setting::ImageSize => {
                let sizes: &[&str] = match self {
                    Self::Dalle => &["1024x1024", "1792x1024", "1024x1792"],
                    _ => &["512x512", "768x768", "1024x1024", "1280x768", "768x1280"],
                };
                one_of(&name, value, sizes)
            }
            Setting::ImageQuality => one_of(&name, value, &["standard", "hd"]),
            Setting::ImageStyle => one_of(&name, value, &["vivid", "natural"]),
        }
    }

    /// Every value of `settings` checked against this provider.
    pub fn check_all(self, settings: &Settings) -> Result<Settings, InvalidValue> {
        settings
            .iter()
            .map(|(setting, value)| Ok((*setting, self.check(*setting, value)?)))
            .collect()
    }
}

fn text<'a>(name: &str, value: &'a Value) -> Result<&'a str, InvalidValue> {
    value
        .as_str()
        .map(str::trim)
        .ok_or_else(|| InvalidValue(format!("{name} must be text, got {value}")))
}

fn one_of(name: &str, value: &Value, allowed: &[&str]) -> Result<Value, InvalidValue> {
    let given = text(name, value)?;
    match allowed.iter().find(|a| **a == given) {
        Some(a) => Ok(Value::String(a.to_string())),
        None => Err(InvalidValue(format!(
            "{name} must be one of {}, got {value}",
            allowed.join(", ")
        ))),
    }
}

/// The platform's first defaults (from the seeds): text models on, image models on, the
/// optional providers off until a superuser sets their keys.
pub fn builtin() -> Vec<(Provider, bool, Settings)> {
    use serde_json::json;
    let settings = |pairs: &[(Setting, Value)]| pairs.iter().cloned().collect::<Settings>();
    vec![
        (
            Provider::Openai,
            true,
            settings(&[
                (Setting::Model, json!("gpt-4-turbo-preview")),
                (Setting::Temperature, json!(0.7)),
                (Setting::MaxTokens, json!(4000)),
            ]),
        ),
        (
            Provider::Dalle,
            true,
            settings(&[
                (Setting::Model, json!("dall-e-3")),
                (Setting::ImageSize, json!("1024x1024")),
                (Setting::ImageQuality, json!("standard")),
                (Setting::ImageStyle, json!("vivid")),
            ]),
        ),
        (
            Provider::Anthropic,
            false,
            settings(&[
                (Setting::Model, json!("claude-3-sonnet-20240229")),
                (Setting::Temperature, json!(0.7)),
                (Setting::MaxTokens, json!(4000)),
            ]),
        ),
        (
            Provider::Runware,
            false,
            settings(&[
                (Setting::Model, json!("runware:100@1")),
                (Setting::ImageSize, json!("1024x1024")),
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_against_their_provider() {
        let p = Provider::Openai;
        assert_eq!(
            p.check(Setting::Temperature, &json!(0.7)).unwrap(),
            json!(0.7)
        );
        assert_eq!(
            p.check(Setting::Temperature, &json!(2)).unwrap(),
            json!(2.0)
        );
        assert!(p.check(Setting::Temperature, &json!(0.705)).is_err());
        assert!(p.check(Setting::Temperature, &json!(-0.1)).is_err());
        assert!(Provider::Anthropic
            .check(Setting::Temperature, &json!(1.5))
            .is_err());
        assert!(p.check(Setting::Temperature, &json!("0.7")).is_err());
        assert_eq!(
            p.check(Setting::MaxTokens, &json!(4000)).unwrap(),
            json!(4000)
        );
        assert!(p.check(Setting::MaxTokens, &json!(0)).is_err());
        assert!(p.check(Setting::MaxTokens, &json!(1.5)).is_err());
        assert_eq!(
            p.check(Setting::Model, &json!(" gpt-4 ")).unwrap(),
            json!("gpt-4")
        );
        assert!(p.check(Setting::Model, &json!("gpt 4")).is_err());
        assert!(p.check(Setting::Model, &json!("")).is_err());
        let no_size = p
            .check(Setting::ImageSize, &json!("1024x1024"))
            .unwrap_err();
        assert_eq!(no_size.0, "openai has no setting `image_size`");
        assert!(Provider::Dalle
            .check(Setting::ImageSize, &json!("512x512"))
            .is_err());
        assert!(Provider::Dalle
            .check(Setting::ImageQuality, &json!("hd"))
            .is_ok());
    }

    #[test]
    fn the_builtin_defaults_are_valid_and_complete() {
        for (provider, _, settings) in builtin() {
            assert_eq!(provider.check_all(&settings).unwrap(), settings);
            let named: Vec<Setting> = settings.keys().copied().collect();
            assert_eq!(named, provider.settings(), "{provider}");
        }
    }
}

//! Plan tiers. The tiers are fixed; what each tier includes (price, credits, limits) belongs
//! to the Plan aggregate.

use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
    strum::EnumIter,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PlanTier {
    Free,
    Starter,
    Growth,
    Scale,
}

impl PlanTier {
    /// The enum's text, as events, read models and CHECK constraints hold it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_round_trips_through_its_name() {
        use strum::IntoEnumIterator;
        for tier in PlanTier::iter() {
            assert_eq!(tier.as_str().parse::<PlanTier>(), Ok(tier));
            assert_eq!(
                serde_json::to_value(tier).unwrap(),
                serde_json::json!(tier.as_str())
            );
        }
        assert!("enterprise".parse::<PlanTier>().is_err());
    }
}

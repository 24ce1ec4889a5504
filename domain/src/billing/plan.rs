//! Plan tiers. The tiers are fixed; what each tier includes (price, credits, limits) belongs
//! to the Plan aggregate.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanTier {
    Free,
    Starter,
    Growth,
    Scale,
}

impl PlanTier {
    pub const ALL: [Self; 4] = [Self::Free, Self::Starter, Self::Growth, Self::Scale];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Starter => "starter",
            Self::Growth => "growth",
            Self::Scale => "scale",
        }
    }
}

impl fmt::Display for PlanTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlanTier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|tier| tier.as_str() == s)
            .ok_or_else(|| format!("unknown plan tier `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_round_trips_through_its_name() {
        for tier in PlanTier::ALL {
            assert_eq!(tier.as_str().parse::<PlanTier>(), Ok(tier));
            assert_eq!(
                serde_json::to_value(tier).unwrap(),
                serde_json::json!(tier.as_str())
            );
        }
        assert!("enterprise".parse::<PlanTier>().is_err());
    }
}

//! Plan tiers. The tiers are fixed; what each tier includes (price, credits, limits) belongs
//! to the Plan aggregate.

use crate::kit::text_enum;

text_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum PlanTier {
        Free,
        Starter,
        Growth,
        Scale,
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

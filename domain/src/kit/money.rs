//! Credits and money. Both are whole integers: credits are counted, money is kept in the
//! currency's minor units (cents). Never floats, so sums and refunds are exact.

use crate::kit::values::InvalidValue;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest number of credits a single operation may move (grant, debit, adjust, reverse).
/// Large enough for any real purchase, small enough that a typo of extra zeros is refused and
/// a balance cannot be driven towards `i64` overflow by a handful of commands.
pub const MAX_CREDIT_AMOUNT: i64 = 1_000_000_000;

/// The largest price a catalogue entry (plan, package) may carry, in minor units: ten million
/// major units. Sums of thousands of lines stay far from `i64` overflow, and a typo of extra
/// zeros is refused.
pub const MAX_PRICE_MINOR_UNITS: i64 = 1_000_000_000;

/// A number of credits. Signed, because a manual adjustment may subtract; a balance built from
/// these is kept non-negative by the Account aggregate, not by this type.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Self = Self(0);

    pub const fn new(value: i64) -> Self {
        Self(value)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// An amount a single operation may move in one direction: 1 to [`MAX_CREDIT_AMOUNT`].
    pub fn positive(value: i64) -> Result<Self, InvalidValue> {
        if (1..=MAX_CREDIT_AMOUNT).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidValue(format!(
                "credits must be between 1 and {MAX_CREDIT_AMOUNT}, got {value}"
            )))
        }
    }

    /// A signed amount (a manual adjustment): non-zero, at most [`MAX_CREDIT_AMOUNT`] either way.
    pub fn signed(value: i64) -> Result<Self, InvalidValue> {
        if value != 0 && value.unsigned_abs() <= MAX_CREDIT_AMOUNT.unsigned_abs() {
            Ok(Self(value))
        } else {
            Err(InvalidValue(format!(
                "an adjustment must be non-zero and at most {MAX_CREDIT_AMOUNT} credits either way, got {value}"
            )))
        }
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ISO 4217 currency code: three uppercase ASCII letters (`USD`, `EUR`, `PKR`).
/// Deserializing checks the same rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, InvalidValue> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_string()))
        } else {
            Err(InvalidValue(format!(
                "`{code}` is not a currency code (three uppercase letters, e.g. USD)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money in the currency's minor units (cents for USD, whole yen for JPY).
/// How many minor units make a major one is a presentation concern, so no decimal is kept here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor_units: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor_units: i64, currency: Currency) -> Self {
        Self {
            minor_units,
            currency,
        }
    }

    pub fn is_positive(&self) -> bool {
        self.minor_units > 0
    }

    /// A catalogue price: 0 (free) to [`MAX_PRICE_MINOR_UNITS`].
    pub fn price(minor_units: i64, currency: Currency) -> Result<Self, InvalidValue> {
        if (0..=MAX_PRICE_MINOR_UNITS).contains(&minor_units) {
            Ok(Self::new(minor_units, currency))
        } else {
            Err(InvalidValue(format!(
                "a price must be between 0 and {MAX_PRICE_MINOR_UNITS} minor units, got {minor_units}"
            )))
        }
    }
}

/// `amount × part / whole`, rounded half to even (banker's rounding): the share of a period's
/// price or credits that an upgrade charges or grants for the part of the period left. Exact in
/// integers; halves go to the even neighbour so that rounding does not drift one way across
/// many invoices. `whole` must be positive; `part` is clamped to `0..=whole`.
pub fn prorate(amount: i64, part: i64, whole: i64) -> i64 {
    assert!(whole > 0, "a proration needs a positive whole");
    let part = part.clamp(0, whole);
    let numerator = i128::from(amount) * i128::from(part);
    let whole = i128::from(whole);
    let quotient = numerator.div_euclid(whole);
    let twice_remainder = 2 * numerator.rem_euclid(whole);
    let rounded = if twice_remainder > whole || (twice_remainder == whole && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    };
    i64::try_from(rounded).expect("a share of an i64 fits an i64")
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} minor units", self.minor_units, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prorations_round_half_to_even() {
        assert_eq!(prorate(100, 1, 2), 50);
        assert_eq!(prorate(5, 1, 2), 2, "2.5 rounds to the even 2");
        assert_eq!(prorate(7, 1, 2), 4, "3.5 rounds to the even 4");
        assert_eq!(prorate(-5, 1, 2), -2, "-2.5 rounds to the even -2");
        assert_eq!(prorate(-7, 1, 2), -4, "-3.5 rounds to the even -4");
        assert_eq!(prorate(10, 1, 3), 3);
        assert_eq!(prorate(20, 1, 3), 7);
        assert_eq!(prorate(5_000, 15, 30), 2_500);
        assert_eq!(prorate(5_000, 45, 30), 5_000, "never more than the whole");
        assert_eq!(prorate(5_000, -1, 30), 0);
        assert_eq!(prorate(i64::MAX, 1, 1), i64::MAX);
    }

    #[test]
    fn currencies_are_three_uppercase_letters() {
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "USD");
        for bad in ["usd", "US", "USDT", "U$D", "", "ÜSD"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    }

    #[test]
    fn money_serializes_as_minor_units_and_a_currency_code() {
        let money = Money::new(5_000, Currency::parse("USD").unwrap());
        let json = serde_json::to_value(&money).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "minor_units": 5000, "currency": "USD" })
        );
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), money);
    }

    #[test]
    fn prices_are_free_or_positive_and_bounded() {
        let usd = || Currency::parse("USD").unwrap();
        assert_eq!(Money::price(0, usd()).unwrap().minor_units, 0);
        assert!(Money::price(MAX_PRICE_MINOR_UNITS, usd()).is_ok());
        for bad in [-1, MAX_PRICE_MINOR_UNITS + 1, i64::MIN] {
            assert!(Money::price(bad, usd()).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn positive_credit_amounts_are_bounded() {
        assert_eq!(Credits::positive(1).unwrap().get(), 1);
        assert!(Credits::positive(MAX_CREDIT_AMOUNT).is_ok());
        for bad in [0, -1, MAX_CREDIT_AMOUNT + 1, i64::MIN] {
            assert!(Credits::positive(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn signed_credit_amounts_are_non_zero_and_bounded_both_ways() {
        assert!(Credits::signed(-MAX_CREDIT_AMOUNT).is_ok());
        assert!(Credits::signed(MAX_CREDIT_AMOUNT).is_ok());
        for bad in [
            0,
            MAX_CREDIT_AMOUNT + 1,
            -MAX_CREDIT_AMOUNT - 1,
            i64::MIN,
            i64::MAX,
        ] {
            assert!(Credits::signed(bad).is_err(), "{bad} should be refused");
        }
    }
}

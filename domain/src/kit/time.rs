//! The bounds every date in the system lies within.
//!
//! Business time (`occurred_at`) is stated by callers, so it is checked at the edge: nothing
//! happened on this platform before [`EARLIEST`], and nothing is reported from the future beyond
//! the clock skew between machines. Dates in filters are checked against the same lower bound and
//! a generous upper one, so a date PostgreSQL cannot store (year -4713, year 300000) is the
//! client's mistake, answered as such, and never reaches a query or the log.

use crate::kit::values::InvalidValue;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// How far in the future a stated business time may lie (clock skew between machines).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// The earliest business time: 2000-01-01T00:00:00Z, before the platform existed.
pub fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The latest date a filter may name: 2100-01-01T00:00:00Z.
pub fn latest_filter_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// Checks a business time stated by a caller: not before [`earliest`], not after `now` plus
/// [`MAX_CLOCK_SKEW`].
pub fn business_time(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidValue> {
    if at < earliest() {
        return Err(InvalidValue(format!(
            "a business time cannot be before {}; got {at}",
            earliest().format("%Y-%m-%d")
        )));
    }
    if at > now + MAX_CLOCK_SKEW {
        return Err(InvalidValue(format!(
            "a business time cannot lie in the future (now is {now}, got {at})"
        )));
    }
    Ok(at)
}

/// Checks a date used to filter a list: between [`earliest`] and [`latest_filter_date`].
pub fn filter_date(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidValue> {
    if at < earliest() || at > latest_filter_date() {
        return Err(InvalidValue(format!(
            "`{field}` must lie between {} and {}; got {at}",
            earliest().format("%Y-%m-%d"),
            latest_filter_date().format("%Y-%m-%d")
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_time_lies_between_2000_and_now_plus_the_skew() {
        let now = Utc::now();
        assert!(business_time(now, now).is_ok());
        assert!(business_time(earliest(), now).is_ok());
        assert!(business_time(now + MAX_CLOCK_SKEW, now).is_ok());
        let ancient = Utc.with_ymd_and_hms(-4713, 1, 1, 0, 0, 0).unwrap();
        for bad in [
            ancient,
            earliest() - Duration::seconds(1),
            now + MAX_CLOCK_SKEW + Duration::seconds(1),
        ] {
            assert!(business_time(bad, now).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn filter_dates_lie_between_2000_and_2100() {
        assert!(filter_date("from", earliest()).is_ok());
        assert!(filter_date("to", latest_filter_date()).is_ok());
        let far = Utc.with_ymd_and_hms(200_000, 1, 1, 0, 0, 0).unwrap();
        assert!(filter_date("to", far).is_err());
        assert!(filter_date("from", earliest() - Duration::days(1)).is_err());
    }
}

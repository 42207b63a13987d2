//! Expiry and grace periods, as people type them: `720h`, `1h30m`, `7d`,
//! `2026-12-31`, or an RFC 3339 instant.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, Time};

/// The longest a rotated token's old secret may keep working.
pub const MAX_GRACE: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error("{0:?} is not a duration (use a number and a unit s, m, h, d or w, e.g. 720h, 1h30m or 7d)")]
    BadDuration(String),
    #[error("{0:?} is not a date or time (use YYYY-MM-DD or RFC 3339, e.g. 2026-12-31 or 2026-12-31T23:00:00Z)")]
    BadInstant(String),
    #[error("the expiry {0} is in the past")]
    InPast(String),
    #[error("give either expires_at or expires_in, not both")]
    Both,
    #[error("a duration must be longer than zero")]
    NotPositive,
    #[error("the grace period may be at most 7 days (168h)")]
    GraceTooLong,
}

/// Parses a Go-style duration (`720h`, `1h30m`, `90s`), plus `d` and `w`.
pub fn parse_duration(text: &str) -> Result<Duration, ExpiryError> {
    let bad = || ExpiryError::BadDuration(text.chars().take(40).collect());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for ch in trimmed.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let value: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match ch {
            's' => Duration::SECOND,
            'm' => Duration::MINUTE,
            'h' => Duration::HOUR,
            'd' => Duration::DAY,
            'w' => Duration::WEEK,
            _ => return Err(bad()),
        };
        let part = unit.checked_mul(i32::try_from(value).map_err(|_| bad())?).ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    if total <= Duration::ZERO {
        return Err(ExpiryError::NotPositive);
    }
    // Nothing we store goes past year 9999.
    if total > Duration::days(365 * 1000) {
        return Err(bad());
    }
    Ok(total)
}

/// Parses an RFC 3339 instant or a bare date, which means the end of that day (UTC).
pub fn parse_instant(text: &str) -> Result<OffsetDateTime, ExpiryError> {
    let trimmed = text.trim();
    if let Ok(instant) = OffsetDateTime::parse(trimmed, &Rfc3339) {
        return Ok(instant);
    }
    let date = Date::parse(trimmed, format_description!("[year]-[month]-[day]"))
        .map_err(|_| ExpiryError::BadInstant(trimmed.chars().take(40).collect()))?;
    Ok(date.with_time(Time::from_hms(23, 59, 59).expect("valid time")).assume_utc())
}

/// Resolves the two ways to give an expiry into one instant, checked against `now`.
pub fn resolve_expiry(
    expires_at: Option<&str>,
    expires_in: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ExpiryError> {
    let instant = match (expires_at, expires_in) {
        (Some(_), Some(_)) => return Err(ExpiryError::Both),
        (Some(at), None) => parse_instant(at)?,
        (None, Some(duration)) => now + parse_duration(duration)?,
        (None, None) => return Ok(None),
    };
    if instant <= now {
        return Err(ExpiryError::InPast(format_rfc3339(instant)));
    }
    Ok(Some(instant))
}

/// Parses a rotation grace period: a positive duration of at most 7 days.
pub fn parse_grace(text: &str) -> Result<Duration, ExpiryError> {
    let grace = parse_duration(text)?;
    if grace > MAX_GRACE {
        return Err(ExpiryError::GraceTooLong);
    }
    Ok(grace)
}

/// Whether something that expires at `expires_at` is expired at `now`.
pub fn is_expired(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    expires_at.is_some_and(|at| at <= now)
}

/// Formats a duration the way [`parse_duration`] reads it, in hours,
/// minutes and seconds: `1h`, `1h30m`, `168h`, `45s`.
pub fn format_duration(duration: Duration) -> String {
    let total = duration.whole_seconds().max(0);
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    for (value, unit) in [(hours, 'h'), (minutes, 'm'), (seconds, 's')] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

pub fn format_rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_else(|_| instant.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn go_style_durations_parse() {
        assert_eq!(parse_duration("720h").unwrap(), Duration::hours(720));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("175200h0m0s").unwrap(), Duration::hours(175200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::days(7));
        for bad in ["", "h", "10", "10x", "1.5h", "-1h", "99999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse_duration("0h").unwrap_err(), ExpiryError::NotPositive);
    }

    #[test]
    fn a_bare_date_means_the_end_of_that_day() {
        assert_eq!(parse_instant("2026-12-31").unwrap(), datetime!(2026-12-31 23:59:59 UTC));
        assert_eq!(parse_instant("2026-12-31T10:00:00+01:00").unwrap(), datetime!(2026-12-31 09:00 UTC));
        assert!(parse_instant("31/12/2026").is_err());
    }

    #[test]
    fn expiry_resolves_from_either_form_and_rejects_the_past() {
        assert_eq!(resolve_expiry(None, None, NOW).unwrap(), None);
        assert_eq!(resolve_expiry(None, Some("24h"), NOW).unwrap(), Some(datetime!(2026-11-26 12:00 UTC)));
        assert_eq!(
            resolve_expiry(Some("2026-01-01"), None, NOW).unwrap_err(),
            ExpiryError::InPast("2026-01-01T23:59:59Z".into())
        );
        assert_eq!(resolve_expiry(Some("2027-01-01"), Some("1h"), NOW).unwrap_err(), ExpiryError::Both);
    }

    #[test]
    fn durations_format_as_they_parse() {
        for (text, duration) in [("1h", Duration::HOUR), ("1h30m", Duration::minutes(90)), ("168h", Duration::days(7))]
        {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text).unwrap(), duration);
        }
        assert_eq!(format_duration(Duration::seconds(3725)), "1h2m5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn grace_is_capped_at_seven_days() {
        assert_eq!(parse_grace("168h").unwrap(), Duration::days(7));
        assert_eq!(parse_grace("169h").unwrap_err(), ExpiryError::GraceTooLong);
    }

    #[test]
    fn expiry_is_inclusive_of_the_instant() {
        assert!(is_expired(Some(NOW), NOW));
        assert!(!is_expired(Some(NOW + Duration::SECOND), NOW));
        assert!(!is_expired(None, NOW));
    }
}

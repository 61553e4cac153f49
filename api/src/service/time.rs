//! Durations and times as requests, files and flags give them: parsed once, bounded where they
//! enter, and added without overflow.

use chrono::{Duration, NaiveDateTime};

use crate::error::{Error, Field};

/// The longest duration any setting or request may name (soaks, expiries, thresholds): ten
/// years. Longer ones are refused where they enter, so no time computed from one can overflow.
pub const MAX_DURATION_DAYS: i64 = 3650;

/// Parses a duration like `30d`, `12h`, `90m`, `3600s` or `2w`, at most [`MAX_DURATION_DAYS`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30d, 12h, 90m or 3600s"))?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    };
    let too_long = || format!("{s:?} is longer than the maximum of {MAX_DURATION_DAYS}d (ten years)");
    match d {
        Some(d) if n > 0 && d <= Duration::days(MAX_DURATION_DAYS) => Ok(d),
        Some(_) if n > 0 => Err(too_long()),
        None if n > 0 => Err(too_long()),
        _ => Err(format!("{s:?} is not a positive duration like 30d, 12h, 90m or 3600s")),
    }
}

/// A duration as a request gave it: its value, and its text as given, which answers show back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    text: String,
    value: Duration,
}

impl Span {
    /// Parses a duration as [`parse_duration`] does.
    pub fn parse(text: &str) -> Result<Span, String> {
        Ok(Span {
            value: parse_duration(text)?,
            text: text.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn duration(&self) -> Duration {
        self.value
    }
}

/// A time as every answer and message shows it: RFC 3339 in UTC with milliseconds,
/// `2026-12-02T03:20:45.123Z`.
pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An expiry a request sets must lie ahead of `now`, and at most [`MAX_DURATION_DAYS`] ahead.
pub fn check_expiry(field: impl Into<Field>, at: NaiveDateTime, now: NaiveDateTime) -> Result<(), Error> {
    if at <= now {
        return Err(Error::refused(
            field,
            format!(
                "{} is not in the future (now is {}); an expiry must lie ahead",
                rfc3339(at),
                rfc3339(now)
            ),
        ));
    }
    if at - now > Duration::days(MAX_DURATION_DAYS) {
        return Err(Error::refused(
            field,
            format!("is more than the maximum of {MAX_DURATION_DAYS}d (ten years) ahead"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn durations_past_ten_years_are_refused_naming_the_maximum() {
        assert_eq!(parse_duration("3650d"), Ok(Duration::days(3650)));
        assert_eq!(
            parse_duration("3651d"),
            Err("\"3651d\" is longer than the maximum of 3650d (ten years)".to_owned())
        );
        assert_eq!(
            parse_duration("999999999d"),
            Err("\"999999999d\" is longer than the maximum of 3650d (ten years)".to_owned())
        );
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn an_expiry_in_the_past_is_refused_naming_the_field() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z")
            .unwrap()
            .naive_utc();
        let past = now - Duration::hours(1);
        let err = check_expiry("expires_at", past, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expires_at: 2026-12-01T23:00:00.000Z is not in the future (now is 2026-12-02T00:00:00.000Z); \
             an expiry must lie ahead"
        );
        assert!(check_expiry("expires_at", now + Duration::days(1), now).is_ok());
        assert!(check_expiry("expires_at", now + Duration::days(3651), now).is_err());
    }
}

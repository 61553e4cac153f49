//! When a tier's clusters may change: weekly change windows in a time zone, and freezes.
//!
//! Pure: the caller passes `now`. Windows are local wall-clock times in an IANA zone (so
//! "09:00 Europe/Berlin" stays 09:00 across daylight-saving changes); freezes are absolute.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::error::Error;

/// The day names a window takes, Monday first.
const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A weekly window: on these days, from `from` until `to` (local time in `tz`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeWindow {
    /// Monday first, no repeats.
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub tz: Tz,
}

/// A stretch of time in which nothing of the tier changes, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freeze {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: String,
}

/// Why a tier is closed for changes now, and when it opens again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// What closes it: "outside its change windows (…)" or "frozen … (reason)".
    pub why: String,
    /// The first time from now at which it is open; `None` when no window ever opens.
    pub next_opening: Option<DateTime<Utc>>,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.next_opening {
            Some(at) => write!(f, "{}; next opening {}", self.why, at.format("%Y-%m-%dT%H:%M:%SZ")),
            None => write!(f, "{}; no window opens again", self.why),
        }
    }
}

impl ChangeWindow {
    /// Parses a window's fields; each refusal names its field (`days`, `from`, `to`, `tz`).
    pub fn parse(days: &[&str], from: &str, to: &str, tz: &str) -> Result<ChangeWindow, Error> {
        let mut parsed = Vec::new();
        for day in days {
            let Some((_, d)) = DAYS.iter().find(|(name, _)| name == day) else {
                return Err(Error::invalid(
                    "days",
                    day,
                    "not a day (mon, tue, wed, thu, fri, sat, sun)",
                ));
            };
            if !parsed.contains(d) {
                parsed.push(*d);
            }
        }
        if parsed.is_empty() {
            return Err(Error::invalid("days", "", "name at least one day"));
        }
        parsed.sort_by_key(|d| d.num_days_from_monday());
        let time = |field: &'static str, text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| Error::invalid(field, text, "not a time HH:MM"))
        };
        let (from_t, to_t) = (time("from", from)?, time("to", to)?);
        if from_t >= to_t {
            return Err(Error::invalid(
                "to",
                to,
                format!("must be after from ({from}); a window ends the day it starts"),
            ));
        }
        let tz =
            Tz::from_str(tz).map_err(|_| Error::invalid("tz", tz, "not an IANA time zone (like Europe/Berlin)"))?;
        Ok(ChangeWindow {
            days: parsed,
            from: from_t,
            to: to_t,
            tz,
        })
    }

    /// The days as written back: `mon`, `tue`, …
    pub fn day_names(&self) -> Vec<&'static str> {
        self.days.iter().map(|d| day_name(*d)).collect()
    }

    fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let time = local.time();
        self.days.contains(&local.weekday()) && self.from <= time && time < self.to
    }

    /// The first start of this window after `at` (within the coming eight local days).
    fn next_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = at.with_timezone(&self.tz).date_naive();
        (0..=8)
            .filter_map(|n| today.checked_add_signed(Duration::days(n)))
            .filter(|d| self.days.contains(&d.weekday()))
            .filter_map(|d| self.start_on(d))
            .find(|start| *start > at)
    }

    /// The window's start on `date` in UTC; a start inside a daylight-saving gap opens when the
    /// clocks have moved (an hour later).
    fn start_on(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let local = date.and_time(self.from);
        let found = self.tz.from_local_datetime(&local).earliest().or_else(|| {
            self.tz
                .from_local_datetime(&local.checked_add_signed(Duration::hours(1))?)
                .earliest()
        })?;
        Some(found.with_timezone(&Utc))
    }
}

impl fmt::Display for ChangeWindow {
    /// `mon–thu 09:00–16:00 Europe/Berlin`: runs of consecutive days joined with a dash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut runs: Vec<(Weekday, Weekday)> = Vec::new();
        for d in &self.days {
            match runs.last_mut() {
                Some((_, last)) if last.succ() == *d && *d != Weekday::Mon => *last = *d,
                _ => runs.push((*d, *d)),
            }
        }
        let days: Vec<String> = runs
            .iter()
            .map(|(a, b)| match a == b {
                true => day_name(*a).to_owned(),
                false => format!("{}–{}", day_name(*a), day_name(*b)),
            })
            .collect();
        write!(
            f,
            "{} {}–{} {}",
            days.join(","),
            self.from.format("%H:%M"),
            self.to.format("%H:%M"),
            self.tz.name()
        )
    }
}

fn day_name(d: Weekday) -> &'static str {
    DAYS.iter().find(|(_, x)| *x == d).map_or("?", |(name, _)| name)
}

impl Freeze {
    /// Parses a freeze; refusals name `from`, `to` or `reason`.
    pub fn parse(from: &str, to: &str, reason: &str) -> Result<Freeze, Error> {
        let time = |field: &'static str, text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| Error::invalid(field, text, format!("not an RFC 3339 time: {e}")))
        };
        let (from_t, to_t) = (time("from", from)?, time("to", to)?);
        if from_t >= to_t {
            return Err(Error::invalid("to", to, format!("must be after from ({from})")));
        }
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", reason, "say why the tier is frozen"));
        }
        Ok(Freeze {
            from: from_t,
            to: to_t,
            reason: reason.to_owned(),
        })
    }

    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// Whether a tier with these windows and freezes is closed at `now`, and why.
pub fn closed_at(windows: &[ChangeWindow], freezes: &[Freeze], now: DateTime<Utc>) -> Option<Closed> {
    let why = match freezes.iter().find(|f| f.contains(now)) {
        Some(f) => format!("frozen until {} ({})", f.to.format("%Y-%m-%dT%H:%M:%SZ"), f.reason),
        None if windows.is_empty() || windows.iter().any(|w| w.contains(now)) => return None,
        None => {
            let list: Vec<String> = windows.iter().map(ToString::to_string).collect();
            format!("outside its change windows ({})", list.join("; "))
        }
    };
    Some(Closed {
        why,
        next_opening: next_opening(windows, freezes, now),
    })
}

/// The first time at or after `now` inside a window (when there are any) and outside every
/// freeze. Freezes and windows may chain (a freeze ends outside a window); a bounded number of
/// hops finds the opening of any sensible calendar.
fn next_opening(windows: &[ChangeWindow], freezes: &[Freeze], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut t = now;
    for _ in 0..256 {
        if let Some(end) = freezes.iter().filter(|f| f.contains(t)).map(|f| f.to).max() {
            t = end;
            continue;
        }
        if windows.is_empty() || windows.iter().any(|w| w.contains(t)) {
            return Some(t);
        }
        t = windows.iter().filter_map(|w| w.next_start(t)).min()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn office() -> ChangeWindow {
        ChangeWindow::parse(&["mon", "tue", "wed", "thu"], "09:00", "16:00", "Europe/Berlin").unwrap()
    }

    #[test]
    fn a_window_reads_as_its_days_hours_and_zone() {
        assert_eq!(office().to_string(), "mon–thu 09:00–16:00 Europe/Berlin");
        let odd = ChangeWindow::parse(&["fri", "mon", "wed", "sat"], "06:00", "07:30", "UTC").unwrap();
        assert_eq!(odd.to_string(), "mon,wed,fri–sat 06:00–07:30 UTC");
    }

    #[test]
    fn outside_the_window_names_it_and_the_next_opening_in_utc() {
        // Wednesday 2 December 2026, 17:00 in Berlin (UTC+1): closed until Thursday 09:00.
        let closed = closed_at(&[office()], &[], at("2026-12-02T16:00:00Z")).unwrap();
        assert_eq!(
            closed.to_string(),
            "outside its change windows (mon–thu 09:00–16:00 Europe/Berlin); next opening 2026-12-03T08:00:00Z"
        );
        assert_eq!(closed_at(&[office()], &[], at("2026-12-03T08:00:00Z")), None);
        // Thursday evening: the next opening is Monday.
        let weekend = closed_at(&[office()], &[], at("2026-12-03T15:00:00Z")).unwrap();
        assert_eq!(weekend.next_opening, Some(at("2026-12-07T08:00:00Z")));
    }

    #[test]
    fn summer_time_keeps_the_local_hour() {
        let closed = closed_at(&[office()], &[], at("2026-07-01T06:30:00Z")).unwrap();
        assert_eq!(closed.next_opening, Some(at("2026-07-01T07:00:00Z")));
    }

    #[test]
    fn a_freeze_closes_even_inside_a_window_and_opens_at_the_next_window_after_it() {
        let freeze = Freeze::parse("2026-12-03T00:00:00Z", "2026-12-03T12:00:00Z", "year-end").unwrap();
        let closed = closed_at(&[office()], std::slice::from_ref(&freeze), at("2026-12-03T09:00:00Z")).unwrap();
        assert_eq!(
            closed.to_string(),
            "frozen until 2026-12-03T12:00:00Z (year-end); next opening 2026-12-03T12:00:00Z"
        );
        let no_windows = closed_at(&[], &[freeze], at("2026-12-03T01:00:00Z")).unwrap();
        assert_eq!(no_windows.next_opening, Some(at("2026-12-03T12:00:00Z")));
    }

    #[test]
    fn bad_fields_are_refused_naming_the_field() {
        let field = |e: Error| match e {
            Error::InvalidValue { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(ChangeWindow::parse(&["monday"], "09:00", "16:00", "UTC").unwrap_err()),
            "days"
        );
        assert_eq!(
            field(ChangeWindow::parse(&["mon"], "9am", "16:00", "UTC").unwrap_err()),
            "from"
        );
        assert_eq!(
            field(ChangeWindow::parse(&["mon"], "16:00", "09:00", "UTC").unwrap_err()),
            "to"
        );
        assert_eq!(
            field(ChangeWindow::parse(&["mon"], "09:00", "16:00", "Mars/Olympus").unwrap_err()),
            "tz"
        );
        assert_eq!(
            field(Freeze::parse("2026-12-24", "2026-12-27T00:00:00Z", "x").unwrap_err()),
            "from"
        );
        assert_eq!(
            field(Freeze::parse("2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z", " ").unwrap_err()),
            "reason"
        );
    }
}

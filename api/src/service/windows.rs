//! Change windows and freezes in the service: which writes they hold back, and what the
//! runner waits for. The calendar itself is `catalog::windows`.
//!
//! A person's write (a caller with a role) that changes what a closed tier's clusters run is
//! refused, checked by the engine on every changed cluster (`plan::recompute`), so no path
//! around it exists. Break-glass skips it. The service's own writes are not refused: the runner
//! waits for the window before it moves (its gate), and expiries, start-up files and imports
//! carry out what was decided before.

use std::collections::BTreeSet;

use catalog::{Catalog, Tier};
use chrono::{DateTime, NaiveDateTime, Utc};

use super::Caller;
use crate::error::Error;

/// Whether this caller's writes are held to the tiers' windows and freezes.
pub(super) fn holds(caller: &Caller) -> bool {
    caller.role.is_some() && caller.break_glass.is_none()
}

/// The tiers a write found open, so a fleet-wide write asks each tier once.
#[derive(Default)]
pub(super) struct OpenTiers(BTreeSet<String>);

impl OpenTiers {
    /// Refuses (422, naming the tier, the window or freeze and the next opening) when `tier`
    /// is closed at `now`.
    pub(super) fn check(&mut self, tier: &Tier, now: NaiveDateTime) -> Result<(), Error> {
        if self.0.contains(tier.name.as_str()) {
            return Ok(());
        }
        tier.policy.check_open(&tier.name, utc(now))?;
        self.0.insert(tier.name.to_string());
        Ok(())
    }
}

fn utc(now: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(now, Utc)
}

/// Why a step reaching `tiers` waits at `now`: the first closed tier's refusal, if any.
pub fn closed(catalog: &Catalog, tiers: &BTreeSet<String>, now: NaiveDateTime) -> Option<String> {
    tiers
        .iter()
        .filter_map(|name| catalog.tier(name).ok())
        .find_map(|t| t.policy.check_open(&t.name, utc(now)).err())
        .map(|e| e.to_string())
}

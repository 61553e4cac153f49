//! Override expiry: an override past its `expires_at` stops applying, which changes the
//! cluster's effective config without anyone writing; the sweep turns that into a revision.

use std::sync::Mutex;

use chrono::NaiveDateTime;

use super::{AppState, Caller};
use crate::error::Error;
use crate::store;

/// Remembers how far the last sweep got, so each expiry is handled once.
#[derive(Default)]
pub struct Sweeper {
    last: Mutex<Option<NaiveDateTime>>,
}

impl Sweeper {
    /// Re-resolves the clusters whose overrides expired since the last sweep (every expired one
    /// on the first sweep); returns how many clusters got a new revision.
    pub fn sweep(&self, state: &AppState) -> Result<usize, Error> {
        let now = state.clock.now();
        let after = *self
            .last
            .lock()
            .map_err(|_| Error::Internal("the sweeper lock was poisoned".into()))?;
        let expired = store::expired_overrides(&mut *state.conn()?, after, now)?;
        if expired.is_empty() {
            self.remember(now)?;
            return Ok(0);
        }
        let caller = Caller::internal("platform-catalog", format!("expiry-{}", now.and_utc().timestamp()));
        let outcome = state.write(&caller, false, "override expired", |ctx| {
            for a in &expired {
                ctx.touch(&a.cluster);
                let target = format!("cluster/{}/components/{}", a.cluster, a.component);
                let detail = serde_json::json!({"oci_tag": a.oci_tag, "component_path": a.component_path,
                    "expires_at": a.expires_at.map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))});
                ctx.audit("override.expired", &target, Some(&detail), None::<&serde_json::Value>);
            }
            Ok(())
        })?;
        self.remember(now)?;
        Ok(outcome.changes.len())
    }

    fn remember(&self, now: NaiveDateTime) -> Result<(), Error> {
        *self
            .last
            .lock()
            .map_err(|_| Error::Internal("the sweeper lock was poisoned".into()))? = Some(now);
        Ok(())
    }
}

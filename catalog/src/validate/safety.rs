//! A tier policy's change windows, freezes and approvals, parsed with findings naming each field.

use serde_json::Value;

use super::{get, items, Checker};
use crate::error::Error;
use crate::policy::TierPolicy;
use crate::windows::{ChangeWindow, Freeze};
use crate::yaml::JsonPath;

impl Checker<'_> {
    /// A policy's windows, freezes and approvals; false when one of them was refused.
    pub(super) fn safety(&mut self, p: &Value, at: &JsonPath, policy: &mut TierPolicy) -> bool {
        let mut complete = true;
        let text = |v: &Value, key: &str| get(v, key).and_then(Value::as_str).unwrap_or_default().to_owned();
        for (j, w) in items(get(p, "windows")).iter().enumerate() {
            let days: Vec<&str> = items(get(w, "days")).iter().filter_map(Value::as_str).collect();
            match ChangeWindow::parse(&days, &text(w, "from"), &text(w, "to"), &text(w, "tz")) {
                Ok(window) => policy.windows.push(window),
                Err(e) => {
                    complete = false;
                    self.fail(
                        at.key("windows").index(j).key(field_of(&e)),
                        "change-window",
                        e.to_string(),
                    );
                }
            }
        }
        for (j, f) in items(get(p, "freezes")).iter().enumerate() {
            match Freeze::parse(&text(f, "from"), &text(f, "to"), &text(f, "reason")) {
                Ok(freeze) => policy.freezes.push(freeze),
                Err(e) => {
                    complete = false;
                    self.fail(at.key("freezes").index(j).key(field_of(&e)), "freeze", e.to_string());
                }
            }
        }
        if let Some(n) = get(p, "approvals").and_then(Value::as_u64) {
            policy.approvals = u32::try_from(n).unwrap_or(u32::MAX);
        }
        complete
    }
}

/// The field a value refusal names (`days`, `from`, …).
fn field_of(e: &Error) -> &'static str {
    match e {
        Error::InvalidValue { field, .. } => field,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::validate::load_value;

    fn catalog(policy: serde_json::Value) -> serde_json::Value {
        json!({"artifacts": [{"id": "platform", "url": "oci://registry.example.com/platform", "oci_tag": "v1.0.0"}],
            "tiers": [{"name": "prod", "policy": policy}], "components": []})
    }

    #[test]
    fn windows_freezes_and_approvals_read_back_as_written() {
        let policy = json!({"windows": [{"days": ["mon", "tue"], "from": "09:00", "to": "16:00", "tz": "Europe/Berlin"}],
            "freezes": [{"from": "2026-12-21T00:00:00Z", "to": "2027-01-04T00:00:00Z", "reason": "year-end"}],
            "approvals": 2});
        let loaded = load_value("catalog", catalog(policy.clone())).unwrap();
        let tier = &loaded.catalog.tiers()[0];
        assert_eq!(tier.policy.approvals, 2);
        assert_eq!(tier.policy.windows[0].to_string(), "mon–tue 09:00–16:00 Europe/Berlin");
        let written = &loaded.catalog.to_document()["tiers"][0]["policy"];
        for key in ["windows", "freezes", "approvals"] {
            assert_eq!(written[key], policy[key], "{key}");
        }
    }

    #[test]
    fn a_bad_window_is_a_finding_on_its_field() {
        let policy = json!({"windows": [{"days": ["mon"], "from": "09:00", "to": "16:00", "tz": "Europe/Atlantis"}]});
        let report = load_value("catalog", catalog(policy)).unwrap_err();
        let found: Vec<(String, String)> = report.errors().map(|d| (d.path.clone(), d.rule.clone())).collect();
        assert_eq!(
            found,
            [("$.tiers[0].policy.windows[0].tz".to_owned(), "change-window".to_owned())]
        );
    }
}

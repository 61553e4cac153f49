//! The wire form of promotion safety: a tier's change windows and freezes, a rollout's approvals.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::tiers::{FreezeSpec, SafetySpec, WindowSpec};

/// A weekly change window: on `days`, from `from` until `to`, local time in `tz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeWindowDto {
    #[schema(example = json!(["mon", "tue", "wed", "thu"]))]
    pub days: Vec<String>,
    /// HH:MM, local.
    #[schema(example = "09:00")]
    pub from: String,
    /// HH:MM, local, after `from`.
    #[schema(example = "16:00")]
    pub to: String,
    /// An IANA time zone.
    #[schema(example = "Europe/Berlin")]
    pub tz: String,
}

/// A stretch in which nothing of the tier changes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeDto {
    /// RFC 3339.
    pub from: String,
    /// RFC 3339, after `from`.
    pub to: String,
    pub reason: String,
}

/// Who approved a rollout's wave, and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDto {
    /// The wave's position, from 0.
    pub wave: i64,
    pub by: String,
    /// RFC 3339 UTC.
    pub at: String,
}

pub(super) fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The policy's safety parts as the service takes them.
pub(super) fn safety_spec(windows: Vec<ChangeWindowDto>, freezes: Vec<FreezeDto>, approvals: u32) -> SafetySpec {
    SafetySpec {
        windows: windows
            .into_iter()
            .map(|w| WindowSpec {
                days: w.days,
                from: w.from,
                to: w.to,
                tz: w.tz,
            })
            .collect(),
        freezes: freezes
            .into_iter()
            .map(|f| FreezeSpec {
                from: f.from,
                to: f.to,
                reason: f.reason,
            })
            .collect(),
        approvals,
    }
}

/// The windows and freezes of a tier view, for its DTO.
pub(super) fn safety_dto(s: &SafetySpec) -> (Vec<ChangeWindowDto>, Vec<FreezeDto>) {
    let windows = s
        .windows
        .iter()
        .map(|w| ChangeWindowDto {
            days: w.days.clone(),
            from: w.from.clone(),
            to: w.to.clone(),
            tz: w.tz.clone(),
        })
        .collect();
    let freezes = s
        .freezes
        .iter()
        .map(|f| FreezeDto {
            from: f.from.clone(),
            to: f.to.clone(),
            reason: f.reason.clone(),
        })
        .collect();
    (windows, freezes)
}

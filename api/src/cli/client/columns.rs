//! The columns `get` prints for each list: the first few always, the rest with `-o wide`.

use crate::client::output::{self, or_dash};
use crate::http::dto::{ArtifactDto, ClusterDto, ComponentDto, TagDto, TierDto};
use crate::http::hold_dto::HoldDto;
use crate::http::observed_dto::FindingDto;
use crate::http::rollout_dto::RolloutDto;

/// A table's headers and rows; `wide` adds columns.
pub type Columns = (Vec<&'static str>, Vec<Vec<String>>);

/// The first columns always, the rest only when wide.
fn cut(headers: Vec<&'static str>, rows: Vec<Vec<String>>, narrow: usize, wide: bool) -> Columns {
    match wide {
        true => (headers, rows),
        false => (
            headers.into_iter().take(narrow).collect(),
            rows.into_iter().map(|r| r.into_iter().take(narrow).collect()).collect(),
        ),
    }
}

pub fn clusters(items: &[ClusterDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.tier.clone(),
                output::labels(&c.labels),
                c.revision.to_string(),
                c.enabled.to_string(),
                c.flux_namespace.clone(),
                or_dash(c.oci_tag.as_deref()),
                c.updated_at.clone(),
            ]
        })
        .collect();
    let headers = vec![
        "NAME",
        "TIER",
        "LABELS",
        "REVISION",
        "ENABLED",
        "NAMESPACE",
        "PINNED TAG",
        "UPDATED",
    ];
    cut(headers, rows, 4, wide)
}

pub fn components(items: &[ComponentDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.artifact.clone(),
                or_dash(c.oci_tag.as_deref()),
                c.component_path.clone(),
                c.category.clone(),
                c.enabled.to_string(),
                or_dash(Some(&c.depends_on.join(","))),
                c.interval.clone(),
            ]
        })
        .collect();
    let headers = vec![
        "ID",
        "ARTIFACT",
        "OWN TAG",
        "PATH",
        "CATEGORY",
        "ENABLED",
        "DEPENDS ON",
        "INTERVAL",
    ];
    cut(headers, rows, 4, wide)
}

pub fn tiers(items: &[TierDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|t| {
            let p = &t.policy;
            vec![
                t.name.clone(),
                p.allow_mutable.to_string(),
                p.allow_prerelease.to_string(),
                p.pin_digest.to_string(),
                p.require_known_tag.to_string(),
                or_dash(p.pattern.as_deref()),
            ]
        })
        .collect();
    let headers = vec![
        "NAME",
        "MUTABLE",
        "PRERELEASE",
        "PIN DIGEST",
        "KNOWN TAG ONLY",
        "PATTERN",
    ];
    cut(headers, rows, 5, wide)
}

pub fn artifacts(items: &[ArtifactDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.oci_tag.clone(),
                a.tag_count.to_string(),
                a.url.clone(),
                a.insecure.to_string(),
                or_dash(a.sync_interval.as_deref()),
            ]
        })
        .collect();
    cut(
        vec!["ID", "DEFAULT TAG", "BUILDS", "URL", "INSECURE", "SYNC EVERY"],
        rows,
        4,
        wide,
    )
}

pub fn tags(items: &[TagDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|t| {
            let kind = serde_json::to_value(t.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            vec![
                t.tag.clone(),
                kind,
                t.registered_at.clone(),
                or_dash(t.digest.as_deref()),
                or_dash(t.first_seen_at.as_deref()),
            ]
        })
        .collect();
    cut(vec!["TAG", "KIND", "REGISTERED", "DIGEST", "FIRST SEEN"], rows, 3, wide)
}

/// What a rollout moves: its component, or `release <artifact>`.
pub fn rollout_target(r: &RolloutDto) -> String {
    r.component.clone().unwrap_or_else(|| format!("release {}", r.artifact))
}

/// A rollout's state as the API names it.
pub fn rollout_state(r: &RolloutDto) -> String {
    r.state
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "planned (dry run)".to_owned())
}

pub fn rollouts(items: &[RolloutDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|r| {
            vec![
                r.id.map(|i| i.to_string()).unwrap_or_default(),
                rollout_target(r),
                r.oci_tag.clone(),
                rollout_state(r),
                format!("{}/{}", r.steps_applied, r.steps_total),
                r.created_by.clone(),
                r.created_at.clone(),
                or_dash(r.reason.as_deref()),
            ]
        })
        .collect();
    cut(
        vec![
            "ID",
            "TARGET",
            "TAG",
            "STATE",
            "STEPS",
            "CREATED BY",
            "CREATED",
            "REASON",
        ],
        rows,
        5,
        wide,
    )
}

pub fn holds(items: &[HoldDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                or_dash(h.cluster.as_deref()),
                or_dash(h.component.as_deref()),
                h.active.to_string(),
                or_dash(h.expires_at.as_deref()),
                h.reason.clone(),
                h.created_by.clone(),
            ]
        })
        .collect();
    cut(
        vec![
            "ID",
            "CLUSTER",
            "COMPONENT",
            "ACTIVE",
            "EXPIRES",
            "REASON",
            "CREATED BY",
        ],
        rows,
        6,
        wide,
    )
}

pub fn drift(items: &[FindingDto], wide: bool) -> Columns {
    let rows = items
        .iter()
        .map(|f| {
            vec![
                f.kind.clone(),
                f.tier.clone(),
                or_dash(f.cluster.as_deref()),
                or_dash(f.component.as_deref()),
                f.detail.clone(),
                or_dash(f.desired_tag.as_deref()),
                or_dash(f.applied_revision.as_deref()),
                or_dash(f.last_event_at.as_deref()),
            ]
        })
        .collect();
    cut(
        vec![
            "KIND",
            "TIER",
            "CLUSTER",
            "COMPONENT",
            "DETAIL",
            "DESIRED",
            "APPLIED",
            "LAST EVENT",
        ],
        rows,
        5,
        wide,
    )
}

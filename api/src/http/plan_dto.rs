//! What a write does, as the API writes it: the plan a dry run answers and the changes a write made.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::{ClusterChange, ComponentChange, TagPath};

/// The tag and path a component runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagPathDto {
    pub oci_tag: String,
    pub component_path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComponentChangeDto {
    pub component: String,
    pub from: Option<TagPathDto>,
    pub to: Option<TagPathDto>,
}

/// A cluster whose effective config the write changes (or, on a dry run, would change).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterChangeDto {
    pub cluster: String,
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    pub components: Vec<ComponentChangeDto>,
    /// On a dry run: the rendered diff, component by component (`-` goes, `+` comes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// What a write does: on a dry run, the plan; otherwise what it did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanDto {
    pub dry_run: bool,
    pub catalog_revision: i64,
    pub changes: Vec<ClusterChangeDto>,
}

fn tag_path(t: &Option<TagPath>) -> Option<TagPathDto> {
    t.as_ref().map(|t| TagPathDto {
        oci_tag: t.oci_tag.clone(),
        component_path: t.component_path.clone(),
    })
}

impl From<&ComponentChange> for ComponentChangeDto {
    fn from(c: &ComponentChange) -> Self {
        ComponentChangeDto {
            component: c.component.clone(),
            from: tag_path(&c.from),
            to: tag_path(&c.to),
        }
    }
}

impl From<&ClusterChange> for ClusterChangeDto {
    fn from(c: &ClusterChange) -> Self {
        ClusterChangeDto {
            cluster: c.cluster.clone(),
            from_revision: c.from_revision,
            to_revision: c.to_revision,
            components: c.components.iter().map(Into::into).collect(),
            diff: c.diff.clone(),
        }
    }
}

impl PlanDto {
    pub fn new(dry_run: bool, catalog_revision: i64, changes: &[ClusterChange]) -> Self {
        PlanDto {
            dry_run,
            catalog_revision,
            changes: changes.iter().map(Into::into).collect(),
        }
    }
}

/// A [`PlanDto`] as it is written out, borrowing the write's changes: a write that reaches a
/// fleet lists every cluster's changes, and copying them into DTOs first would hold them twice.
/// Serializes exactly as the `PlanDto` of the same changes (a test holds the two together).
#[derive(Serialize)]
pub struct PlanView<'a> {
    pub dry_run: bool,
    pub catalog_revision: i64,
    pub changes: ChangesView<'a>,
}

impl<'a> PlanView<'a> {
    pub fn new(dry_run: bool, catalog_revision: i64, changes: &'a [ClusterChange]) -> Self {
        PlanView {
            dry_run,
            catalog_revision,
            changes: ChangesView(changes),
        }
    }
}

/// The changes of a [`PlanView`], written one by one.
pub struct ChangesView<'a>(&'a [ClusterChange]);

/// One [`ClusterChangeDto`], borrowed.
#[derive(Serialize)]
struct ClusterChangeView<'a> {
    cluster: &'a str,
    from_revision: Option<i64>,
    to_revision: i64,
    /// `ComponentChange` serializes as `ComponentChangeDto` does.
    components: &'a [ComponentChange],
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a str>,
}

impl Serialize for ChangesView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|c| ClusterChangeView {
            cluster: &c.cluster,
            from_revision: c.from_revision,
            to_revision: c.to_revision,
            components: &c.components,
            diff: c.diff.as_deref(),
        }))
    }
}

#[cfg(test)]
mod plan_view_tests {
    use std::sync::Arc;

    use super::*;

    fn change(cluster: &str, diff: Option<&str>) -> ClusterChange {
        let tag_path = |tag: &str| TagPath {
            oci_tag: tag.into(),
            component_path: "core/grafana/1.0.0".into(),
        };
        ClusterChange {
            cluster: cluster.into(),
            from_revision: Some(3),
            to_revision: 4,
            components: Arc::new(vec![
                ComponentChange {
                    component: "grafana".into(),
                    from: Some(tag_path("v1.1.0")),
                    to: Some(tag_path("v1.2.0")),
                    artifact: "platform".into(),
                    overlay: "./core/grafana/1.0.0/prod".into(),
                },
                ComponentChange {
                    component: "loki".into(),
                    from: Some(tag_path("v1.1.0")),
                    to: None,
                    artifact: String::new(),
                    overlay: String::new(),
                },
            ]),
            diff: diff.map(str::to_owned),
            desired: Arc::default(),
        }
    }

    #[test]
    fn a_plan_written_from_the_changes_reads_as_its_documented_dto() {
        let changes = vec![change("prod-eu-1", None), change("prod-eu-2", Some("-a\n+b\n"))];
        for dry_run in [false, true] {
            let view = serde_json::to_string(&PlanView::new(dry_run, 7, &changes)).expect("serializes");
            let dto = serde_json::to_string(&PlanDto::new(dry_run, 7, &changes)).expect("serializes");
            assert_eq!(view, dto);
        }
    }
}

//! `/api/v1/hotfixes`: one component pinned to a hotfix build on selected clusters.

use actix_web::{post, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::extract::{caller_breaking_glass, query, Body, WriteParams};
use catalog::{ClusterName, ComponentId, ComponentPath, OciTag, TierName};

use super::hold_dto::{HotfixDto, HotfixInput, SelectorInput, SkippedDto};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::{Error, Field};
use crate::service::hotfixes::{self, CreateHotfix, Selector};

impl TryFrom<HotfixInput> for CreateHotfix {
    type Error = Error;
    fn try_from(i: HotfixInput) -> Result<Self, Error> {
        Ok(CreateHotfix {
            oci_tag: Field::new("oci_tag").parsed(OciTag::parse(&i.oci_tag))?,
            component_path: i
                .component_path
                .map(|p| Field::new("component_path").parsed(ComponentPath::parse(&p)))
                .transpose()?,
            component: Field::new("component").parsed(ComponentId::parse(&i.component))?,
            selector: Selector::try_from(i.selector)?,
            reason: i.reason,
        })
    }
}

impl TryFrom<SelectorInput> for Selector {
    type Error = Error;
    fn try_from(i: SelectorInput) -> Result<Self, Error> {
        let at = |list: &'static str, n: usize| Field::new("selector").field(list).index(n);
        Ok(Selector {
            tiers: (i.tiers.iter().enumerate())
                .map(|(n, t)| at("tiers", n).parsed(TierName::parse(t)))
                .collect::<Result<_, _>>()?,
            clusters: (i.clusters.iter().enumerate())
                .map(|(n, c)| at("clusters", n).parsed(ClusterName::parse(c)))
                .collect::<Result<_, _>>()?,
            labels: i.labels,
        })
    }
}

/// Pin `component` to the hotfix `oci_tag` (and `component_path`) on the clusters the
/// selector picks, as overrides with reason `hotfix`, in one write. Held clusters and clusters
/// a rollout moves are skipped and listed. After a release to a newer tag the overrides show
/// as stale (`GET /overrides/stale`) and collapse.
#[utoipa::path(tag = "hotfixes", params(WriteParams), request_body = HotfixInput,
    responses((status = 200, description = "What changed (on a dry run, what would)", body = HotfixDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "The selector names no tiers, labels or clusters (a hotfix everywhere is a release) or picks no cluster, the component is unknown, a tier's policy refuses the tag, or a field is invalid", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/hotfixes")]
pub async fn create_hotfix(state: Shared, req: HttpRequest, body: Body<HotfixInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let spec = CreateHotfix::try_from(input)?;
    let (component, oci_tag) = (spec.component.to_string(), spec.oci_tag.to_string());
    let outcome = blocking(move || hotfixes::hotfix(&state, &caller, spec, params.dry_run)).await?;
    Ok(HttpResponse::Ok().json(HotfixDto {
        dry_run: outcome.dry_run,
        component,
        oci_tag,
        clusters: outcome.value.clusters.clone(),
        skipped: outcome.value.skipped.iter().map(SkippedDto::from).collect(),
        changes: outcome.changes.iter().map(Into::into).collect(),
    }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_hotfix);
}

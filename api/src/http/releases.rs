//! `/api/v1/releases`: moving the catalog's default tag to a new build.

use actix_web::{post, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use catalog::{ArtifactId, ComponentId, ComponentPath, OciTag};

use super::dto::{PlanView, ReleaseComponentInput, ReleaseInput};
use super::extract::{caller_breaking_glass, query, Body, WriteParams};
use super::hold_dto::{HeldDto, LeftAloneDto, ReleaseDto, ReleaseView};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::{Error, Field};
use crate::service::releases::{self, CreateRelease, ReleaseComponent};

impl TryFrom<ReleaseInput> for CreateRelease {
    type Error = Error;
    fn try_from(i: ReleaseInput) -> Result<Self, Error> {
        let component = |(n, c): (usize, ReleaseComponentInput)| {
            let at = Field::new("components").index(n);
            Ok(ReleaseComponent {
                id: at.clone().field("id").parsed(ComponentId::parse(&c.id))?,
                component_path: c
                    .component_path
                    .map(|p| at.field("component_path").parsed(ComponentPath::parse(&p)))
                    .transpose()?,
            })
        };
        Ok(CreateRelease {
            oci_tag: Field::new("oci_tag").parsed(OciTag::parse(&i.oci_tag))?,
            artifact: Field::new("artifact").parsed(ArtifactId::parse(&i.artifact))?,
            components: i
                .components
                .map(|list| {
                    list.into_iter()
                        .enumerate()
                        .map(component)
                        .collect::<Result<_, Error>>()
                })
                .transpose()?,
            reason: i.reason,
        })
    }
}

/// Release a build: without `components` the artifact's default tag moves (components with
/// their own tag keep it); with them, those components' own tag (and path) move instead.
/// Every tier's policy must allow the tag. Held components stay where they are (an override at
/// what they run, listed in `held`). Answers with what changed on which cluster, and in
/// `left_alone` the components it did not move and why (their own tag, a cluster's override or
/// pin).
#[utoipa::path(tag = "releases", params(WriteParams), request_body = ReleaseInput,
    responses((status = 200, description = "What changed (on a dry run, what would), and the held components kept where they were", body = ReleaseDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "An unknown artifact or component, a tier's policy refuses the tag (rule, tier and tag named), or a field is invalid", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/releases")]
pub async fn create_release(state: Shared, req: HttpRequest, body: Body<ReleaseInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let spec = CreateRelease::try_from(input)?;
    let outcome = blocking(move || releases::release(&state, &caller, spec, params.dry_run)).await?;
    // Written from the write's own change list: a fleet-wide release's is large.
    Ok(HttpResponse::Ok().json(ReleaseView {
        plan: PlanView::new(outcome.dry_run, outcome.catalog_revision, &outcome.changes),
        held: outcome.value.held.iter().map(HeldDto::from).collect(),
        left_alone: outcome.value.left_alone.iter().map(LeftAloneDto::from).collect(),
    }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_release);
}

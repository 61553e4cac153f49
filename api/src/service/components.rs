//! Catalog components: every change is a new catalog revision, validated as a whole.

use catalog::document::component_document;
use catalog::Component;
use serde::Serialize;
use serde_json::Value;

use super::{findings, AppState, Caller, Ctx, Expected, Outcome};
use crate::error::{Error, Field};
use crate::store;

/// A component with every setting resolved, as the service shows it. It serializes as the API
/// shows it, field for field, so its [`version`](Self::version) is the ETag clients hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComponentView {
    pub id: String,
    pub category: String,
    pub artifact: String,
    pub component_path: String,
    pub oci_tag: Option<String>,
    pub target_namespace: Option<String>,
    pub depends_on: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    pub enabled: bool,
}

impl ComponentView {
    /// The component's version, which `If-Match` names.
    pub fn version(&self) -> String {
        super::version_of(self)
    }
}

impl From<&Component> for ComponentView {
    fn from(c: &Component) -> Self {
        let k = &c.kustomization;
        ComponentView {
            id: c.id.to_string(),
            category: c.category.clone(),
            artifact: c.artifact.to_string(),
            component_path: c.component_path.to_string(),
            oci_tag: c.oci_tag.as_ref().map(ToString::to_string),
            target_namespace: k.target_namespace.as_ref().map(ToString::to_string),
            depends_on: c.depends_on.iter().map(ToString::to_string).collect(),
            interval: k.interval.to_string(),
            timeout: k.timeout.to_string(),
            prune: k.prune,
            wait: k.wait,
            enabled: c.enabled,
        }
    }
}

/// Replace a component with `document` (the COMPONENTS.yaml fields, its `id` the component's),
/// if it is at the version expected.
#[derive(Clone, Debug)]
pub struct ReplaceComponent {
    pub id: catalog::ComponentId,
    pub document: Value,
    pub expected: Expected,
}

/// Apply a JSON merge patch (RFC 7396, an object) to a component's document, if it is at the
/// version expected.
#[derive(Clone, Debug)]
pub struct PatchComponent {
    pub id: catalog::ComponentId,
    pub patch: serde_json::Map<String, Value>,
    pub expected: Expected,
}

/// Remove a component, if it is at the version expected; `force` also removes it from the
/// clusters that run it.
#[derive(Clone, Debug)]
pub struct DeleteComponent {
    pub id: catalog::ComponentId,
    pub expected: Expected,
    pub force: bool,
}

pub fn list(state: &AppState) -> Result<Vec<ComponentView>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    Ok(catalog.components().iter().map(ComponentView::from).collect())
}

pub fn get(state: &AppState, id: &str) -> Result<ComponentView, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    catalog
        .component(id)
        .map(ComponentView::from)
        .ok_or_else(|| not_found(id))
}

/// Refuses a write when the component is not at the version expected.
fn check(expected: &Expected, current: &Component) -> Result<(), Error> {
    expected.check(&ComponentView::from(current).version())
}

pub fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "component",
        name: id.to_owned(),
    }
}

/// Adds a component. `doc` is the component's document (the COMPONENTS.yaml fields).
pub fn create(state: &AppState, caller: &Caller, doc: Value, dry_run: bool) -> Result<Outcome<ComponentView>, Error> {
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    state.write(caller, dry_run, &format!("component {id} created"), |ctx| {
        if ctx.catalog().component(&id).is_some() {
            return Err(Error::Conflict(format!(
                "component {id:?} exists already; PUT /api/v1/components/{id} to change it"
            )));
        }
        let component = put_component(ctx, &id, doc.clone(), None)?;
        ctx.audit(
            "component.create",
            &target(&id),
            None::<&Value>,
            Some(&component_document(&component)),
        );
        Ok(ComponentView::from(&component))
    })
}

/// Replaces a component with the command's document.
pub fn replace(
    state: &AppState,
    caller: &Caller,
    command: ReplaceComponent,
    dry_run: bool,
) -> Result<Outcome<ComponentView>, Error> {
    let ReplaceComponent { id, document, expected } = command;
    update(state, caller, id.as_str(), &expected, dry_run, |_| Ok(document.clone()))
}

/// Applies the command's merge patch to a component's document.
pub fn patch(
    state: &AppState,
    caller: &Caller,
    command: PatchComponent,
    dry_run: bool,
) -> Result<Outcome<ComponentView>, Error> {
    let PatchComponent { id, patch, expected } = command;
    let patch = Value::Object(patch);
    update(state, caller, id.as_str(), &expected, dry_run, |before| {
        let mut doc = component_document(before);
        super::merge_patch(&mut doc, &patch);
        if doc.get("id").and_then(Value::as_str) != Some(id.as_str()) {
            return Err(Error::refused(
                "id",
                "a component's id cannot change; create a new one instead",
            ));
        }
        Ok(doc)
    })
}

/// The shared part of replace and patch: `new_doc` builds the component's new document from
/// the current one, which is then validated with the whole catalog and audited.
fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: &Expected,
    dry_run: bool,
    new_doc: impl Fn(&Component) -> Result<Value, Error>,
) -> Result<Outcome<ComponentView>, Error> {
    state.write(caller, dry_run, &format!("component {id} changed"), |ctx| {
        let before = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
        check(expected, &before)?;
        let doc = new_doc(&before)?;
        let after = put_component(ctx, id, doc, Some(&before))?;
        if (&after.oci_tag, &after.component_path) != (&before.oci_tag, &before.component_path) {
            super::rollouts::refuse_if_moving(ctx.conn, [id], "changing its tag or path")?;
        }
        ctx.audit(
            "component.update",
            &target(id),
            Some(&component_document(&before)),
            Some(&component_document(&after)),
        );
        Ok(ComponentView::from(&after))
    })
}

/// Removes a component; refused while clusters use it unless `force`, which also removes it
/// from those clusters.
pub fn delete(
    state: &AppState,
    caller: &Caller,
    command: DeleteComponent,
    dry_run: bool,
) -> Result<Outcome<()>, Error> {
    let id = command.id.as_str();
    state.write(caller, dry_run, &format!("component {id} deleted"), |ctx| {
        let before = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
        check(&command.expected, &before)?;
        let users = store::clusters_using(ctx.conn, id)?;
        if !users.is_empty() && !command.force {
            return Err(Error::Conflict(format!(
                "component {id} is still used by {} cluster(s) ({}); add ?force=true to remove it from them too",
                users.len(),
                users.join(", ")
            )));
        }
        store::delete_assignments_of(ctx.conn, id)?;
        let mut catalog_doc = ctx.catalog().to_document();
        if let Some(list) = catalog_doc.get_mut("components").and_then(Value::as_array_mut) {
            list.retain(|c| c.get("id").and_then(Value::as_str) != Some(id));
        }
        ctx.set_catalog(catalog_doc, "api")?;
        ctx.audit(
            "component.delete",
            &target(id),
            Some(&component_document(&before)),
            None::<&Value>,
        );
        Ok(())
    })
}

fn target(id: &str) -> String {
    format!("component/{id}")
}

/// Puts `doc` into the catalog in place of `id` (or at the end), validates the whole catalog,
/// and checks the component's own tag against tiers that require known tags.
fn put_component(ctx: &mut Ctx<'_>, id: &str, doc: Value, before: Option<&Component>) -> Result<Component, Error> {
    let mut catalog_doc = ctx.catalog().to_document();
    let list = catalog_doc
        .get_mut("components")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Internal("a catalog document without components".into()))?;
    let index = list
        .iter()
        .position(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .unwrap_or(list.len());
    if index == list.len() {
        list.push(doc);
    } else {
        list[index] = doc;
    }
    ctx.set_catalog(catalog_doc, "api").map_err(|e| rebase(e, index))?;
    let component = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
    if component.oci_tag != before.and_then(|b| b.oci_tag.clone()) {
        if let Some(tag) = &component.oci_tag {
            super::releases::check_default_tag(ctx, component.artifact.as_str(), tag)?;
        }
    }
    Ok(component)
}

/// Findings about the component's entry of the catalog are findings about the command (its
/// fields are the entry's); others stay where they are in the catalog.
fn rebase(e: Error, index: usize) -> Error {
    let Error::InvalidCatalog(report) = e else { return e };
    let entry = findings::entry("components", index);
    let refusals: Vec<(Field, String)> = report
        .errors()
        .map(|d| {
            let field = match findings::inside(d, &entry) {
                Some(rest) => findings::field_of(&rest),
                None => findings::catalog_field(d),
            };
            (field, findings::message(d))
        })
        .collect();
    let summary = format!("the component breaks {} catalog rule(s)", refusals.len());
    Error::refused_fields(summary, refusals)
}

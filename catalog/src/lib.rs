//! Platform Catalog domain: tags, tier policy, resolution, Flux rendering and catalog validation.
//!
//! Everything here is pure: no HTTP, no SQL, no clock. Values are parsed once into newtypes
//! (`OciTag`, `ComponentId`, `ComponentPath`, …) and trusted after that.

pub mod catalog;
pub mod diagnostics;
pub mod document;
pub mod error;
pub mod evidence;
pub mod ids;
pub mod policy;
pub mod prune;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod stream;
pub mod tag;
pub mod tree;
pub mod validate;
pub mod windows;
pub mod yaml;

pub use catalog::{Artifact, Catalog, Component, KustomizationDefaults, Tier};
pub use diagnostics::{Diagnostic, Report, Severity};
pub use error::Error;
pub use ids::{ArtifactId, ArtifactUrl, ClusterName, ComponentId, ComponentPath, Digest, FluxDuration, TierName};
pub use policy::{PolicyRule, Registration, TierPolicy};
pub use tag::{OciTag, OrderedTag, TagPattern, Version};

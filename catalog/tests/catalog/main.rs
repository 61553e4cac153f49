//! Integration tests of the domain library against the example catalog and the real Flux CRDs.

// A test or benchmark fails loudly where a result is not what it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crd;
mod ordering;
mod rendering;
mod resolution;
mod validation;

use std::path::PathBuf;

use catalog::validate::{load, Loaded};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example catalog every newcomer sees.
pub fn example() -> Loaded {
    let text = std::fs::read_to_string(repo_root().join("COMPONENTS.yaml")).expect("COMPONENTS.yaml is readable");
    load("COMPONENTS.yaml", &text).unwrap_or_else(|report| panic!("the example catalog is valid:\n{report}"))
}

/// Loads a catalog from text, expecting it to be valid.
pub fn catalog_from(text: &str) -> catalog::Catalog {
    load("test.yaml", text)
        .unwrap_or_else(|report| panic!("catalog is valid:\n{report}"))
        .catalog
}

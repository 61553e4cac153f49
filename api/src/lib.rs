//! Platform Catalog service and CLI: the catalog stored, changed through a REST API with
//! guardrails, audited, and served rendered to the clusters that pull it.

pub mod cli;
pub mod error;

//! Platform Catalog service and CLI: the catalog stored, changed through a REST API with
//! guardrails, audited, and served rendered to the clusters that pull it.

pub mod app;
pub mod cli;
pub mod client;
pub mod console;
pub mod db;
pub mod error;
pub mod http;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod service;
pub mod store;

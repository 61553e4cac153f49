//! End-to-end tests: the `platform-catalog` binary as users and scripts run it, and the service
//! over HTTP on SQLite and PostgreSQL.

// A test or benchmark fails loudly where a result is not what it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_access;
mod api_assignments;
mod api_catalog;
mod api_core;
mod api_docs;
mod api_drift;
mod api_events;
mod api_evidence;
mod api_fleet;
mod api_flux;
mod api_gate;
mod api_history;
mod api_holds;
mod api_hotfix;
mod api_invariant;
mod api_overrides;
mod api_paging;
mod api_paths;
mod api_promotions;
mod api_reasons;
mod api_registry;
mod api_registry_paths;
mod api_registry_publish;
mod api_registry_retag;
mod api_releases;
mod api_restart;
mod api_rollouts;
mod api_runner;
mod api_snapshots;
mod api_trust;
mod api_windows;
mod cli_client;
mod cli_export;
mod cli_registry;
mod cli_render;
mod cli_serve_files;
mod cli_tags;
mod cli_validate;
mod flux_wire;
mod support;
mod ui_access;
mod ui_cluster;
mod ui_matrix;
mod ui_reports;
mod ui_rollouts;

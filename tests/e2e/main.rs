//! End-to-end tests: run the `platform-catalog` binary as users and scripts do.

mod api_core;
mod api_history;
mod cli_render;
mod cli_tags;
mod cli_validate;
mod support;

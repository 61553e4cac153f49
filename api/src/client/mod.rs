//! The client side of the CLI: where to connect and with which token (`config`), the REST
//! calls (`http`) and how answers are printed (`output`). It speaks to a running service over
//! its public API only, reading answers into the server's own DTO types.

pub mod config;
pub mod http;
pub mod output;

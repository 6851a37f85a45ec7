//! todo-api: the Tasks REST API of a multi-user todo app.
//!
//! `main` reads the configuration and serves [`app::build_app`]; everything else
//! lives here so the integration tests build the same application in-process.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod live;
pub mod mcp;
pub mod server;
pub mod telemetry;

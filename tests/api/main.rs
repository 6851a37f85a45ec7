//! The integration suite: one binary, the real app on real PostgreSQL.

mod auth;
mod binary;
mod concurrency;
mod contract;
mod health;
mod isolation;
mod malformed;
mod parity;
mod support;
mod tasks;
mod validation;

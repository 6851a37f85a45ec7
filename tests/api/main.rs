//! The integration suite: one binary, the real app on real PostgreSQL.

mod auth;
mod better_auth;
mod binary;
mod concurrency;
mod contract;
mod cors;
mod durability;
mod ecosystem;
mod health;
mod hostile;
mod indexes;
mod isolation;
mod jwks;
mod listing;
mod logs;
mod malformed;
mod parity;
mod quota;
mod readme;
mod resilience;
mod richer;
mod round_trips;
mod support;
mod tasks;
mod upgrade;
mod validation;

//! Outcomes of writes sent with an `Idempotency-Key`, kept per user for
//! replay. The outcome is stored in the transaction of the write itself, so
//! a write and its record commit together or not at all: a crash between
//! them cannot leave a task without its record (a retry would make it twice)
//! or a record without its task.
//!
//! While a request with a key runs, its transaction holds a lock on the key:
//! on PostgreSQL a transaction-scoped advisory lock (seen by every instance,
//! released by the transaction's end, also when its connection dies); on
//! SQLite the write lock of `BEGIN IMMEDIATE`, which every writer waits for.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Database, DbError, Write};
use crate::domain::{IdempotencyKey, UserId};

/// A response as it was first sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// SHA-256 of the request it answered (method, path, `If-Match`, body).
    pub fingerprint: Vec<u8>,
    pub status: u16,
    /// The headers to replay, `(name, value)`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a request with a key finds when it starts.
#[derive(Debug)]
pub enum Claim {
    /// No outcome yet: this request runs, and its transaction holds the key.
    First,
    /// A request with the same key is running now (on any instance).
    Running,
    /// Answered before, within the retention period.
    Answered(Outcome),
}

/// The advisory lock's number for the owner's key: 64 bits of SHA-256.
fn lock_number(owner: &UserId, key: &IdempotencyKey) -> i64 {
    let mut input = Vec::with_capacity(owner.as_str().len() + key.as_str().len() + 16);
    input.extend_from_slice(b"todo-api idempotency\0");
    input.extend_from_slice(owner.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(key.as_str().as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    let mut first = [0; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(first)
}

/// Inside `write`'s transaction: takes the key, or says who has it. An
/// outcome stored before `kept_since` has expired and counts as none.
pub async fn claim(
    write: &mut Write,
    owner: &UserId,
    key: &IdempotencyKey,
    kept_since: DateTime<Utc>,
) -> Result<Claim, DbError> {
    let lock = lock_number(owner, key);
    let found: Option<(Vec<u8>, i16, String, Vec<u8>)> = db_write!(write, |conn| {
        if !try_lock_key(conn, lock).await? {
            return Ok(Claim::Running);
        }
        idempotency_keys::table
            .filter(
                idempotency_keys::user_id
                    .eq(owner.as_str())
                    .and(idempotency_keys::key.eq(key.as_str()))
                    .and(idempotency_keys::created_at.ge(kept_since)),
            )
            .select((
                idempotency_keys::fingerprint,
                idempotency_keys::status,
                idempotency_keys::headers,
                idempotency_keys::body,
            ))
            .first(conn)
            .await
            .optional()?
    });
    Ok(match found {
        None => Claim::First,
        Some((fingerprint, status, headers, body)) => Claim::Answered(Outcome {
            fingerprint,
            status: u16::try_from(status).unwrap_or(500),
            headers: headers
                .lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            body,
        }),
    })
}

/// Inside the transaction that made it: stores the outcome (over an expired
/// one of the same key, if any).
pub async fn save(
    write: &mut Write,
    owner: &UserId,
    key: &IdempotencyKey,
    outcome: &Outcome,
) -> Result<(), DbError> {
    let headers: String = outcome
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    let status = i16::try_from(outcome.status).unwrap_or(i16::MAX);
    let at = Utc::now().trunc_subsecs(6);
    db_write!(write, |conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(owner.as_str()),
                idempotency_keys::key.eq(key.as_str()),
                idempotency_keys::fingerprint.eq(&outcome.fingerprint),
                idempotency_keys::status.eq(status),
                idempotency_keys::headers.eq(&headers),
                idempotency_keys::body.eq(&outcome.body),
                idempotency_keys::created_at.eq(at),
            ))
            .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
            .do_update()
            .set((
                idempotency_keys::fingerprint.eq(&outcome.fingerprint),
                idempotency_keys::status.eq(status),
                idempotency_keys::headers.eq(&headers),
                idempotency_keys::body.eq(&outcome.body),
                idempotency_keys::created_at.eq(at),
            ))
            .execute(conn)
            .await?
    });
    Ok(())
}

/// Deletes every outcome stored before `cutoff`; how many.
pub async fn delete_expired(db: &Database, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    let mut write = db.write().await?;
    let deleted = db_write!(write, |conn| {
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)
            .await?
    });
    write.commit().await?;
    Ok(deleted)
}

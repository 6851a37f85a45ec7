//! The trash: DELETE moves a task here (it keeps its row, with `trashed_at`
//! set), restore brings it back, purge deletes it for good; the periodic
//! maintenance purges what has been here longer than the retention period.
//!
//! A purge locks the owner's counter before any task row (`changes_locked`,
//! see the 1.2 migration), so it never waits in the opposite order of a
//! restore of the same task.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Database, DbError, TaskRow, Write, first, now};
use crate::domain::{Precondition, Task, UserId};

/// Moves the owner's live task to the trash: its new version, or `None`
/// when there is no such live task or it does not meet `precondition`.
pub async fn trash(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    precondition: Option<&Precondition>,
) -> Result<Option<i64>, DbError> {
    let at = now();
    let versions: Vec<i64> = db_write!(write, |conn| {
        let versions: Vec<i64> = diesel::update(tasks::table)
            .filter(live_task!(owner, id).and(meets!(precondition)))
            .set((
                tasks::trashed_at.eq(Some(at)),
                tasks::version.eq(next_version(owner.as_str())),
            ))
            .returning(tasks::version)
            .load(conn)
            .await?;
        record_changes(conn, owner.as_str(), versions.len()).await?;
        versions
    });
    Ok(versions.into_iter().next())
}

/// Brings the owner's trashed task back; `None` when the trash holds no such
/// task or it does not meet `precondition`.
pub async fn restore(
    write: &mut Write,
    owner: &UserId,
    id: i64,
    precondition: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    let rows: Vec<TaskRow> = db_write!(write, |conn| {
        let rows: Vec<TaskRow> = diesel::update(tasks::table)
            .filter(trashed_task!(owner, id).and(meets!(precondition)))
            .set((
                tasks::trashed_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                tasks::version.eq(next_version(owner.as_str())),
            ))
            .returning(task_columns!())
            .load(conn)
            .await?;
        record_changes(conn, owner.as_str(), rows.len()).await?;
        rows
    });
    Ok(first(rows, owner))
}

/// Deletes the owner's trashed task for good; `false` when the trash holds
/// no such task.
pub async fn purge(write: &mut Write, owner: &UserId, id: i64) -> Result<bool, DbError> {
    let purged = db_write!(write, |conn| {
        let purged: Vec<i64> = diesel::delete(tasks::table)
            .filter(
                trashed_task!(owner, id)
                    .nullable()
                    .and(changes_locked(owner.as_str())),
            )
            .returning(tasks::id)
            .load(conn)
            .await?;
        purged.len()
    });
    Ok(purged > 0)
}

/// Deletes every task in the owner's trash; how many there were.
pub async fn empty_trash(write: &mut Write, owner: &UserId) -> Result<usize, DbError> {
    Ok(db_write!(write, |conn| {
        let purged: Vec<i64> = diesel::delete(tasks::table)
            .filter(
                tasks::user_id
                    .eq(owner.as_str())
                    .and(tasks::trashed_at.is_not_null())
                    .nullable()
                    .and(changes_locked(owner.as_str())),
            )
            .returning(tasks::id)
            .load(conn)
            .await?;
        purged.len()
    }))
}

/// A page of the owner's trash, most recently trashed first (`id` breaks
/// ties), and whether more follow it.
pub async fn list_trash(
    db: &Database,
    owner: &UserId,
    limit: u32,
    offset: u32,
) -> Result<(Vec<Task>, bool), DbError> {
    let rows: Vec<TaskRow> = db_run!(db, |conn| {
        tasks::table
            .filter(
                tasks::user_id
                    .eq(owner.as_str())
                    .and(tasks::trashed_at.is_not_null()),
            )
            .order((tasks::trashed_at.desc(), tasks::id.desc()))
            .select(task_columns!())
            .offset(i64::from(offset))
            .limit(i64::from(limit) + 1)
            .load(conn)
            .await?
    });
    let more = rows.len() > limit as usize;
    let tasks = rows
        .into_iter()
        .take(limit as usize)
        .map(|row| row.into_task(owner))
        .collect();
    Ok((tasks, more))
}

/// Purges, for every owner, the tasks trashed before `cutoff`, a few owners
/// at a time (each owner's purge takes that owner's change numbers); how
/// many tasks it purged. Safe on several instances at once: a row another
/// instance purged first is simply no longer there.
pub async fn purge_trashed_before(
    db: &Database,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<usize, DbError> {
    const OWNERS_PER_ROUND: i64 = 100;
    let mut purged = 0;
    loop {
        let owners: Vec<String> = db_run!(db, |conn| {
            tasks::table
                .filter(tasks::trashed_at.lt(cutoff))
                .select(tasks::user_id)
                .distinct()
                .limit(OWNERS_PER_ROUND)
                .load(conn)
                .await?
        });
        if owners.is_empty() {
            return Ok(purged);
        }
        let before = purged;
        for owner in owners {
            let mut write = db.write().await?;
            purged += db_write!(write, |conn| {
                let rows: Vec<i64> = diesel::delete(tasks::table)
                    .filter(
                        tasks::user_id
                            .eq(&owner)
                            .and(tasks::trashed_at.lt(cutoff))
                            .nullable()
                            .and(changes_locked(&owner)),
                    )
                    .returning(tasks::id)
                    .load(conn)
                    .await?;
                rows.len()
            });
            write.commit().await?;
        }
        if purged == before {
            // Another instance purged them meanwhile.
            return Ok(purged);
        }
    }
}

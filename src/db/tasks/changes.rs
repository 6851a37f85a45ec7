//! The change feed: a user's changes in commit order, read from the rows
//! the triggers of the 1.3 migration write with every task write, or a
//! snapshot of the user's current tasks for a reader that starts from 0.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Database, DbError, TaskRow};
use crate::domain::{Change, ChangeKind, FeedRefusal, Since, UserId};

/// A page of the feed.
#[derive(Debug)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// Where the next page starts: past the last change of this one, or
    /// (after a snapshot's last page) after the owner's last change number.
    pub next: Since,
    /// Whether more changes follow this page already.
    pub more: bool,
}

/// A `task_changes` row in `change_columns!` order.
type ChangeRow = (i64, String, DateTime<Utc>, TaskRow, Option<DateTime<Utc>>);

/// The columns of a change, the task's in `task_columns!`'s order.
macro_rules! change_columns {
    () => {
        (
            task_changes::seq,
            task_changes::kind,
            task_changes::at,
            (
                task_changes::task_id,
                task_changes::title,
                task_changes::description,
                task_changes::completed,
                task_changes::created_at,
                task_changes::updated_at,
                task_changes::priority,
                task_changes::tags,
                task_changes::due_date,
                task_changes::due_time,
                task_changes::due_tz,
                task_changes::due_at,
                task_changes::version,
                task_changes::trashed_at,
                task_changes::recur_rule,
                task_changes::recur_from,
                task_changes::reminders,
            ),
            task_changes::reminder_at,
        )
    };
}

fn change(owner: &UserId, (seq, kind, at, row, reminder): ChangeRow) -> Result<Change, DbError> {
    let kind = ChangeKind::parse(&kind).ok_or_else(|| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("unknown change kind {kind:?}").into(),
        ))
    })?;
    Ok(Change {
        seq,
        kind,
        at,
        task: row.into_task(owner),
        reminder,
    })
}

/// The owner's feed from `since`, at most `limit` changes: `Err` when it
/// cannot be read from there. After a change number it is one statement;
/// a snapshot page takes three in one read-only transaction (the counter,
/// the tasks, the purges among them), so the three agree.
pub async fn feed(
    db: &Database,
    owner: &UserId,
    since: Since,
    limit: u32,
) -> Result<Result<FeedPage, FeedRefusal>, DbError> {
    match since {
        Since::After(after) => changes_after(db, owner, after, limit).await,
        Since::Snapshot(after) => snapshot(db, owner, after, limit).await.map(Ok),
    }
}

async fn changes_after(
    db: &Database,
    owner: &UserId,
    after: i64,
    limit: u32,
) -> Result<Result<FeedPage, FeedRefusal>, DbError> {
    // The counter and the retention mark come with the rows: one row of
    // NULL changes when there are none, no row before the owner's first write.
    let rows: Vec<(i64, i64, Option<ChangeRow>)> = db_run!(db, |conn| {
        user_changes::table
            .left_join(
                task_changes::table.on(task_changes::user_id
                    .eq(user_changes::user_id)
                    .and(task_changes::seq.gt(after))),
            )
            .filter(user_changes::user_id.eq(owner.as_str()))
            .order(task_changes::seq.asc())
            .select((
                user_changes::seq,
                user_changes::kept_after,
                change_columns!().nullable(),
            ))
            .limit(i64::from(limit) + 1)
            .load(conn)
            .await?
    });
    let (latest, kept_after) =
        <[_]>::first(&rows).map_or((0, 0), |(latest, kept, _)| (*latest, *kept));
    if after > latest {
        return Ok(Err(FeedRefusal::Ahead { latest }));
    }
    if after < kept_after {
        return Ok(Err(FeedRefusal::Gone { kept_after }));
    }
    let mut changes = rows
        .into_iter()
        .filter_map(|(_, _, row)| row)
        .map(|row| change(owner, row))
        .collect::<Result<Vec<_>, _>>()?;
    let more = changes.len() > limit as usize;
    changes.truncate(limit as usize);
    let next = Since::After(changes.last().map_or(after, |change| change.seq));
    Ok(Ok(FeedPage {
        changes,
        next,
        more,
    }))
}

/// A page of the snapshot: the owner's tasks (live ones as `created`,
/// trashed ones as `trashed`) by version then id, each under its version.
/// Past the first page, the purges since the page before are in it too (a
/// task shown earlier may have gone meanwhile); a task changed meanwhile
/// has a newer version, so a later page shows it again.
async fn snapshot(
    db: &Database,
    owner: &UserId,
    after: Option<(i64, i64)>,
    limit: u32,
) -> Result<FeedPage, DbError> {
    let (version, id) = after.unwrap_or((-1, 0));
    let rows = i64::from(limit) + 1;
    let mut read = db.snapshot().await?;
    let (latest, tasks, purges): (Option<i64>, Vec<TaskRow>, Vec<ChangeRow>) =
        db_write!(read, |conn| {
            let latest = user_changes::table
                .find(owner.as_str())
                .select(user_changes::seq)
                .first(conn)
                .await
                .optional()?;
            let tasks = tasks::table
                .filter(
                    tasks::user_id.eq(owner.as_str()).and(
                        tasks::version
                            .gt(version)
                            .or(tasks::version.eq(version).and(tasks::id.gt(id))),
                    ),
                )
                .order((tasks::version.asc(), tasks::id.asc()))
                .select(task_columns!())
                .limit(rows)
                .load(conn)
                .await?;
            let purges = if after.is_some() {
                task_changes::table
                    .filter(
                        task_changes::user_id
                            .eq(owner.as_str())
                            .and(task_changes::seq.gt(version))
                            .and(task_changes::kind.eq(ChangeKind::Purged.as_str())),
                    )
                    .order(task_changes::seq.asc())
                    .select(change_columns!())
                    .limit(rows)
                    .load(conn)
                    .await?
            } else {
                Vec::new()
            };
            (latest, tasks, purges)
        });
    read.commit().await?;
    let mut changes: Vec<Change> = tasks
        .into_iter()
        .map(|row| {
            let task = row.into_task(owner);
            let (kind, at) = match task.trashed_at {
                Some(at) => (ChangeKind::Trashed, at),
                None => (ChangeKind::Created, task.updated_at),
            };
            Change {
                seq: task.version,
                kind,
                at,
                task,
                reminder: None,
            }
        })
        .collect();
    for row in purges {
        changes.push(change(owner, row)?);
    }
    changes.sort_by_key(|change| (change.seq, change.task.id));
    let more = changes.len() > limit as usize;
    changes.truncate(limit as usize);
    let next = match changes.last() {
        Some(last) if more => Since::Snapshot(Some((last.seq, last.task.id))),
        _ => Since::After(latest.unwrap_or(0)),
    };
    Ok(FeedPage {
        changes,
        next,
        more,
    })
}

/// Each watched owner's last change number (owners without one are left
/// out), for the poller that wakes event streams without LISTEN.
pub async fn latest_changes(
    db: &Database,
    owners: &[String],
) -> Result<Vec<(String, i64)>, DbError> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    Ok(db_run!(db, |conn| {
        user_changes::table
            .filter(user_changes::user_id.eq_any(owners))
            .select((user_changes::user_id, user_changes::seq))
            .load(conn)
            .await?
    }))
}

/// Deletes, for every owner, the changes up to the newest one older than
/// `cutoff`, and remembers that number (a feed from before it is then 410),
/// a few owners at a time; how many changes it deleted. Deleting a whole
/// prefix keeps "every change after `kept_after` is there" exact.
pub async fn forget_changes_before(db: &Database, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    const OWNERS_PER_ROUND: i64 = 100;
    let mut forgotten = 0;
    loop {
        let owners: Vec<(String, Option<i64>)> = db_run!(db, |conn| {
            task_changes::table
                .filter(task_changes::at.lt(cutoff))
                .group_by(task_changes::user_id)
                .select((task_changes::user_id, diesel::dsl::max(task_changes::seq)))
                .limit(OWNERS_PER_ROUND)
                .load(conn)
                .await?
        });
        if owners.is_empty() {
            return Ok(forgotten);
        }
        let before = forgotten;
        for (owner, newest) in owners {
            let Some(newest) = newest else { continue };
            let mut write = db.transaction().await?;
            forgotten += db_write!(write, |conn| {
                diesel::update(user_changes::table.find(&owner))
                    .filter(user_changes::kept_after.lt(newest))
                    .set(user_changes::kept_after.eq(newest))
                    .execute(conn)
                    .await?;
                diesel::delete(task_changes::table)
                    .filter(
                        task_changes::user_id
                            .eq(&owner)
                            .and(task_changes::seq.le(newest)),
                    )
                    .execute(conn)
                    .await?
            });
            write.commit().await?;
        }
        if forgotten == before {
            // Another instance deleted them meanwhile.
            return Ok(forgotten);
        }
    }
}

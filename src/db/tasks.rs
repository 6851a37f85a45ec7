//! Task queries. Every one takes the owner and filters by it in the same
//! statement, so another user's task is simply not found. Each is one round trip.

use chrono::{DateTime, Utc};
use diesel::{dsl::not, prelude::*};
use diesel_async::RunQueryDsl;

use super::{Database, DbError, schema::tasks};
use crate::domain::{ListQuery, NewTask, SortKey, SortOrder, Task, TaskChanges, UserId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
struct TaskRow {
    id: i64,
    user_id: String,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Self {
            id: row.id,
            user_id: UserId::new(row.user_id),
            title: row.title,
            description: row.description,
            completed: row.completed,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = tasks)]
struct TaskChangeset<'a> {
    title: Option<&'a str>,
    description: Option<Option<&'a str>>,
    completed: Option<bool>,
}

pub async fn list(db: &Database, owner: &UserId, query: ListQuery) -> Result<Vec<Task>, DbError> {
    use tasks::dsl;

    let mut select = dsl::tasks
        .filter(dsl::user_id.eq(owner.as_str()))
        .select(TaskRow::as_select())
        .into_boxed();
    if let Some(completed) = query.status.completed() {
        select = select.filter(dsl::completed.eq(completed));
    }
    // `id` breaks ties in the same direction, so the order is total.
    select = match (query.sort, query.order) {
        (SortKey::Created, SortOrder::Asc) => select.order((dsl::created_at.asc(), dsl::id.asc())),
        (SortKey::Created, SortOrder::Desc) => {
            select.order((dsl::created_at.desc(), dsl::id.desc()))
        }
        (SortKey::Updated, SortOrder::Asc) => select.order((dsl::updated_at.asc(), dsl::id.asc())),
        (SortKey::Updated, SortOrder::Desc) => {
            select.order((dsl::updated_at.desc(), dsl::id.desc()))
        }
        (SortKey::Title, SortOrder::Asc) => select.order((dsl::title.asc(), dsl::id.asc())),
        (SortKey::Title, SortOrder::Desc) => select.order((dsl::title.desc(), dsl::id.desc())),
    };

    let mut conn = db.connection().await?;
    let rows: Vec<TaskRow> = select.load(&mut conn).await?;
    Ok(rows.into_iter().map(Task::from).collect())
}

pub async fn create(db: &Database, owner: &UserId, new: &NewTask) -> Result<Task, DbError> {
    let mut conn = db.connection().await?;
    let row: TaskRow = diesel::insert_into(tasks::table)
        .values((
            tasks::user_id.eq(owner.as_str()),
            tasks::title.eq(new.title.as_str()),
            tasks::description.eq(new.description.as_ref().map(|d| d.as_str())),
        ))
        .returning(TaskRow::as_returning())
        .get_result(&mut conn)
        .await?;
    Ok(row.into())
}

pub async fn find(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    let mut conn = db.connection().await?;
    let row: Option<TaskRow> = tasks::table
        .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
        .select(TaskRow::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(row.map(Task::from))
}

/// Applies the changes and moves `updated_at`; `None` when the owner has no such task.
pub async fn update(
    db: &Database,
    owner: &UserId,
    id: i64,
    changes: &TaskChanges,
) -> Result<Option<Task>, DbError> {
    let changeset = TaskChangeset {
        title: changes.title.as_ref().map(|t| t.as_str()),
        description: changes
            .description
            .as_ref()
            .map(|d| d.as_ref().map(|d| d.as_str())),
        completed: changes.completed,
    };
    let mut conn = db.connection().await?;
    let row: Option<TaskRow> = diesel::update(tasks::table)
        .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
        .set((changeset, tasks::updated_at.eq(diesel::dsl::now)))
        .returning(TaskRow::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?;
    Ok(row.map(Task::from))
}

/// Flips `completed` in the database itself, so two concurrent toggles both count.
pub async fn toggle(db: &Database, owner: &UserId, id: i64) -> Result<Option<Task>, DbError> {
    let mut conn = db.connection().await?;
    let row: Option<TaskRow> = diesel::update(tasks::table)
        .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
        .set((
            tasks::completed.eq(not(tasks::completed)),
            tasks::updated_at.eq(diesel::dsl::now),
        ))
        .returning(TaskRow::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?;
    Ok(row.map(Task::from))
}

/// `true` when the owner's task existed and is now gone.
pub async fn delete(db: &Database, owner: &UserId, id: i64) -> Result<bool, DbError> {
    let mut conn = db.connection().await?;
    let deleted = diesel::delete(tasks::table)
        .filter(tasks::id.eq(id).and(tasks::user_id.eq(owner.as_str())))
        .execute(&mut conn)
        .await?;
    Ok(deleted > 0)
}

//! The `tasks` table as each backend sees it, kept in step with
//! `migrations/{postgres,sqlite}` by the integration suite (every query runs
//! against both migrated schemas). The query bodies in `db::tasks` are shared:
//! `db_run!` brings one of these modules into scope for each backend, with
//! the few things SQL spells differently on each.

pub mod pg {
    use diesel::{
        BoxableExpression, PgSortExpressionMethods, expression::expression_types::NotSelectable,
        prelude::*,
    };

    diesel::table! {
        tasks (id) {
            id -> Int8,
            user_id -> Text,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            priority -> Int2,
            tags -> Text,
            due_date -> Nullable<Date>,
            due_time -> Nullable<Time>,
            due_tz -> Nullable<Text>,
            due_at -> Nullable<Timestamptz>,
            due_key -> Nullable<Text>,
            title_folded -> Nullable<Text>,
            description_folded -> Nullable<Text>,
            version -> Int8,
            trashed_at -> Nullable<Timestamptz>,
            recur_rule -> Nullable<Text>,
            recur_from -> Nullable<Text>,
            recur_anchor -> Nullable<Timestamp>,
            recur_done -> Integer,
            reminders -> Text,
            remind_at -> Nullable<Timestamptz>,
            reminders_fired -> Integer,
        }
    }

    diesel::table! {
        user_changes (user_id) {
            user_id -> Text,
            seq -> Int8,
            kept_after -> Int8,
        }
    }

    diesel::table! {
        task_changes (user_id, seq) {
            user_id -> Text,
            seq -> Int8,
            kind -> Text,
            at -> Timestamptz,
            task_id -> Int8,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            priority -> Int2,
            tags -> Text,
            due_date -> Nullable<Date>,
            due_time -> Nullable<Time>,
            due_tz -> Nullable<Text>,
            due_at -> Nullable<Timestamptz>,
            version -> Int8,
            trashed_at -> Nullable<Timestamptz>,
            recur_rule -> Nullable<Text>,
            recur_from -> Nullable<Text>,
            reminders -> Text,
            reminder_at -> Nullable<Timestamptz>,
        }
    }

    diesel::allow_tables_to_appear_in_same_query!(tasks, user_changes, task_changes);

    diesel::table! {
        idempotency_keys (user_id, key) {
            user_id -> Text,
            key -> Text,
            fingerprint -> Binary,
            status -> Int2,
            headers -> Text,
            body -> Binary,
            created_at -> Timestamptz,
        }
    }

    pub type Backend = diesel::pg::Pg;

    diesel::define_sql_function! {
        /// The owner's next change number, taken in the calling statement's
        /// transaction (see the 1.2 migration).
        fn next_change(owner: diesel::sql_types::Text) -> diesel::sql_types::BigInt;
    }

    /// The change number a write of `owner`'s takes, as an expression of the
    /// writing statement itself.
    pub fn next_version(owner: &str) -> next_change<&str> {
        next_change(owner)
    }

    /// Records that a statement took `_count` change numbers: `next_change`
    /// already did, inside it.
    pub async fn record_changes(
        _conn: &mut diesel_async::AsyncPgConnection,
        _owner: &str,
        _count: usize,
    ) -> diesel::QueryResult<()> {
        Ok(())
    }

    /// Locks the change counters of those of `owners` that no other
    /// transaction holds, and returns them: rounds of the reminder poller
    /// running at once on several instances take different owners, and
    /// none waits for a write in progress.
    pub async fn lock_counters(
        conn: &mut diesel_async::AsyncPgConnection,
        owners: &[String],
    ) -> diesel::QueryResult<Vec<String>> {
        let locked = user_changes::table
            .filter(user_changes::user_id.eq_any(owners))
            .order(user_changes::user_id)
            .select(user_changes::user_id)
            .for_update()
            .skip_locked();
        diesel_async::RunQueryDsl::load(locked, conn).await
    }

    diesel::define_sql_function! {
        /// Locks the owner's counter (see the 1.2 migration); true when it exists.
        fn lock_changes(owner: diesel::sql_types::Text) -> diesel::sql_types::Nullable<diesel::sql_types::Bool>;
    }

    /// A purge's condition that locks the owner's counter before any task row.
    pub fn changes_locked(owner: &str) -> lock_changes<&str> {
        lock_changes(owner)
    }

    /// Holds the lock that says a request with this key is running, until the
    /// transaction ends; `false` when another transaction holds it (on any
    /// instance). Transaction-scoped, so it works through a transaction-mode pooler.
    pub async fn try_lock_key(
        conn: &mut diesel_async::AsyncPgConnection,
        lock: i64,
    ) -> diesel::QueryResult<bool> {
        use diesel_async::RunQueryDsl;
        diesel::define_sql_function! {
            fn pg_try_advisory_xact_lock(key: diesel::sql_types::BigInt) -> diesel::sql_types::Bool;
        }
        RunQueryDsl::get_result(diesel::select(pg_try_advisory_xact_lock(lock)), conn).await
    }

    diesel::define_sql_function! {
        /// Where `needle` starts in `haystack` (from 1), 0 when absent: a
        /// literal substring test, where `%`, `_` and `\` are plain characters.
        #[sql_name = "strpos"]
        fn position(
            haystack: diesel::sql_types::Nullable<diesel::sql_types::Text>,
            needle: diesel::sql_types::Text,
        ) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
    }

    /// Due dates in `desc` or ascending order, tasks without one last.
    pub fn due_order(
        desc: bool,
    ) -> Vec<Box<dyn BoxableExpression<tasks::table, Backend, SqlType = NotSelectable>>> {
        if desc {
            vec![Box::new(tasks::due_key.desc().nulls_last())]
        } else {
            // PostgreSQL's own order for ASC: the index serves it as is.
            vec![Box::new(tasks::due_key.asc().nulls_last())]
        }
    }
}

pub mod sqlite {
    use diesel::BoxableExpression;

    diesel::table! {
        tasks (id) {
            id -> BigInt,
            user_id -> Text,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
            priority -> SmallInt,
            tags -> Text,
            due_date -> Nullable<Date>,
            due_time -> Nullable<Time>,
            due_tz -> Nullable<Text>,
            due_at -> Nullable<TimestamptzSqlite>,
            due_key -> Nullable<Text>,
            title_folded -> Nullable<Text>,
            description_folded -> Nullable<Text>,
            version -> BigInt,
            trashed_at -> Nullable<TimestamptzSqlite>,
            recur_rule -> Nullable<Text>,
            recur_from -> Nullable<Text>,
            recur_anchor -> Nullable<Timestamp>,
            recur_done -> Integer,
            reminders -> Text,
            remind_at -> Nullable<TimestamptzSqlite>,
            reminders_fired -> Integer,
        }
    }

    diesel::table! {
        user_changes (user_id) {
            user_id -> Text,
            seq -> BigInt,
            kept_after -> BigInt,
        }
    }

    diesel::table! {
        task_changes (user_id, seq) {
            user_id -> Text,
            seq -> BigInt,
            kind -> Text,
            at -> TimestamptzSqlite,
            task_id -> BigInt,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
            priority -> SmallInt,
            tags -> Text,
            due_date -> Nullable<Date>,
            due_time -> Nullable<Time>,
            due_tz -> Nullable<Text>,
            due_at -> Nullable<TimestamptzSqlite>,
            version -> BigInt,
            trashed_at -> Nullable<TimestamptzSqlite>,
            recur_rule -> Nullable<Text>,
            recur_from -> Nullable<Text>,
            reminders -> Text,
            reminder_at -> Nullable<TimestamptzSqlite>,
        }
    }

    diesel::allow_tables_to_appear_in_same_query!(tasks, user_changes, task_changes);

    diesel::table! {
        idempotency_keys (user_id, key) {
            user_id -> Text,
            key -> Text,
            fingerprint -> Binary,
            status -> SmallInt,
            headers -> Text,
            body -> Binary,
            created_at -> TimestamptzSqlite,
        }
    }

    pub type Backend = diesel::sqlite::Sqlite;

    /// The change number a write of `owner`'s takes: one more than the last,
    /// read in the write's own statement; the write's transaction holds
    /// SQLite's write lock, so no other writer takes it too. `record_changes`
    /// then stores it.
    pub fn next_version(
        owner: &str,
    ) -> diesel::expression::SqlLiteral<
        diesel::sql_types::BigInt,
        impl diesel::query_builder::QueryFragment<Backend>,
    > {
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM user_changes WHERE user_id = ",
        )
        .bind::<diesel::sql_types::Text, _>(owner.to_owned())
        .sql(")")
    }

    /// Moves the owner's counter on by `count` numbers, after a statement that
    /// took them (in the same transaction).
    pub async fn record_changes(
        conn: &mut super::super::SqliteAsync,
        owner: &str,
        count: usize,
    ) -> diesel::QueryResult<()> {
        use diesel::{prelude::*, upsert::excluded};
        use diesel_async::RunQueryDsl;
        if count == 0 {
            return Ok(());
        }
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        diesel::insert_into(user_changes::table)
            .values((user_changes::user_id.eq(owner), user_changes::seq.eq(count)))
            .on_conflict(user_changes::user_id)
            .do_update()
            .set(user_changes::seq.eq(user_changes::seq + excluded(user_changes::seq)))
            .execute(conn)
            .await
            .map(drop)
    }

    /// The write lock of `BEGIN IMMEDIATE` serialises writers already.
    pub fn changes_locked(
        _owner: &str,
    ) -> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Bool>> {
        diesel::dsl::sql("1")
    }

    /// SQLite's write lock, taken by `BEGIN IMMEDIATE`, already serialises
    /// every write: the counters are all this transaction's.
    pub async fn lock_counters(
        _conn: &mut super::super::SqliteAsync,
        owners: &[String],
    ) -> diesel::QueryResult<Vec<String>> {
        Ok(owners.to_vec())
    }

    /// SQLite's write lock, taken by `BEGIN IMMEDIATE`, already serialises
    /// every write: nothing else can be running with the key.
    pub async fn try_lock_key(
        _conn: &mut super::super::SqliteAsync,
        _lock: i64,
    ) -> diesel::QueryResult<bool> {
        Ok(true)
    }

    diesel::define_sql_function! {
        /// SQLite's name for PostgreSQL's `strpos`, same arguments, same answers.
        #[sql_name = "instr"]
        fn position(
            haystack: diesel::sql_types::Nullable<diesel::sql_types::Text>,
            needle: diesel::sql_types::Text,
        ) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
    }

    /// Due dates in `desc` or ascending order, tasks without one last. SQLite
    /// puts NULL first in ascending order; `NULLS LAST` (SQLite 3.30+, the
    /// bundled one is newer) still lets the owner's due index serve it.
    pub fn due_order(
        desc: bool,
    ) -> Vec<Box<dyn BoxableExpression<tasks::table, Backend, SqlType = diesel::sql_types::Text>>>
    {
        vec![Box::new(diesel::dsl::sql::<diesel::sql_types::Text>(
            if desc {
                r#""tasks"."due_key" DESC NULLS LAST"#
            } else {
                r#""tasks"."due_key" ASC NULLS LAST"#
            },
        ))]
    }
}

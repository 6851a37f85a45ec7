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
        }
    }

    pub type Backend = diesel::pg::Pg;

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
        }
    }

    pub type Backend = diesel::sqlite::Sqlite;

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

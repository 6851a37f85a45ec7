//! The `tasks` table as each backend sees it, kept in step with
//! `migrations/{postgres,sqlite}` by the integration suite (every query runs
//! against both migrated schemas). The query bodies in `db::tasks` are shared:
//! `db_run!` brings the right module into scope for each backend.

pub mod pg {
    diesel::table! {
        tasks (id) {
            id -> Int8,
            user_id -> Text,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
        }
    }
}

pub mod sqlite {
    diesel::table! {
        tasks (id) {
            id -> BigInt,
            user_id -> Text,
            title -> Text,
            description -> Nullable<Text>,
            completed -> Bool,
            created_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
        }
    }
}

// @generated-style table definition, kept in step with `migrations/` by the
// integration tests (every query below runs against the migrated schema).

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

//! Tasks as the rest of the program sees them: validated values only.

use chrono::{DateTime, Utc};

use super::{Due, FieldError, Priority, Recurrence, Reminders, Tags, UserId};

/// Longest title, in characters (Unicode scalar values) as sent.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub user_id: UserId,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub tags: Tags,
    pub due: Option<Due>,
    /// How it repeats; `None` for a one-off task.
    pub recurrence: Option<Recurrence>,
    pub reminders: Reminders,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The owner's change number of the task's last write (its ETag).
    pub version: i64,
    /// When it was moved to the trash; `None` for a live task.
    pub trashed_at: Option<DateTime<Utc>>,
}

/// A title of 1–200 characters as sent, not only whitespace, free of NUL;
/// stored trimmed. (The same rules as the contract's `maxLength` and
/// `pattern`, so a client that validates against the schema agrees.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(
                "title",
                "must not be empty or only whitespace",
            ));
        }
        if raw.chars().count() > TITLE_MAX_CHARS {
            return Err(FieldError::new(
                "title",
                format!("must be at most {TITLE_MAX_CHARS} characters"),
            ));
        }
        reject_nul("title", raw)?;
        if trimmed
            .chars()
            .all(|c| c.is_whitespace() || is_invisible(c))
        {
            return Err(FieldError::new(
                "title",
                "must contain a visible character, not only invisible ones such as U+200B or U+FEFF",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description of at most 1000 characters, free of NUL. Kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(FieldError::new(
                "description",
                format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
            ));
        }
        reject_nul("description", raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that render as nothing: Unicode's `Default_Ignorable_Code_Point`
/// in the Basic Multilingual Plane (zero-width space and joiners, the byte
/// order mark, soft hyphen, bidi and variation selectors, Hangul fillers…).
/// A title made only of them looks empty in every list. (The BMP only, so
/// the contract's pattern, which JavaScript reads without the `u` flag, can
/// say exactly the same.)
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
    )
}

/// PostgreSQL text cannot hold U+0000: refuse it here rather than fail in SQL.
fn reject_nul(field: &'static str, text: &str) -> Result<(), FieldError> {
    if text.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// What a create request may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub priority: Priority,
    pub tags: Tags,
    pub due: Option<Due>,
    pub recurrence: Option<Recurrence>,
    pub reminders: Reminders,
}

/// A partial update: `None` leaves a field as it is; `description: Some(None)`
/// `due: Some(None)` and `recurrence: Some(None)` clear theirs, and an empty
/// `tags` or `reminders` clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tags: Option<Tags>,
    pub due: Option<Option<Due>>,
    pub recurrence: Option<Option<Recurrence>>,
    pub reminders: Option<Reminders>,
}

impl TaskChanges {
    /// Whether they set a field besides the schedule's.
    pub fn touch_fields(&self) -> bool {
        self.title.is_some()
            || self.description.is_some()
            || self.priority.is_some()
            || self.tags.is_some()
    }

    /// Whether they touch what a task's schedule depends on (due, rule,
    /// completion, reminders), so a recurring task or one with reminders
    /// needs its stored schedule to apply them.
    pub fn touch_schedule(&self) -> bool {
        self.due.is_some()
            || self.completed.is_some()
            || self.recurrence.is_some()
            || self.reminders.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed() {
        assert_eq!(
            TaskTitle::parse("  Buy milk \n").unwrap().as_str(),
            "Buy milk"
        );
    }

    #[test]
    fn a_title_of_only_invisible_characters_is_rejected() {
        for title in [
            "\u{200B}",
            "\u{FEFF}\u{200B} \u{2060}",
            " \u{00AD}\u{200D} ",
        ] {
            let err = TaskTitle::parse(title).unwrap_err();
            assert!(
                err.message.contains("visible"),
                "{title:?}: {}",
                err.message
            );
        }
        // Invisible characters beside a visible one are kept as sent.
        assert_eq!(
            TaskTitle::parse("\u{200B}ok").unwrap().as_str(),
            "\u{200B}ok"
        );
    }

    #[test]
    fn a_blank_title_is_rejected() {
        for raw in ["", "   ", "\t\n"] {
            assert_eq!(TaskTitle::parse(raw).unwrap_err().field, "title");
        }
    }

    #[test]
    fn title_length_counts_characters_as_sent_not_bytes() {
        let at_limit = "é".repeat(TITLE_MAX_CHARS);
        assert!(TaskTitle::parse(&at_limit).is_ok());
        assert!(TaskTitle::parse(&format!(" {at_limit}")).is_err());
        assert!(TaskTitle::parse(&"é".repeat(TITLE_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn nul_is_rejected_in_both_text_fields() {
        assert!(TaskTitle::parse("a\0b").is_err());
        assert!(TaskDescription::parse("a\0b").is_err());
    }

    #[test]
    fn description_limit_is_inclusive() {
        assert!(TaskDescription::parse(&"x".repeat(DESCRIPTION_MAX_CHARS)).is_ok());
        assert!(TaskDescription::parse(&"x".repeat(DESCRIPTION_MAX_CHARS + 1)).is_err());
    }
}

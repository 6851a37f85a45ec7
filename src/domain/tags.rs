//! Tags, priorities, and the text folding that search and tags share.

use unicode_normalization::UnicodeNormalization;

/// Most tags one task may carry (after duplicates merge).
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters after normalising.
pub const TAG_MAX_CHARS: usize = 40;

/// Text in Unicode lower case after NFC normalisation: what search compares,
/// written by the server for both backends alike (SQL's `lower()` folds only
/// ASCII on both).
pub fn fold(text: &str) -> String {
    text.nfc().collect::<String>().to_lowercase()
}

/// One tag as stored: trimmed, NFC, lower case. As sent it has 1–40
/// characters, no control characters and no commas anywhere, and something
/// besides whitespace (the contract's schema says the same, so a client that
/// validates agrees); normalised it still has at most 40.
pub fn parse_tag(raw: &str) -> Result<String, String> {
    if let Some(bad) = raw.chars().find(|&c| c == ',' || c.is_control()) {
        return Err(format!(
            "a tag must not contain commas or control characters ({:?} has U+{:04X})",
            truncated(raw),
            bad as u32
        ));
    }
    let tag = fold(raw.trim());
    let chars = raw.chars().count().max(tag.chars().count());
    if tag.is_empty() {
        return Err("a tag must not be empty or only whitespace".to_owned());
    }
    if chars > TAG_MAX_CHARS {
        return Err(format!(
            "a tag must be at most {TAG_MAX_CHARS} characters ({:?} has {chars})",
            truncated(raw)
        ));
    }
    Ok(tag)
}

fn truncated(text: &str) -> String {
    text.chars().take(TAG_MAX_CHARS + 10).collect()
}

/// A task's tags: normalised, without duplicates, sorted by code point.
/// Kept in their stored form (`,home,urgent,`, or empty for none), so that
/// a task read from the database carries its tags without a string for
/// each, and a response writes them from that one string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(String);

impl Tags {
    /// Tags from normalised ones (`parse_tag`'s output), merged and sorted;
    /// an error when more than [`TAGS_MAX`] remain.
    pub fn new(mut tags: Vec<String>) -> Result<Self, String> {
        tags.sort_unstable();
        tags.dedup();
        if tags.len() > TAGS_MAX {
            return Err(format!(
                "a task may carry at most {TAGS_MAX} distinct tags ({} given)",
                tags.len()
            ));
        }
        Ok(Self::of(tags.iter().map(String::as_str)))
    }

    /// The stored form of `tags`, in their order.
    fn of<'a>(tags: impl Iterator<Item = &'a str>) -> Self {
        let mut column = String::new();
        for tag in tags {
            if column.is_empty() {
                column.push(',');
            }
            column.push_str(tag);
            column.push(',');
        }
        Self(column)
    }

    /// The tags, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(',').filter(|tag| !tag.is_empty())
    }

    /// The stored form: `,home,urgent,`, or empty for no tags.
    pub fn as_column(&self) -> &str {
        &self.0
    }

    /// The stored form, owned.
    pub fn to_column(&self) -> String {
        self.0.clone()
    }

    /// Back from the stored form. The server only ever stores `to_column`'s
    /// form; anything else is rewritten to it.
    pub fn from_column(column: String) -> Self {
        let stored = column.is_empty()
            || (column.len() > 2
                && column.starts_with(',')
                && column.ends_with(',')
                && !column.contains(",,"));
        if stored {
            Self(column)
        } else {
            Self::of(column.split(',').filter(|tag| !tag.is_empty()))
        }
    }

    /// What a tag filter looks for in the stored form.
    pub fn needle(tag: &str) -> String {
        format!(",{tag},")
    }
}

/// How important a task is; stored as its rank (0–3), so sorting by the rank
/// is sorting by priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Self; 4] = [Self::None, Self::Low, Self::Medium, Self::High];

    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Self {
        Self::ALL
            .get(usize::try_from(rank).unwrap_or(0))
            .copied()
            .unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_merged_and_sorted() {
        let raw = [" Work ", "WORK", "e\u{301}té", "été", "ß", "Ärger"];
        let tags = Tags::new(raw.iter().map(|t| parse_tag(t).unwrap()).collect()).unwrap();
        assert_eq!(
            tags.iter().collect::<Vec<_>>(),
            ["work", "ß", "ärger", "été"]
        );
        assert_eq!(tags.to_column(), ",work,ß,ärger,été,");
        assert_eq!(Tags::from_column(tags.to_column()), tags);
        assert_eq!(Tags::from_column(String::new()), Tags::default());
        // Anything but the stored form is rewritten to it.
        for odd in ["a,b", ",a,,b,", "a,b,", ",a,b"] {
            assert_eq!(
                Tags::from_column(odd.to_owned()).to_column(),
                ",a,b,",
                "{odd}"
            );
        }
        assert_eq!(Tags::from_column(",".to_owned()), Tags::default());
        assert_eq!(tags.iter().count(), 4);
    }

    #[test]
    fn bad_tags_are_refused() {
        for raw in [
            "",
            "  ",
            "a,b",
            "tab\there",
            " a\n",
            &"x".repeat(41),
            &format!(" {}", "x".repeat(40)),
        ] {
            assert!(parse_tag(raw).is_err(), "{raw:?}");
        }
        assert!(parse_tag(&"é".repeat(40)).is_ok());
        let many = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tags::new(many).is_err());
        // Duplicates count once.
        assert!(Tags::new(vec!["a".to_owned(); 30]).is_ok());
    }

    #[test]
    fn folding_is_unicode_lower_case_of_nfc() {
        assert_eq!(fold("ÉTÉ"), "été");
        assert_eq!(fold("E\u{301}"), "é");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), "σίσυφος");
        assert_eq!(fold("100%_\\"), "100%_\\");
    }

    #[test]
    fn priorities_rank_in_order() {
        for (rank, priority) in Priority::ALL.into_iter().enumerate() {
            assert_eq!(Priority::from_rank(rank as i16), priority);
            assert_eq!(Priority::parse(priority.as_str()), Some(priority));
        }
        assert!(Priority::High > Priority::None);
    }
}

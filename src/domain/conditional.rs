//! Conditional requests (RFC 9110 §13) and idempotency keys
//! (draft-ietf-httpapi-idempotency-key-header-07), as plain values: the
//! header texts parsed, the comparisons the routes make.

use std::fmt::Write;

/// A task's strong entity tag: its version in quotes, `"12"`.
pub fn task_etag(version: i64) -> String {
    // With itoa, not `format!`: one exact allocation and no formatting
    // machinery, on every read and write of a task.
    let mut digits = itoa::Buffer::new();
    ["\"", digits.format(version), "\""].concat()
}

/// What [`EntityTags::parse`] accepts, as the contract's pattern for
/// `If-Match` and `If-None-Match`.
pub const ENTITY_TAGS_PATTERN: &str =
    r#"^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$"#;
/// The same, in words.
pub const ENTITY_TAGS_RULE: &str = "must be * or a comma-separated list of entity tags such as \
     \"12\" or W/\"12\" (RFC 9110 §8.8.3)";

/// One entity tag of a list: `W/"…"` or `"…"` (RFC 9110 §8.8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// Between the quotes.
    pub opaque: String,
}

/// `If-Match` or `If-None-Match`: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    Any,
    List(Vec<EntityTag>),
}

impl EntityTags {
    /// Parses the header's value; the error says what is wrong, for a 422.
    /// Accepts exactly [`ENTITY_TAGS_PATTERN`], the contract's pattern.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim_matches([' ', '\t']);
        if value == "*" {
            return Ok(Self::Any);
        }
        let malformed = || {
            format!(
                "must be * or a comma-separated list of entity tags such as \"12\" or \
                 W/\"12\" (RFC 9110 §8.8.3), got {value:?}"
            )
        };
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            let (weak, after) = match rest.strip_prefix("W/") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let quoted = after.strip_prefix('"').ok_or_else(malformed)?;
            let end = quoted.find('"').ok_or_else(malformed)?;
            let opaque = &quoted[..end];
            // etagc, as visible ASCII: %x21 / %x23-7E (DQUOTE ends the tag).
            if !opaque
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return Err(malformed());
            }
            tags.push(EntityTag {
                weak,
                opaque: opaque.to_owned(),
            });
            rest = quoted[end + 1..].trim_start_matches([' ', '\t']);
            if rest.is_empty() {
                return Ok(Self::List(tags));
            }
            rest = rest
                .strip_prefix(',')
                .ok_or_else(malformed)?
                .trim_start_matches([' ', '\t']);
        }
    }

    /// What an `If-Match` asks of a task write (strong comparison: a weak tag
    /// never matches, nor does one that is not a version this server made).
    pub fn as_precondition(&self) -> Precondition {
        match self {
            Self::Any => Precondition::Exists,
            Self::List(tags) => Precondition::VersionIn(
                tags.iter()
                    .filter(|tag| !tag.weak)
                    .filter_map(|tag| parse_version(&tag.opaque))
                    .collect(),
            ),
        }
    }

    /// Whether an `If-None-Match` matches a resource whose tag is `opaque`
    /// (weak comparison, RFC 9110 §13.1.2).
    pub fn matches_weakly(&self, opaque: &str) -> bool {
        match self {
            Self::Any => true,
            Self::List(tags) => tags.iter().any(|tag| tag.opaque == opaque),
        }
    }
}

/// A version as this server writes it: decimal, no sign, no leading zero.
fn parse_version(text: &str) -> Option<i64> {
    let version: i64 = text.parse().ok()?;
    (version >= 0 && version.to_string() == text).then_some(version)
}

/// What a conditional write requires of the task, checked in the write's own
/// statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `If-Match: *`: any existing task (which a write needs anyway).
    Exists,
    /// The task's version is one of these (none: nothing matches).
    VersionIn(Vec<i64>),
}

impl Precondition {
    /// Whether a task of this version meets it.
    pub fn is_met_by(&self, version: i64) -> bool {
        match self {
            Self::Exists => true,
            Self::VersionIn(versions) => versions.contains(&version),
        }
    }
}

/// Longest `Idempotency-Key`, in characters.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;

/// What `IdempotencyKey::parse` accepts, as the contract's pattern.
pub const IDEMPOTENCY_KEY_PATTERN: &str = r#"^([!#-~]{1,255}|"[!#-~]{1,255}")$"#;
/// The same, in words.
pub const IDEMPOTENCY_KEY_RULE: &str = "must be 1–255 visible ASCII characters (no spaces, double \
     quotes, control or non-ASCII characters), bare or in double quotes, e.g. a UUID";

/// An `Idempotency-Key`: 1–255 visible ASCII characters, sent bare or as a
/// structured-field string (`"…"`, the draft's syntax).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim_matches([' ', '\t']);
        let key = match value.strip_prefix('"') {
            Some(quoted) => quoted.strip_suffix('"').ok_or_else(|| {
                "a quoted key must end with a double quote: \"abc-123\"".to_owned()
            })?,
            None => value,
        };
        if key.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if !key.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
            return Err(IDEMPOTENCY_KEY_RULE.to_owned());
        }
        if key.len() > IDEMPOTENCY_KEY_MAX_CHARS {
            return Err(format!(
                "must be at most {IDEMPOTENCY_KEY_MAX_CHARS} characters"
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The weak tag of a listing: what the tasks' state is known by (the
/// owner's last change number) and a digest of the query, so another query
/// of the same tasks has another tag.
pub fn list_etag_opaque(state: &str, query_digest: &[u8]) -> String {
    let mut opaque = format!("{state}-");
    for byte in query_digest.iter().take(6) {
        let _ = write!(opaque, "{byte:02x}");
    }
    opaque
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_etag_is_its_version_in_quotes() {
        for version in [1, 8, 12_345, i64::MAX] {
            assert_eq!(task_etag(version), format!("\"{version}\""));
        }
    }

    fn tag(weak: bool, opaque: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: opaque.to_owned(),
        }
    }

    #[test]
    fn entity_tag_lists_parse_as_rfc_9110_writes_them() {
        assert_eq!(EntityTags::parse("*"), Ok(EntityTags::Any));
        assert_eq!(
            EntityTags::parse(r#""12""#),
            Ok(EntityTags::List(vec![tag(false, "12")]))
        );
        assert_eq!(
            EntityTags::parse(r#" W/"3-ab" , "4", "a,b" "#),
            Ok(EntityTags::List(vec![
                tag(true, "3-ab"),
                tag(false, "4"),
                tag(false, "a,b")
            ]))
        );
        for bad in [
            "",
            "12",
            r#""12"#,
            r#""1"2""#,
            "W/12",
            r#""1" "2""#,
            ",",
            "**",
            r#""a b""#,
        ] {
            assert!(EntityTags::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    /// The contract's pattern and the parser agree, on every case above and more.
    #[test]
    fn the_entity_tag_pattern_is_the_parser() {
        let pattern = regex::Regex::new(ENTITY_TAGS_PATTERN).unwrap();
        for value in [
            "*",
            " * ",
            r#""12""#,
            r#"W/"12""#,
            r#""a", W/"b""#,
            r#""""#,
            r#""1" ,"2""#,
            "",
            "12",
            r#""12"#,
            r#""1"2""#,
            "W/12",
            r#""1" "2""#,
            ",",
            "**",
            r#""a b""#,
            r#""1",,"2""#,
            r#","1""#,
            r#""1","#,
            r#""é""#,
            r#"*, "1""#,
            r#"w/"1""#,
        ] {
            assert_eq!(
                pattern.is_match(value),
                EntityTags::parse(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn if_match_compares_strongly_and_only_with_versions() {
        let precondition = |value| EntityTags::parse(value).unwrap().as_precondition();
        assert_eq!(precondition("*"), Precondition::Exists);
        assert_eq!(
            precondition(r#""7", W/"8""#),
            Precondition::VersionIn(vec![7])
        );
        assert_eq!(
            precondition(r#""007", "-1", "x", "99999999999999999999""#),
            Precondition::VersionIn(vec![])
        );
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let tags = EntityTags::parse(r#"W/"5""#).unwrap();
        assert!(tags.matches_weakly("5"));
        assert!(!tags.matches_weakly("6"));
        assert!(EntityTags::Any.matches_weakly("6"));
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_bare_or_quoted() {
        assert_eq!(IdempotencyKey::parse("abc-1").unwrap().as_str(), "abc-1");
        assert_eq!(
            IdempotencyKey::parse("\"abc-1\"").unwrap().as_str(),
            "abc-1"
        );
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in [
            "",
            "\"\"",
            "a b",
            "é",
            "\"abc",
            "a\"b",
            &"k".repeat(256),
            "a\u{7f}",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_idempotency_key_pattern_is_the_parser() {
        let pattern = regex::Regex::new(IDEMPOTENCY_KEY_PATTERN).unwrap();
        let (longest, too_long) = ("k".repeat(255), "k".repeat(256));
        let quoted = format!("\"{longest}\"");
        for value in [
            "abc-1",
            "\"abc-1\"",
            &longest,
            &quoted,
            &too_long,
            "",
            "\"\"",
            "a b",
            "é",
            "\"abc",
            "a\"b",
            "a\u{7f}",
            "abc\"",
        ] {
            assert_eq!(
                pattern.is_match(value),
                IdempotencyKey::parse(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn list_tags_carry_the_change_number_and_the_query() {
        assert_eq!(
            list_etag_opaque("42", &[0xab, 0xcd, 1, 2, 3, 4, 5]),
            "42-abcd01020304"
        );
    }
}

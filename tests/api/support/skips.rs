//! Checks skipped for want of a tool, counted, and summed up in one line when
//! the test binary exits, so a run that skipped something never ends on a
//! plain "ok" far below the SKIPPING notices.
//!
//! The line is printed by a C `atexit` handler, registered by the first skip:
//! it runs after the harness has printed its result, whichever test finishes
//! last, and not at all when nothing was skipped. (`tests/api` is the last
//! binary `cargo test` runs: the library has no doc-tests, `doctest = false`.)

use std::{
    io::Write,
    sync::{Mutex, Once, PoisonError},
};

/// One entry per skipped check: what was missing.
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" {
    /// C's `atexit` (the C library is linked into every Rust program here).
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Notes one skipped check; `missing` is short ("no pgbouncer"): the full
/// reason was printed where the check was skipped.
pub fn record(missing: &str) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `summarize` is a plain function that never unwinds (it
        // tolerates a poisoned lock and ignores write errors).
        unsafe {
            atexit(summarize);
        }
    });
    SKIPPED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(missing.to_owned());
}

/// "3 checks skipped: no PostgreSQL server (2), no pgbouncer (1)", in the
/// order the reasons first came up.
fn summary(skipped: &[String]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for missing in skipped {
        match counts.iter_mut().find(|(seen, _)| seen == missing) {
            Some((_, count)) => *count += 1,
            None => counts.push((missing, 1)),
        }
    }
    let reasons: Vec<String> = counts
        .iter()
        .map(|(missing, count)| format!("{missing} ({count})"))
        .collect();
    let checks = if skipped.len() == 1 {
        "check"
    } else {
        "checks"
    };
    Some(format!(
        "{} {checks} skipped: {}. `bash .ci/run` installs what they need (docs/testing.md)",
        skipped.len(),
        reasons.join(", ")
    ))
}

extern "C" fn summarize() {
    let skipped = SKIPPED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(line) = summary(&skipped) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

#[test]
fn the_summary_counts_each_reason_in_the_order_it_came_up() {
    let skipped = [
        "no PostgreSQL server",
        "no pgbouncer",
        "no PostgreSQL server",
    ]
    .map(str::to_owned);
    assert_eq!(
        summary(&skipped).unwrap(),
        "3 checks skipped: no PostgreSQL server (2), no pgbouncer (1). \
         `bash .ci/run` installs what they need (docs/testing.md)"
    );
    assert_eq!(summary(&[]), None);
}

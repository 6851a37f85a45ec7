//! The README works as written on a fresh clone. Its shell blocks (```sh)
//! parse; the quick start is exactly `cargo run` and `cargo test`, and CI runs
//! that same test command; the "Using the API" blocks run, with `bash -euo
//! pipefail`, against the real binary in dev mode, with only the `TOKEN=...`
//! placeholder and the port in `API=` replaced; the configuration table is one
//! table naming every variable the server reads; and relative links in the
//! README and docs/ lead to files inside the repository. The conventions are
//! repeated in a comment at the top of README.md.

use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use regex::Regex;

use crate::binary::{Server, scratch_dir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Fence languages taken for shell commands.
const SHELL: [&str; 3] = ["sh", "bash", "shell"];

fn read(relative: &str) -> String {
    let path = Path::new(ROOT).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The Markdown files users read: the README, the architecture notes, the
/// benchmark's page and everything under docs/.
fn documents() -> Vec<String> {
    let mut files = vec![
        "README.md".to_owned(),
        "ARCHITECTURE.md".to_owned(),
        "bench/README.md".to_owned(),
    ];
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("a docs/ folder")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// A fenced code block.
struct Block {
    /// The `## ` heading it sits under ("" before the first).
    section: String,
    lang: String,
    code: String,
    /// 1-based line of the opening fence.
    line: usize,
}

impl Block {
    fn is_shell(&self) -> bool {
        SHELL.contains(&self.lang.as_str())
    }
}

/// The fenced blocks of `markdown` (fences start at the line's first column),
/// and the lines outside them.
fn parse(markdown: &str) -> (Vec<Block>, Vec<(usize, &str)>) {
    let (mut blocks, mut prose) = (Vec::new(), Vec::new());
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    section: section.clone(),
                    lang: lang.trim().to_owned(),
                    code: String::new(),
                    line: index + 1,
                });
            }
            (Some(_), Some("")) => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.code.push_str(line);
                block.code.push('\n');
            }
            (None, None) => {
                if let Some(heading) = line.strip_prefix("## ") {
                    section = heading.trim().to_owned();
                }
                prose.push((index + 1, line));
            }
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    (blocks, prose)
}

fn readme_blocks_under(section: &str) -> Vec<Block> {
    let blocks: Vec<Block> = parse(&read("README.md"))
        .0
        .into_iter()
        .filter(|block| block.section == section && block.is_shell())
        .collect();
    assert!(
        !blocks.is_empty(),
        "README.md has no ```sh block under \"## {section}\""
    );
    blocks
}

#[test]
fn readme_and_docs_shell_blocks_parse() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in documents() {
        for block in parse(&read(&file)).0 {
            assert_ne!(
                block.lang, "console",
                "{file}:{}: use ```sh for commands (without prompts) and ```text for output",
                block.line
            );
            if !block.is_shell() {
                continue;
            }
            checked += 1;
            let mut bash = Command::new("bash")
                .arg("-n")
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("bash");
            bash.stdin
                .take()
                .unwrap()
                .write_all(block.code.as_bytes())
                .unwrap();
            let output = bash.wait_with_output().unwrap();
            if !output.status.success() {
                failures.push(format!(
                    "{file}:{}: {}",
                    block.line,
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
    }
    assert!(checked > 5, "only {checked} shell blocks found");
    assert!(
        failures.is_empty(),
        "shell blocks that do not parse:\n{}",
        failures.join("\n")
    );
}

#[test]
fn readme_quick_start_is_cargo_run_then_cargo_test_and_ci_runs_the_same_tests() {
    let commands: Vec<String> = readme_blocks_under("Quick start")
        .iter()
        .map(|block| block.code.trim().to_owned())
        .collect();
    assert_eq!(
        commands,
        ["cargo run", "cargo test"],
        "the quick start is two commands: one starts the server, one runs the whole suite"
    );
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == commands[1]),
        ".ci/run must run the README's test command, `{}`",
        commands[1]
    );
}

#[test]
fn readme_using_the_api_runs_against_a_dev_mode_server() {
    let script = readme_blocks_under("Using the API")
        .iter()
        .map(|block| block.code.as_str())
        .collect::<String>();

    // Dev mode: no token settings and no database URL, in an empty folder.
    let dir = scratch_dir();
    let server = Server::start(&dir, &[]);
    let token = server.dev_token();

    let (mut tokens, mut apis) = (0, 0);
    let script: String = script
        .lines()
        .map(|line| {
            if line.starts_with("TOKEN=") {
                tokens += 1;
                assert!(
                    line.starts_with("TOKEN=..."),
                    "the token line is the one placeholder, `TOKEN=...`: {line}"
                );
                format!("TOKEN='{token}'\n")
            } else if line.starts_with("API=") {
                apis += 1;
                assert!(
                    line.contains("127.0.0.1:8000"),
                    "API= names the quick start's server: {line}"
                );
                format!("{}\n", line.replace("127.0.0.1:8000", server.address()))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!((tokens, apis), (1, 1), "one TOKEN= line and one API= line");

    let home = scratch_dir();
    let output = Command::new("bash")
        .args(["-e", "-u", "-o", "pipefail", "-c", &script])
        .current_dir(&home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // No ~/.curlrc of the developer's.
        .env("HOME", &home)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the README's \"Using the API\" commands failed ({}):\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );

    let (code, log) = server.terminate();
    assert_eq!(code, 0);
    let status = Regex::new(r"todo_api::request.* status=(\d{3})").unwrap();
    let statuses: Vec<u16> = log
        .iter()
        .filter_map(|line| status.captures(line))
        .map(|found| found[1].parse().unwrap())
        .collect();
    assert!(
        statuses.contains(&201),
        "the commands create a task: {statuses:?}\n{stdout}"
    );
    assert!(
        statuses.iter().all(|status| *status < 400),
        "every request succeeds: {statuses:?}\n{stdout}"
    );
}

#[test]
fn readme_configuration_is_one_table_naming_every_variable() {
    let config = read("src/config.rs");
    let config = config.split("#[cfg(test)]").next().unwrap();
    let quoted = Regex::new(r#""([A-Z][A-Z0-9_]{2,})""#).unwrap();
    let mut read_by_server: BTreeSet<String> = quoted
        .captures_iter(config)
        .map(|found| found[1].to_owned())
        .collect();
    // Read by the log filter in main.rs.
    read_by_server.insert("RUST_LOG".to_owned());

    let readme = read("README.md");
    let (_, prose) = parse(&readme);
    let section: Vec<(usize, &str)> = prose
        .iter()
        .copied()
        .skip_while(|(_, line)| *line != "## Configuration")
        .skip(1)
        .take_while(|(_, line)| !line.starts_with("## "))
        .collect();
    let rows: Vec<(usize, &str)> = section
        .iter()
        .copied()
        .filter(|(_, line)| line.starts_with('|'))
        .collect();
    assert!(!rows.is_empty(), "no table under \"## Configuration\"");
    let (first, last) = (rows[0].0, rows[rows.len() - 1].0);
    assert_eq!(
        last - first + 1,
        rows.len(),
        "the configuration table is broken by a line that is not a row (README.md lines {first}–{last})"
    );

    let first_cell = Regex::new(r"^\| `([A-Z][A-Z0-9_]+)` \|").unwrap();
    let documented: BTreeSet<String> = rows
        .iter()
        .filter_map(|(_, row)| first_cell.captures(row))
        .map(|found| found[1].to_owned())
        .collect();
    let missing: Vec<&String> = read_by_server.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&read_by_server).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's configuration table: rows missing for {missing:?} (read in src/config.rs), \
         rows for variables the server does not read: {stale:?}"
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn readme_and_docs_links_point_at_files_in_the_repository() {
    let root = Path::new(ROOT).canonicalize().unwrap();
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let code_span = Regex::new(r"`[^`]*`").unwrap();
    let mut broken = Vec::new();
    for file in documents() {
        let text = read(&file);
        for (number, line) in parse(&text).1 {
            let line = code_span.replace_all(line, "");
            for found in link.captures_iter(&line) {
                let target = &found[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
                let resolved: PathBuf = if path.is_empty() {
                    root.join(&file)
                } else {
                    root.join(&file).parent().unwrap().join(path)
                };
                let Ok(resolved) = resolved.canonicalize() else {
                    broken.push(format!("{file}:{number}: {target} does not exist"));
                    continue;
                };
                if !resolved.starts_with(&root) {
                    broken.push(format!(
                        "{file}:{number}: {target} is outside the repository (broken in a clone)"
                    ));
                    continue;
                }
                if !fragment.is_empty() {
                    let headings = std::fs::read_to_string(&resolved).unwrap_or_default();
                    let found = parse(&headings).1.iter().any(|(_, line)| {
                        line.starts_with('#') && anchor(line.trim_start_matches('#')) == fragment
                    });
                    if !found {
                        broken.push(format!("{file}:{number}: no heading for #{fragment}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

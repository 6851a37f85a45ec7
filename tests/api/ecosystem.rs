//! The contract's ecosystem, run by `cargo test` like everything else: the
//! spec lint, the breaking-change check, the generated TypeScript client,
//! Schemathesis and Swagger UI in headless Chromium, each against the built
//! binary on a fresh PostgreSQL database.
//!
//! Their tools come from npm, PyPI and Debian (`.ci/run` installs them). Where
//! one is missing the test says so and is skipped; under `CI=true` it fails.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// `folder` when its tool (a file under it) is installed; otherwise the
/// skip-or-fail verdict, naming the command that installs it.
pub(crate) fn installed(folder: &str, marker: &str, install: &str) -> Option<PathBuf> {
    let folder = path(folder);
    if folder.join(marker).exists() {
        return Some(folder);
    }
    let relative = folder.strip_prefix(ROOT).unwrap_or(&folder).display();
    postgres::skip_or_fail(
        &format!("{relative} not installed"),
        &format!(
            "{} is not installed (run `{install}` in {}); `.ci/run` installs it",
            marker,
            folder.display()
        ),
    )
}

/// Runs `command` to the end; its exit status and everything it printed.
fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Runs `command` and fails the test, showing its output, unless it succeeds.
#[track_caller]
pub(crate) fn run_ok(command: &mut Command) -> String {
    let (ok, text) = run(command);
    assert!(ok, "{command:?} failed:\n{text}");
    text
}

/// A line for the terminal even when the harness captures test output: the
/// figures and paths the CI log must show.
pub(crate) fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub(crate) fn npm(folder: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command
        .args(args)
        .arg("--no-update-notifier")
        .current_dir(folder);
    command
}

/// The release binary's twin under test, on its own PostgreSQL database,
/// with two users whose tokens it accepts.
struct LiveServer {
    server: Server,
    alice: TestUser,
    bob: TestUser,
    _database: postgres::TestDatabase,
}

impl LiveServer {
    async fn start() -> Option<Self> {
        let database = postgres::server()?.create_database().await;
        let server = Server::start(
            &scratch_dir(),
            &[
                ("NEON_DB_URL", &database.url),
                ("BETTER_AUTH_SECRET", SECRET),
            ],
        );
        Some(Self {
            server,
            alice: TestUser::new("alice"),
            bob: TestUser::new("bob"),
            _database: database,
        })
    }

    /// `TODO_API_URL`, `TODO_API_USER` and `TODO_API_TOKEN` (and the second
    /// user's), as every e2e script reads them.
    fn env(&self, command: &mut Command) {
        command
            .env("TODO_API_URL", self.server.url(""))
            .env("TODO_API_USER", &self.alice.id)
            .env("TODO_API_TOKEN", &self.alice.token)
            .env("TODO_API_OTHER_USER", &self.bob.id)
            .env("TODO_API_OTHER_TOKEN", &self.bob.token);
    }
}

#[test]
fn the_contract_passes_redocly_lint_at_its_recommended_rules() {
    let Some(dir) = installed("tests/e2e/contract", "node_modules/.bin/redocly", "npm ci") else {
        return;
    };
    let output = run_ok(
        Command::new(dir.join("node_modules/.bin/redocly"))
            .args(["lint", "../../../openapi.yaml", "--format=summary"])
            .current_dir(&dir),
    );
    // Warnings do not fail `redocly lint`; here they do. (The summary lists
    // each rule that complained as `error <rule>: <count>` or `warning ...`.)
    assert!(
        !output
            .lines()
            .any(|line| line.starts_with("warning ") || line.starts_with("error ")),
        "Redocly complains about the contract:\n{output}"
    );
    assert!(output.contains("Your API description is valid"), "{output}");
}

/// The released contracts' versions, `contracts/released/<version>.yaml`,
/// oldest first by semantic version.
fn released_versions(folder: &Path) -> Vec<(u64, u64, u64)> {
    let mut versions: Vec<(u64, u64, u64)> = std::fs::read_dir(folder)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", folder.display()))
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name.strip_suffix(".yaml")?;
            let parts: Option<Vec<u64>> = version.split('.').map(|p| p.parse().ok()).collect();
            match parts.as_deref() {
                Some(&[major, minor, patch]) => Some((major, minor, patch)),
                _ => panic!("{name} is not <major>.<minor>.<patch>.yaml"),
            }
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn the_contract_has_no_breaking_change_against_the_last_release() {
    let Some(dir) = installed("tests/e2e/contract", "node_modules/.bin/optic", "npm ci") else {
        return;
    };
    // The newest committed release is the one compared with.
    let (major, minor, patch) = *released_versions(&path("contracts/released"))
        .last()
        .expect("contracts/released holds at least the 1.0.0 contract");
    let output = run_ok(Command::new("bash").arg(dir.join("breaking-check")));
    let first = output.lines().next().unwrap_or_default();
    report(first);
    let newest =
        format!("against the last release, contracts/released/{major}.{minor}.{patch}.yaml");
    assert!(first.contains(&newest), "not {newest:?}:\n{output}");

    // Newest by semantic version, not by name: 1.10.0 comes after 1.9.0. Were
    // 1.9.0 taken, the `order` value it has and the contract lacks would fail.
    let released = scratch_dir();
    let releases = [
        (
            "1.9.0",
            contract_text(&[
                (
                    &format!("  version: {}", todo_api::api::CONTRACT_VERSION),
                    "  version: 1.9.0",
                ),
                (
                    "      enum:\n      - asc\n      - desc",
                    "      enum:\n      - asc\n      - desc\n      - sideways",
                ),
            ]),
        ),
        (
            "1.10.0",
            contract_text(&[(
                &format!("  version: {}", todo_api::api::CONTRACT_VERSION),
                "  version: 1.10.0",
            )]),
        ),
    ];
    for (version, text) in releases {
        std::fs::write(released.join(format!("{version}.yaml")), text).unwrap();
    }
    let (ok, output) = run(Command::new("bash")
        .arg(dir.join("breaking-check"))
        .env("RELEASED_DIR", &released));
    assert!(
        ok,
        "1.10.0 is the newest release, and compatible:\n{output}"
    );
    assert!(output.contains("/1.10.0.yaml (version 1.10.0)"), "{output}");
    assert!(output.contains("OK: no breaking change"), "{output}");
}

/// The committed contract with `edits` applied.
fn contract_text(edits: &[(&str, &str)]) -> String {
    let mut spec = std::fs::read_to_string(path("openapi.yaml")).unwrap();
    for (from, to) in edits {
        assert!(spec.contains(from), "the contract no longer has {from:?}");
        spec = spec.replacen(from, to, 1);
    }
    spec
}

/// The committed contract with `edits` applied, as a new file.
fn edited_contract(edits: &[(&str, &str)]) -> PathBuf {
    let file = scratch_dir().join("openapi.yaml");
    std::fs::write(&file, contract_text(edits)).unwrap();
    file
}

/// Three breaks a client would feel: an optional query parameter made
/// required, an enum value taken away, a response field made optional.
const BREAKS: &[(&str, &str)] = &[
    (
        "description: 'Which tasks to return: `all` (default), `pending` or `completed`.'\n        required: false",
        "description: 'Which tasks to return: `all` (default), `pending` or `completed`.'\n        required: true",
    ),
    (
        "      enum:\n      - asc\n      - desc",
        "      enum:\n      - asc",
    ),
    (
        "      - completed\n      - priority\n",
        "      - priority\n",
    ),
];

#[test]
fn a_deliberately_broken_contract_fails_the_breaking_change_check() {
    let Some(dir) = installed("tests/e2e/contract", "node_modules/.bin/optic", "npm ci") else {
        return;
    };
    let check = |spec: &Path| {
        run(Command::new("bash")
            .arg(dir.join("breaking-check"))
            .arg(spec)
            .env("BASE_SPEC", path("openapi.yaml")))
    };

    let version = todo_api::api::CONTRACT_VERSION;
    let (ok, output) = check(&edited_contract(BREAKS));
    assert!(!ok, "the broken contract passed the check:\n{output}");
    for expected in [
        "cannot make optional query parameter 'status' required",
        "cannot remove enum option 'desc' from query parameter 'order'",
        "cannot make required response property 'completed' optional",
        &format!("FAILED: the changes above break clients of {version}"),
    ] {
        assert!(output.contains(expected), "no {expected:?} in:\n{output}");
    }

    // The same breaks with a major step are a new version, not a break.
    let mut major = BREAKS.to_vec();
    let from = format!("  version: {version}");
    major.push((&from, "  version: 2.0.0"));
    let (ok, output) = check(&edited_contract(&major));
    assert!(ok, "a major step must allow breaking changes:\n{output}");
    assert!(output.contains(&format!("allowed by the major step {version} -> 2.0.0")));

    // A compatible addition passes without one.
    let (ok, output) = check(&edited_contract(&[(
        "  /health:\n",
        "  /health:\n    head:\n      operationId: health_head\n      responses:\n        '200':\n          description: Up.\n",
    )]));
    assert!(ok, "adding an operation is not a break:\n{output}");
    assert!(output.contains("OK: no breaking change"));
}

#[test]
fn the_typescript_client_is_generated_from_the_contract_and_typechecks() {
    let Some(dir) = installed(
        "clients/typescript",
        "node_modules/.bin/openapi-typescript",
        "npm ci",
    ) else {
        return;
    };
    run_ok(&mut npm(&dir, &["run", "--silent", "check:generated"]));
    run_ok(&mut npm(&dir, &["run", "--silent", "typecheck"]));
}

#[tokio::test]
async fn the_typescript_client_drives_the_running_server() {
    let Some(dir) = installed("clients/typescript", "node_modules/.bin/tsc", "npm ci") else {
        return;
    };
    let Some(live) = LiveServer::start().await else {
        return;
    };
    let mut command = npm(&dir, &["test"]);
    live.env(&mut command);
    let output = run_ok(&mut command);
    let summary = output
        .lines()
        .filter(|line| line.starts_with("ℹ pass") || line.starts_with("ℹ fail"))
        .collect::<Vec<_>>()
        .join(", ");
    report(&format!("TypeScript client against the server: {summary}"));
}

/// A copy of the folder `from` at `to`, without the entries named in `skip`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if skip.iter().any(|name| entry.file_name() == *name) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, skip);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The client as a frontend gets it, the way its README says: `npm pack` of
/// clients/typescript as a clean checkout has it (no `dist/`), the tarball
/// installed into a copy of tests/e2e/ts-consumer (a stand-in for a Next.js
/// app), whose `lib/api.ts` must type-check under `moduleResolution` `node`
/// (older Next.js configs), `node16` and `bundler`. Returns the app's folder.
fn pack_install_and_typecheck(client: &Path) -> PathBuf {
    let scratch = scratch_dir();

    // Packed from a copy: packing builds `dist/`, which another test here
    // rebuilds and runs at the same time. Its tools come from the client's own
    // `node_modules`.
    let source = scratch.join("client");
    copy_tree(client, &source, &["node_modules", "dist"]);
    std::os::unix::fs::symlink(client.join("node_modules"), source.join("node_modules")).unwrap();
    run_ok(&mut npm(
        &source,
        &["pack", "--pack-destination", scratch.to_str().unwrap()],
    ));
    let tarball = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|file| file.extension().is_some_and(|ext| ext == "tgz"))
        .expect("npm pack wrote no tarball");

    let app = scratch.join("app");
    copy_tree(&path("tests/e2e/ts-consumer"), &app, &["node_modules"]);
    run_ok(&mut npm(
        &app,
        &[
            "install",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            tarball.to_str().unwrap(),
        ],
    ));

    // The client's TypeScript, once per tsconfig.<resolution>.json, in parallel.
    let checks = ["node", "node16", "bundler"].map(|resolution| {
        let child = Command::new(client.join("node_modules/.bin/tsc"))
            .args(["-p", &format!("tsconfig.{resolution}.json")])
            .current_dir(&app)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running tsc");
        (resolution, child)
    });
    for (resolution, child) in checks {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the frontend does not type-check with moduleResolution {resolution:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    app
}

/// The packed client in a frontend (see `pack_install_and_typecheck`), then
/// the frontend's `smoke.mjs`: it imports the installed package and calls the
/// server at `NEXT_PUBLIC_API_URL`.
#[tokio::test]
async fn the_packed_typescript_client_installs_typechecks_and_runs_in_a_frontend() {
    let Some(client) = installed("clients/typescript", "node_modules/.bin/tsc", "npm ci") else {
        return;
    };
    // npm and tsc take most of the time: they run while the server starts.
    let frontend = tokio::task::spawn_blocking(move || pack_install_and_typecheck(&client));
    let live = LiveServer::start().await;
    let app = frontend
        .await
        .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
    let Some(live) = live else {
        return;
    };

    let mut command = Command::new("node");
    command
        .arg("smoke.mjs")
        .current_dir(&app)
        .env("NEXT_PUBLIC_API_URL", live.server.url(""));
    live.env(&mut command);
    let output = run_ok(&mut command);
    // The installed copy, not a link back to clients/typescript.
    let installed_copy = app
        .canonicalize()
        .unwrap()
        .join("node_modules/todo-api-client/dist/src/index.js");
    assert!(
        output.contains(&format!("module: {}", installed_copy.display())),
        "smoke.mjs did not import {}:\n{output}",
        installed_copy.display()
    );
    report(&format!(
        "packed TypeScript client in a frontend: type-checks under node, node16 and bundler; {}",
        output.lines().last().unwrap_or_default()
    ));
}

#[tokio::test]
async fn schemathesis_finds_no_failure_in_the_running_server() {
    let Some(dir) = installed(
        "tests/e2e/schemathesis",
        ".venv/bin/schemathesis",
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
    ) else {
        return;
    };
    let Some(live) = LiveServer::start().await else {
        return;
    };
    let mut command = Command::new("bash");
    command.arg(dir.join("run")).current_dir(&dir);
    live.env(&mut command);
    let output = run_ok(&mut command);
    // The summary's "Test cases:" and "Test Phases:" sections, each a heading
    // followed by indented lines.
    let section = |heading: &str| {
        output
            .lines()
            .skip_while(|line| line.trim() != heading)
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    };
    report(&format!(
        "Schemathesis: {} (phases: {})",
        section("Test cases:"),
        section("Test Phases:")
    ));
}

/// tests/e2e/swagger-ui's folder (Playwright) and a live server, when
/// Chromium is installed too; otherwise the skip-or-fail verdict.
async fn browser_harness() -> Option<(PathBuf, LiveServer)> {
    let dir = installed(
        "tests/e2e/swagger-ui",
        "node_modules/playwright-core/package.json",
        "npm ci",
    )?;
    if !Path::new("/usr/bin/chromium").exists() {
        return postgres::skip_or_fail(
            "no Chromium",
            "Chromium is not installed (apt-get install chromium)",
        );
    }
    Some((dir, LiveServer::start().await?))
}

#[tokio::test]
async fn swagger_ui_lists_every_operation_and_runs_try_it_out_in_chromium() {
    let Some((dir, live)) = browser_harness().await else {
        return;
    };
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts/swagger-ui.png");
    let mut command = npm(&dir, &["test"]);
    live.env(&mut command);
    command.env("SCREENSHOT", &screenshot);
    run_ok(&mut command);
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    report(&format!(
        "Swagger UI in Chromium: Try it out on every operation gave its status; screenshot: {}",
        screenshot.display()
    ));
}

#[tokio::test]
async fn redoc_renders_the_contract_offline_in_chromium() {
    let Some((dir, live)) = browser_harness().await else {
        return;
    };
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts/redoc.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let mut command = npm(&dir, &["run", "--silent", "test:redoc"]);
    live.env(&mut command);
    command.env("SCREENSHOT", &screenshot);
    let output = run_ok(&mut command);
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    report(output.lines().last().unwrap_or_default());
}

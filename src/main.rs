use std::{io::IsTerminal, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use todo_api::{
    api, auth,
    config::{Config, ConfigError, LogFormat},
    server,
};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: the same speed here, and it hands
/// the memory of large responses back to the OS instead of keeping it in
/// per-thread arenas (glibc kept 120 MB after a burst of 10 000-task
/// listings). Built without transparent huge pages (`no_thp`), which this
/// kernel turns on for every mapping, and as the process's `malloc`
/// (`override`) so SQLite's own allocations are returned too (SQLite RSS after
/// a burst of 10 000-task listings: 294 MB with glibc under it, 80 MB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Tasks REST API. With no command, it serves.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI contract the server implements.
    Openapi {
        #[arg(long, value_enum, default_value_t = Format::Yaml)]
        format: Format,
    },
    /// Print an HS256 token for a user, signed with the configured
    /// BETTER_AUTH_SECRET (for local testing).
    Token {
        /// The user id (the token's `sub`).
        #[arg(long)]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

/// `mi_option_purge_delay` in mimalloc.h (v3); the Rust bindings name no
/// constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Hand freed memory back to the OS at once. mimalloc's default waits a
    // second and then purges only when the thread allocates again, which an
    // idle server does not: a burst of 10 000-task listings left 167 MB
    // resident for good, 37 MB with this, for 3-5 % more CPU per request
    // (bench/README.md). (The guard checks the option is the
    // one whose default is 1000 ms, should a new mimalloc renumber them.)
    // SAFETY: mimalloc's options are plain integers it reads on each use; its
    // documentation allows setting them at any time.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == 1000 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
    let cli = Cli::parse();
    if let Some(Command::Openapi { format }) = cli.command {
        let service = api::service();
        match format {
            Format::Yaml => print!("{}", service.spec_yaml()),
            Format::Json => println!("{}", service.spec()),
        }
        return ExitCode::SUCCESS;
    }

    // A missing .env is normal; variables already set win over it.
    let _ = dotenvy::dotenv();
    let log_format = match LogFormat::from_lookup(|name| std::env::var(name).ok()) {
        Ok(format) => format,
        Err(err) => {
            eprintln!("todo-api: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // tokio-postgres logs every statement's parameters at debug:
        // task titles and descriptions. They stay out of the log
        // whatever RUST_LOG asks for.
        .add_directive(
            "tokio_postgres::query=info"
                .parse()
                .expect("a valid directive"),
        )
        // rmcp logs every MCP request and result at debug (task
        // contents, tool arguments): kept out the same way.
        .add_directive("rmcp=info".parse().expect("a valid directive"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match log_format {
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        // The event's fields at the top level of each line; the request's
        // span (with its `request_id`) under "span".
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("todo-api: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Token { sub, ttl_secs }) = &cli.command {
        return match (&config.auth.shared_secret, config.auth.dev_mode) {
            (Some(secret), false) => {
                if let Some(max) = config.auth.max_ttl_secs.filter(|max| ttl_secs > max) {
                    eprintln!(
                        "todo-api: warning: this server refuses tokens valid for more than \
                         JWT_MAX_TTL_SECS={max} seconds; pass --ttl-secs {max} or less"
                    );
                }
                println!("{}", auth::mint_token(secret.expose(), sub, *ttl_secs));
                ExitCode::SUCCESS
            }
            _ => {
                eprintln!(
                    "todo-api: BETTER_AUTH_SECRET is not set: `todo-api token` signs with the configured secret"
                );
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("todo-api: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Migrate) => server::open_database(&config).await.map(drop),
            _ => server::serve(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Something the operator must change: the documented exit code 2.
        Err(err) if err.chain().any(|cause| cause.is::<ConfigError>()) => {
            eprintln!("todo-api: configuration error: {err:#}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("todo-api: {err:#}");
            ExitCode::FAILURE
        }
    }
}

//! `ecsd`: the server and its command line.

use clap::{Parser, Subcommand};
use ecsd::{accounts, cli, secrets, serve, AdminTarget, DataDir};

#[derive(Parser)]
#[command(
    name = "ecsd",
    version,
    about = "An ECS-compatible instance release lifecycle server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Accounts (offline, against the data dir).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Access keys (offline, against the data dir).
    #[command(subcommand, name = "access-key")]
    AccessKey(AccessKeyCommand),
    /// The master key that seals access-key secrets at rest (offline, against the data dir).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// The server's clock (through the admin API).
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Lifecycle events recorded by the server (through the admin API).
    Events {
        #[command(flatten)]
        target: AdminTarget,
        /// Cursor from a previous listing.
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account.
    Create {
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
enum AccessKeyCommand {
    /// Create an access key for an account and print it.
    Create {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Generate a new master key and re-seal every access-key secret under it (the server
    /// must be stopped).
    Rotate {
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
enum ClockCommand {
    /// Show the server's time and clock mode.
    Show {
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Move a virtual clock forward, e.g. `9d12h`, `90m`, `30s`.
    Advance {
        duration: String,
        #[command(flatten)]
        target: AdminTarget,
        /// Move the stored clock of a stopped server instead (against `--data-dir`); it
        /// catches up on what fell due when it starts.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        dir: DataDir,
    },
}

fn main() -> std::process::ExitCode {
    // Log lines (one per call, at info) are written by a thread of their own, so a call does not
    // wait for its line's write to standard error; measured, the write on the request path cost
    // a tenth of the one-instance read rate. Not lossy: when the writer falls behind, calls wait
    // rather than lines vanish. The guard flushes what is queued when `main` returns.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // Buffered: the writer thread flushes whenever it has drained what was queued, so a
        // burst of calls costs one write, not one each.
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ECSD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(writer)
        .init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The causes (an io::Error's "Address already in use", a JSON parser's line and
            // column) are what a person acts on, so they follow the message.
            eprintln!("ecsd: {}", secrets::report(&*error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Each command keeps its own error type; here they only need to be shown.
fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => serve::run(args)?,
        Command::Account(AccountCommand::Create { name, dir }) => {
            accounts::create_account_in(&dir, &name)?
        }
        Command::AccessKey(AccessKeyCommand::Create { account, dir }) => {
            accounts::create_access_key_in(&dir, &account)?
        }
        Command::Secrets(SecretsCommand::Rotate { dir }) => secrets::rotate_in(&dir)?,
        Command::Clock(ClockCommand::Show { target }) => cli::clock_show(&target)?,
        Command::Clock(ClockCommand::Advance {
            duration,
            target,
            offline,
            dir,
        }) => {
            if offline {
                cli::clock_advance_offline(&dir, &duration)?
            } else {
                cli::clock_advance(&target, &duration)?
            }
        }
        Command::Events { target, since } => cli::events(&target, since.as_deref())?,
    }
    Ok(())
}

/// glibc's allocator spent a fifth of the request path in malloc/free under concurrent load
/// (perf, DescribeInstances at 64 connections); mimalloc's thread-local heaps avoid that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

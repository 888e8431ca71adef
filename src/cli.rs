//! The command line: one binary, `user-events`, with subcommands.

use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDateTime;
use clap::{Parser, Subcommand};

use std::path::{Path, PathBuf};

use crate::auth::Role;
use crate::catalog::EventCategory;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs};
use crate::demo::{DEFAULT_UNTIL, DemoOptions};
use crate::ingest::{
    Cells, ExportError, Format, ImportError, ImportOptions, OnError, export_chunks, import,
};
use crate::store::{EventFilter, Store, StoreError};

/// A GraphQL reporting server over the `user_events` audit log.
#[derive(Parser, Debug)]
#[command(name = "user-events", version, about)]
pub struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,

    /// Log format.
    #[arg(
        long,
        env = "USER_EVENTS_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run pending migrations, then serve GraphQL over HTTP (the audit console at /, GraphiQL at /graphql).
    Serve(ServeArgs),
    /// Create or upgrade the schema and exit.
    Migrate,
    /// Fill the database with realistic, deterministic synthetic events.
    Demo {
        /// How many events.
        #[arg(long)]
        events: u64,
        /// Random seed: the same events and seed give the same rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The end of the year of history (UTC), e.g. 2026-11-01T00:00:00Z.
        #[arg(long, value_parser = parse_instant, default_value = DEFAULT_UNTIL)]
        until: NaiveDateTime,
    },
    /// Print the GraphQL schema (SDL), the same text as schema.graphql.
    Schema,
    /// Load a CSV export (header id,user_id,ipaddr,user_agent,event_name,description,created_at)
    /// or JSON Lines; rows whose id is already stored are skipped.
    Import {
        /// The file, or - for standard input.
        file: PathBuf,
        /// The format (default: from the file's extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// What to do with a bad row: abort (nothing is loaded) or skip it.
        #[arg(long, value_enum, default_value_t)]
        on_error: OnError,
        /// Where skipped rows go, unchanged, after the header (with --on-error skip). An existing
        /// file is replaced only once the import has run; the input file itself is refused.
        #[arg(long)]
        rejects: Option<PathBuf>,
    },
    /// Write events out as CSV (the import's header) or JSON Lines, in id order.
    Export {
        /// The format.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Only events at or after this time (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        from: Option<NaiveDateTime>,
        /// Only events before this time (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        to: Option<NaiveDateTime>,
        /// Only events of this category (SESSIONS, any case); repeat for several.
        #[arg(long, value_parser = parse_category)]
        category: Vec<EventCategory>,
        /// Only events of this user; repeat for several.
        #[arg(long)]
        user_id: Vec<uuid::Uuid>,
        /// For a spreadsheet: put a ' before every cell that starts with =, +, -, @, a tab or a
        /// carriage return, so that it shows as text instead of running as a formula (CSV only;
        /// such a file no longer imports back to the same rows).
        #[arg(long)]
        spreadsheet_safe: bool,
    },
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a token and print it (once: only its hash is kept).
    Create {
        /// What it may do.
        #[arg(long, value_enum)]
        role: Role,
        /// Its unique name (shown in the access log).
        #[arg(long)]
        name: String,
        /// The user a `self` token sees.
        #[arg(long)]
        user_id: Option<uuid::Uuid>,
    },
    /// List the tokens (names, roles, users, dates; never secrets).
    List,
    /// Revoke a token; requests with it fail from the next one on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// What a command can fail with, reported once at the CLI edge.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error("cannot serve: {0}")]
    Serve(#[from] crate::serve::ServeError),
    /// An import failed (nothing was loaded).
    #[error("import failed, nothing was loaded: {0}")]
    Import(#[from] ImportError),
    /// An export failed.
    #[error("export failed: {0}")]
    Export(#[from] ExportError),
    /// A file could not be opened.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command's arguments do not fit together.
    #[error("{0}")]
    Usage(String),
    /// A token could not be made.
    #[error("{0}")]
    Token(#[from] crate::auth::TokenError),
    /// Rows were rejected (and written to the rejects file).
    #[error("{0} rows were rejected")]
    Rejected(u64),
    /// `--rejects` names the file being imported, which writing would destroy.
    #[error("--rejects {0} is the input file; give another file for the rejected rows")]
    RejectsIsInput(String),
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> ExitCode {
        match self.dispatch().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(CliError::Rejected(_)) => ExitCode::from(2),
            Err(
                error @ CliError::Import(ImportError::BadRow { .. } | ImportError::BadFile { .. }),
            ) => {
                eprintln!("user-events: {error}");
                ExitCode::from(2)
            }
            Err(error) => {
                eprintln!("user-events: {error}");
                ExitCode::FAILURE
            }
        }
    }

    async fn dispatch(self) -> Result<(), CliError> {
        match self.command {
            Command::Schema => {
                print!("{}", crate::graphql::sdl());
                Ok(())
            }
            Command::Migrate => {
                let store = Store::connect(&self.database.store_options()).await?;
                let ran = store.migrate().await?;
                match ran {
                    0 => eprintln!("user-events: schema is up to date"),
                    _ => eprintln!("user-events: schema migrated ({ran} migrations applied)"),
                }
                store.close().await;
                Ok(())
            }
            Command::Demo {
                events,
                seed,
                until,
            } => {
                let store = Store::connect(&self.database.store_options()).await?;
                store.migrate().await?;
                let started = Instant::now();
                let inserted = crate::demo::load(
                    &store,
                    &DemoOptions {
                        events,
                        seed,
                        until,
                    },
                )
                .await?;
                eprintln!(
                    "user-events: inserted {inserted} demo events (seed {seed}) in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                store.close().await;
                Ok(())
            }
            Command::Serve(args) => Ok(crate::serve::serve(&self.database, &args).await?),
            Command::Token(command) => {
                let store = Store::connect(&self.database.store_options()).await?;
                store.migrate().await?;
                run_token(&store, command).await
            }
            Command::Import {
                file,
                format,
                on_error,
                rejects,
            } => {
                // Everything that can be refused is refused before the database is opened.
                let plan = plan_import(&file, format, on_error, rejects)?;
                let store = Store::connect(&self.database.store_options()).await?;
                store.migrate().await?;
                let result = run_import(&store, plan).await;
                store.close().await;
                result
            }
            Command::Export {
                format,
                output,
                from,
                to,
                category,
                user_id,
                spreadsheet_safe,
            } => {
                let cells = match (format, spreadsheet_safe) {
                    (_, false) => Cells::AsStored,
                    (Format::Csv, true) => Cells::SpreadsheetSafe,
                    (Format::Jsonl, true) => {
                        return Err(CliError::Usage(
                            "--spreadsheet-safe goes with --format csv".into(),
                        ));
                    }
                };
                let store = Store::connect(&self.database.store_options()).await?;
                let filter = EventFilter {
                    from,
                    to,
                    categories: (!category.is_empty()).then_some(category),
                    user_ids: (!user_id.is_empty()).then_some(user_id),
                    ..EventFilter::default()
                };
                let result = run_export(&store, filter, format, cells, output.as_deref()).await;
                store.close().await;
                result
            }
        }
    }
}

fn parse_category(text: &str) -> Result<EventCategory, String> {
    EventCategory::parse(text).ok_or_else(|| {
        let names: Vec<&str> = EventCategory::ALL.iter().map(|c| c.name()).collect();
        format!("{text:?} is not a category; one of {}", names.join(", "))
    })
}

async fn run_token(store: &Store, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create {
            role,
            name,
            user_id,
        } => {
            let secret = crate::auth::create_token(store, &name, role, user_id).await?;
            println!("{secret}");
            eprintln!(
                "user-events: token {name:?} ({}) created; it is shown only now",
                role.name()
            );
        }
        TokenCommand::List => {
            println!("name\trole\tuser_id\tcreated_at\trevoked_at");
            for token in store.tokens().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    token.name,
                    token.role,
                    token.user_id.unwrap_or_default(),
                    token.created_at,
                    token.revoked_at.unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { name } => {
            if !store.revoke_token(&name).await? {
                return Err(CliError::Usage(format!(
                    "no active token is named {name:?}"
                )));
            }
            eprintln!("user-events: token {name:?} revoked");
        }
    }
    Ok(())
}

/// An import checked and ready to run: the input open, its format known, the rejects file
/// checked not to be the input (nothing is written yet).
struct ImportPlan {
    input: Box<dyn std::io::BufRead + Send>,
    size: Option<u64>,
    format: Format,
    on_error: OnError,
    rejects: Option<PathBuf>,
}

/// Checks an import's arguments and opens its input, refusing a rejects file that is the input
/// under any name (`./f.csv`, an absolute path, a hard or symbolic link, standard input
/// redirected from it).
fn plan_import(
    file: &Path,
    format: Option<Format>,
    on_error: OnError,
    rejects: Option<PathBuf>,
) -> Result<ImportPlan, CliError> {
    let stdin = file.as_os_str() == "-";
    let format = match format.or_else(|| Format::from_path(file)) {
        Some(format) => format,
        None if stdin => {
            return Err(CliError::Usage(
                "standard input needs --format csv or --format jsonl".into(),
            ));
        }
        None => {
            return Err(CliError::Usage(format!(
                "{}: cannot tell the format from the name; give --format csv or --format jsonl",
                file.display()
            )));
        }
    };
    if rejects.is_some() && on_error != OnError::Skip {
        return Err(CliError::Usage(
            "--rejects goes with --on-error skip".into(),
        ));
    }
    let (input, size, identity): (Box<dyn std::io::BufRead + Send>, _, _) = if stdin {
        (
            Box::new(std::io::BufReader::new(std::io::stdin())),
            None,
            FileKey::of_stdin(),
        )
    } else {
        let f = std::fs::File::open(file).map_err(|source| CliError::File {
            path: file.display().to_string(),
            source,
        })?;
        let size = f.metadata().ok().map(|m| m.len());
        let identity = FileKey::of_open(&f, file);
        (
            Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
            size,
            identity,
        )
    };
    if let (Some(path), Some(input)) = (&rejects, identity) {
        if FileKey::of_path(path).is_some_and(|key| key == input) {
            return Err(CliError::RejectsIsInput(path.display().to_string()));
        }
    }
    Ok(ImportPlan {
        input,
        size,
        format,
        on_error,
        rejects,
    })
}

/// What tells one file from another whatever path leads to it: its device and inode on Unix
/// (so hard links are the same file), its canonical path elsewhere.
#[derive(Debug, PartialEq, Eq)]
struct FileKey(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

impl FileKey {
    /// The file `path` leads to (links followed), when there is one.
    fn of_path(path: &Path) -> Option<FileKey> {
        #[cfg(unix)]
        {
            std::fs::metadata(path)
                .ok()
                .map(|m| FileKey::of_metadata(&m))
        }
        #[cfg(not(unix))]
        {
            std::fs::canonicalize(path).ok().map(FileKey)
        }
    }

    /// The file open as `file`, opened from `path`.
    fn of_open(file: &std::fs::File, path: &Path) -> Option<FileKey> {
        #[cfg(unix)]
        {
            let _ = path;
            file.metadata().ok().map(|m| FileKey::of_metadata(&m))
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            FileKey::of_path(path)
        }
    }

    /// The file standard input reads, when it is one (Unix only).
    fn of_stdin() -> Option<FileKey> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
            let metadata = std::fs::File::from(fd).metadata().ok()?;
            metadata.is_file().then(|| FileKey::of_metadata(&metadata))
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    #[cfg(unix)]
    fn of_metadata(metadata: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey((metadata.dev(), metadata.ino()))
    }
}

/// The rejects file of a running import. Rows are written to a new file beside the target and
/// moved over it once the import has run, so that an import that fails or never starts leaves
/// an existing file as it was. A target that is not a regular file (a terminal, a pipe) is
/// written directly.
struct RejectsFile {
    target: PathBuf,
    /// The new file, until it is moved over the target.
    staged: Option<PathBuf>,
}

impl RejectsFile {
    /// Creates the file the rejects are written to.
    fn create(path: &Path) -> Result<(RejectsFile, std::fs::File), CliError> {
        let failed = |path: &Path| {
            let path = path.display().to_string();
            move |source| CliError::File { path, source }
        };
        let existing = std::fs::metadata(path).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(failed(path))?;
            let direct = RejectsFile {
                target: path.to_path_buf(),
                staged: None,
            };
            return Ok((direct, file));
        }
        // A symbolic link keeps pointing where it did: the file it leads to is replaced.
        let target = match existing {
            Some(_) => std::fs::canonicalize(path).map_err(failed(path))?,
            None => path.to_path_buf(),
        };
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut attempt = 0u32;
        let (staged, file) = loop {
            let staged =
                directory.join(format!(".{name}.{}.{attempt}.partial", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staged)
            {
                Ok(file) => break (staged, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(source) => return Err(failed(&staged)(source)),
            }
        };
        let rejects = RejectsFile {
            target,
            staged: Some(staged),
        };
        if let Some(existing) = existing {
            // The file keeps its permissions.
            if let Some(staged) = &rejects.staged {
                std::fs::set_permissions(staged, existing.permissions()).map_err(failed(staged))?;
            }
        }
        Ok((rejects, file))
    }

    /// Puts the rejects in place of the target.
    fn commit(mut self) -> Result<(), CliError> {
        match self.staged.take() {
            None => Ok(()),
            Some(staged) => std::fs::rename(&staged, &self.target).map_err(|source| {
                let _ = std::fs::remove_file(&staged);
                CliError::File {
                    path: self.target.display().to_string(),
                    source,
                }
            }),
        }
    }
}

impl Drop for RejectsFile {
    fn drop(&mut self) {
        if let Some(staged) = self.staged.take() {
            let _ = std::fs::remove_file(staged);
        }
    }
}

async fn run_import(store: &Store, plan: ImportPlan) -> Result<(), CliError> {
    let ImportPlan {
        input,
        size,
        format,
        on_error,
        rejects,
    } = plan;
    let (rejects_file, rejects): (_, Option<Box<dyn std::io::Write + Send>>) = match rejects {
        None => (None, None),
        Some(path) => {
            let (rejects_file, file) = RejectsFile::create(&path)?;
            (
                Some(rejects_file),
                Some(Box::new(std::io::BufWriter::new(file))),
            )
        }
    };
    let bar = progress_bar(size);
    let shown = bar.clone();
    let started = Instant::now();
    let summary = import(
        store,
        input,
        ImportOptions {
            format,
            on_error,
            rejects,
            progress: Box::new(move |rows, bytes| {
                if size.is_some() {
                    shown.set_position(bytes);
                } else {
                    shown.set_position(rows);
                }
            }),
        },
    )
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    if let Some(rejects_file) = rejects_file {
        rejects_file.commit()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "user-events: read {}, inserted {}, skipped {} as duplicates, rejected {} in {seconds:.1} s ({:.0} rows/s)",
        summary.read,
        summary.inserted,
        summary.duplicates,
        summary.rejected,
        summary.read as f64 / seconds.max(1e-9)
    );
    if summary.rejected > 0 {
        return Err(CliError::Rejected(summary.rejected));
    }
    Ok(())
}

/// A progress bar on a terminal (bytes with ETA for a file, rows for a stream); hidden otherwise.
fn progress_bar(size: Option<u64>) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    match size {
        Some(size) => {
            let bar = indicatif::ProgressBar::new(size);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} {pos} rows {per_sec}")
            {
                bar.set_style(style);
            }
            bar
        }
    }
}

async fn run_export(
    store: &Store,
    filter: EventFilter,
    format: Format,
    cells: Cells,
    output: Option<&Path>,
) -> Result<(), CliError> {
    use async_graphql::futures_util::StreamExt;
    use std::io::Write;
    let mut out: Box<dyn Write> = match output {
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        )),
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(path).map_err(|source| CliError::File {
                path: path.display().to_string(),
                source,
            })?,
        )),
    };
    let chunks = export_chunks(store.clone(), filter, format, cells);
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?).map_err(ExportError::from)?;
    }
    out.flush().map_err(ExportError::from)?;
    Ok(())
}

fn parse_instant(text: &str) -> Result<NaiveDateTime, String> {
    crate::graphql::scalars::DateTime::parse(text)
        .map(|t| t.0)
        .map_err(|error| error.to_string())
}

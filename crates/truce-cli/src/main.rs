//! The `truce` command line: a thin layer over the ledger. Exit codes: 0
//! success, 1 a check failed (verification found a problem), 2 bad usage or
//! input.

mod access;
mod client;
mod exchange;
mod log;
mod negotiation;
mod sync;
mod witness;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use truce_core::{registry::RegistryEvent, remarks::RemarkEvent};

use clap::{Args, Parser, Subcommand};
use tlog::{KeyType, SignerKey, VerifierKey};
use truce_core::{ActorId, ActorRole, Event, Visibility};
use truce_ledger::app::Draft;
use truce_ledger::keys::{read_key_file, write_key_file};
use truce_ledger::{
    AtRest, INTERMEDIARY_KEY_FILE, KEYS_DIR, Ledger, LedgerError, LedgerOptions, LogView,
};
use truce_store::seal::KeySource;
use truce_store::{Backend, Place, StoreUrl};

#[derive(Parser)]
#[command(
    name = "truce",
    version,
    about = "A verifiable record of what parties to a peace agreement committed to and did"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
pub struct DataDir {
    /// The data directory holding the log (truce.db and keys/).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[command(flatten)]
    pub store: StoreArg,
}

/// Where the log is stored, when not in the data directory.
#[derive(clap::Args)]
pub struct StoreArg {
    /// Where the log is stored: sqlite:DIR (the default: the data
    /// directory's truce.db) or postgres://user:password@host/db, which
    /// several servers share; the keys stay in the data directory.
    #[arg(
        long = "store",
        value_name = "URL",
        env = "TRUCE_STORE",
        hide_env_values = true
    )]
    pub url: Option<String>,
}

impl StoreArg {
    /// The place of a log whose data directory is `data`.
    pub fn place(&self, data: &Path) -> Result<Place, CliError> {
        let Some(url) = &self.url else {
            return Ok(Place::local(data));
        };
        let store = StoreUrl::parse(url).map_err(|e| usage(format!("--store: {e}")))?;
        store
            .place(data)
            .map_err(|e| usage(format!("--store: {e}")))
    }
}

impl DataDir {
    /// The place of the log, which must exist.
    pub fn place(&self) -> Result<Place, CliError> {
        existing(self.store.place(&self.data)?)
    }

    /// The place of a log about to be made.
    pub fn new_place(&self) -> Result<Place, CliError> {
        self.store.place(&self.data)
    }
}

/// `place` if it holds a log (for SQLite, its file; for PostgreSQL, the
/// data directory with the keys, the store being checked as it opens),
/// else the usage error every command gives.
fn existing(place: Place) -> Result<Place, CliError> {
    match &place.backend {
        Backend::Sqlite => {
            log_dir(&place.dir)?;
        }
        Backend::Postgres(_) if !place.dir.is_dir() => {
            return Err(usage(format!(
                "no data directory at {} (it holds the keys)",
                place.dir.display()
            )));
        }
        Backend::Postgres(_) => {}
    }
    Ok(place)
}

/// Where a recording goes: a local data directory, or a truce server with
/// the CLI as its client (`--server URL --token T`). Through a server, an
/// actor with `--as`/`--key` signs here and the server appends; without a
/// key the server signs with the key it holds for the token's actor.
#[derive(clap::Args)]
pub struct Destination {
    /// The data directory holding the log (truce.db and keys/); with
    /// --server, your copy of it (`truce sync`) for commands that read it.
    #[arg(long, value_name = "DIR", required_unless_present = "server")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
    /// A truce server to record through instead of a data directory.
    #[arg(long, value_name = "URL", requires = "token")]
    pub server: Option<String>,
    /// Your API token on that server.
    #[arg(long, env = "TRUCE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// An open destination.
pub enum Target {
    Local(Box<Ledger>),
    Remote {
        server: String,
        token: String,
        /// The caller's own copy (`truce sync`), for commands that read the
        /// log to build their event.
        copy: Option<Box<LogView>>,
    },
}

impl Destination {
    pub fn open(&self) -> Result<Target, CliError> {
        match (&self.data, &self.server, &self.token) {
            (Some(data), None, _) => {
                let place = existing(self.store.place(data)?)?;
                Ok(Target::Local(Box::new(open_at(place)?)))
            }
            (data, Some(server), Some(token)) => Ok(Target::Remote {
                server: server.trim_end_matches('/').to_owned(),
                token: token.clone(),
                copy: data.as_deref().map(copy_view).transpose()?.map(Box::new),
            }),
            _ => Err(usage("give --data DIR, or --server URL with --token")),
        }
    }
}

impl Target {
    /// The log as this side knows it: the data directory's, or beside a
    /// server the copy given with --data.
    pub fn view(&self) -> Result<&LogView, CliError> {
        match self {
            Target::Local(ledger) => Ok(ledger.view()),
            Target::Remote {
                copy: Some(copy), ..
            } => Ok(copy),
            Target::Remote { copy: None, .. } => Err(usage(
                "this command reads the log: with --server, give --data COPY (made by truce sync)",
            )),
        }
    }

    /// `event` with the visibility its domain gives it on this log. Beside
    /// a server without a copy, only events whose visibility needs no state
    /// (all but the exchanges', which follow their lists and stages).
    pub fn draft(&self, event: impl Into<Event>) -> Result<Draft, CliError> {
        let event = event.into();
        match self.view() {
            Ok(view) => Ok(Draft::of(view.state(), event)),
            Err(_) if !matches!(event, Event::Exchange(_)) => {
                Ok(Draft::of(&truce_core::LogState::new(), event))
            }
            Err(no_copy) => Err(no_copy),
        }
    }
}

/// Who signs an event: the intermediary by default, with its key file
/// from the data directory.
#[derive(clap::Args)]
pub struct Signer {
    /// The actor signing the event.
    #[arg(long = "as", value_name = "ACTOR")]
    pub actor: Option<String>,
    /// The actor's private key file (default: the data directory's
    /// intermediary key).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Create a log: its checkpoint key, the intermediary's key, the store.
    Init {
        #[command(flatten)]
        data: DataDir,
        /// The log's origin, e.g. truce.example/istanbul-2025.
        #[arg(long)]
        origin: String,
        #[arg(long, default_value = "intermediary")]
        intermediary_id: String,
        #[arg(long, default_value = "Neutral intermediary")]
        intermediary_name: String,
        #[command(flatten)]
        at_rest: AtRestFlag,
    },
    /// Check every entry, signature, checkpoint, payload and derived table.
    Verify {
        #[command(flatten)]
        data: DataDir,
        /// Pin the log's verifier key (name+hash+base64) instead of trusting
        /// the one the data directory names.
        #[arg(long)]
        vkey: Option<String>,
    },
    /// Generate a key pair: writes the private key (mode 0600), prints the
    /// verifier key.
    Keygen {
        /// The key name, e.g. truce.example/istanbul-2025/ua.
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Make a witness cosigner key (signature type 0x04).
        #[arg(long)]
        cosigner: bool,
    },
    /// Register and list actors; rotate and revoke their keys.
    #[command(subcommand)]
    Actor(ActorCommand),
    /// Record a free-text remark.
    Remark {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        text: String,
        /// public, intermediary, party:ID or actors:ID,ID,...
        #[arg(long, default_value = "public")]
        visibility: String,
    },
    /// Erase an entry's payload on a lawful request (the envelope stays).
    Erase {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        entry: u64,
        #[arg(long)]
        legal_basis: String,
    },
    /// Checkpoints, entries, proofs, cosignatures and tiles.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Rounds of talks, with their venues and delegations.
    Rounds(negotiation::Listing),
    /// Documents' terms, each a checkable rule where it can be.
    Terms {
        #[command(flatten)]
        listing: negotiation::Listing,
        #[arg(long)]
        document: Option<String>,
    },
    /// Each party's positions on each term, over time.
    Positions {
        #[command(flatten)]
        listing: negotiation::Listing,
        /// DOCUMENT#TERM
        #[arg(long)]
        term: Option<String>,
    },
    /// Response deadlines: what is due and what is overdue.
    Deadlines {
        #[command(flatten)]
        listing: negotiation::Listing,
        /// The day to judge by (YYYY-MM-DD; default today).
        #[arg(long)]
        today: Option<String>,
    },
    /// Figures each party or source claims, side by side.
    Claims {
        #[command(flatten)]
        listing: negotiation::Listing,
        /// DOCUMENT#TERM
        #[arg(long)]
        term: Option<String>,
    },
    /// Record a party's position on a term.
    Position(negotiation::PositionArgs),
    /// Record a claim by a party or a news source.
    Claim(negotiation::ClaimArgs),
    /// Record a whole round (or any set of negotiation records) from one
    /// TOML or JSON file, all or nothing.
    Import {
        #[command(flatten)]
        data: DataDir,
        file: PathBuf,
        /// A signing key for an actor the file needs, as ACTOR=FILE.
        #[arg(long = "key", value_name = "ACTOR=FILE")]
        keys: Vec<String>,
    },
    /// Link two lists of people written in different scripts and spellings
    /// (CSV in, links with scores and explanations out).
    Match(truce_match::MatchArgs),
    /// Prisoner and remains exchanges: lists, stages, sign-off, progress.
    #[command(subcommand)]
    Exchange(exchange::ExchangeCommand),
    /// Demo scenarios.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Serve the log over HTTP: public tlog-tiles endpoints and the read API,
    /// each answer scoped to the requesting reader.
    Serve {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        listen: Listen,
    },
    /// The store's encryption at rest.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Users of `truce serve` (browser logins), each of one actor with roles.
    #[command(subcommand)]
    User(access::UserCommand),
    /// API tokens for `truce serve`, each of one actor with roles.
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// Fetch your own copy of the log from a truce server (what your actor
    /// may read), verify it, and keep it only if it extends the copy you
    /// held: alarm (exit 1) on a split view.
    Sync(sync::SyncArgs),
    /// Sign an event with your own key and submit it to a truce server.
    Submit(client::SubmitArgs),
    /// As a witness: check the log server's latest checkpoint against the last
    /// one seen, cosign it and submit; alarm (exit 1) on a split view.
    Witness(witness::WitnessArgs),
    /// Load the Istanbul scenario into a fresh data directory and serve it.
    Demo {
        #[command(flatten)]
        listen: Listen,
        /// Where to put the data (default: a new temporary directory).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

/// How a new log keeps its payloads on disk.
#[derive(Args)]
struct AtRestFlag {
    /// Keep payloads and saved states in the clear instead of encrypted
    /// under the store key: for a disk already encrypted below the store,
    /// or to measure what encryption costs.
    #[arg(long)]
    plain_at_rest: bool,
}

impl AtRestFlag {
    fn at_rest(&self) -> AtRest {
        if self.plain_at_rest {
            AtRest::Plain
        } else {
            AtRest::Encrypted
        }
    }
}

/// Where `truce serve` listens and how browsers reach it.
#[derive(Args)]
struct Listen {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// The URL browsers use, when it is not http://ADDR: behind a TLS proxy,
    /// https://… makes the session cookie Secure and adds HSTS; forms must
    /// come from this origin.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

impl Listen {
    fn options(&self) -> Result<truce_server::ServerOptions, CliError> {
        let public_url = self
            .public_url
            .as_deref()
            .map(truce_server::PublicUrl::parse)
            .transpose()
            .map_err(|e| usage(format!("--public-url: {e}")))?;
        Ok(truce_server::ServerOptions { public_url })
    }

    /// Where browsers go.
    fn url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.addr),
        }
    }
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Give the store a new store key: every data key is wrapped anew under
    /// it, and any payload still in the clear is encrypted. Afterwards
    /// destroy the old key and its copies: backups of the database taken
    /// before can then no longer be read, erased payloads included.
    Rekey {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Create a log in DIR and record the scenario in it.
    Load {
        /// istanbul-2025
        name: String,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        at_rest: AtRestFlag,
    },
}

#[derive(Subcommand)]
enum ActorCommand {
    Register {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        id: String,
        /// party, observer or witness.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// The actor's verifier key (from `truce keygen`).
        #[arg(long)]
        vkey: String,
    },
    List {
        #[command(flatten)]
        data: DataDir,
    },
    RotateKey {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        actor: String,
        #[arg(long)]
        new_vkey: String,
    },
    RevokeKey {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        actor: String,
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        reason: String,
    },
}

/// What went wrong, sorted by exit code.
pub enum CliError {
    /// A check failed: exit 1.
    CheckFailed(String),
    /// Bad usage or input, or a refused submission: exit 2.
    Usage(String),
}

impl From<LedgerError> for CliError {
    fn from(e: LedgerError) -> Self {
        CliError::Usage(e.to_string())
    }
}

pub fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn main() -> ExitCode {
    // A closed pipe (`truce claims | head`) ends the program quietly, as
    // for any Unix filter, instead of a panic on the next print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts has no other effect on the program.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRUCE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::CheckFailed(message)) => {
            eprintln!("FAILED: {message}");
            ExitCode::from(1)
        }
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve(dir: &Path, ledger: Ledger, listen: &Listen) -> Result<(), CliError> {
    let addr = &listen.addr;
    if !ledger
        .view()
        .store()
        .is_writable()
        .map_err(truce_ledger::LedgerError::from)?
    {
        eprintln!(
            "warning: the store in {} is read-only: the server answers reads, and 503 to every append",
            dir.display()
        );
    }
    if !ledger.view().store().is_encrypted() {
        eprintln!(
            "warning: the store in {} keeps payloads in the clear: `truce store rekey` encrypts them",
            dir.display()
        );
    }
    let access = truce_server::Access::open(ledger.view().place()).map_err(|e| usage(e.0))?;
    let state =
        truce_server::AppState::with_ledger(dir.to_owned(), ledger, access, listen.options()?)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| usage(format!("cannot start the server: {e}")))?;
    runtime
        .block_on(truce_server::serve(state, addr))
        .map_err(|e| usage(format!("--addr {addr}: {e}")))
}

pub fn actor_id(text: &str) -> Result<ActorId, CliError> {
    ActorId::new(text).map_err(usage)
}

/// `data` if it holds a log, else the usage error every command gives.
pub fn log_dir(data: &Path) -> Result<&Path, CliError> {
    if data.join(truce_store::sqlite::DB_FILE).is_file() {
        Ok(data)
    } else {
        Err(usage(format!("no log at {}", data.display())))
    }
}

/// `truce store rekey`: the store under a new store key.
fn rekey(data: &DataDir) -> Result<(), CliError> {
    let place = data.place()?;
    let dir = &place.dir;
    let mut store = truce_store::open(&place).map_err(log::store_error)?;
    let done = store.rekey().map_err(log::store_error)?;
    println!(
        "rekeyed {}: {} data keys wrapped anew, {} records encrypted that were in the clear",
        place, done.rewrapped, done.sealed
    );
    println!(
        "the new store key is in {}: back it up, and destroy every copy of the old one",
        KeySource::for_store(dir).describe()
    );
    Ok(())
}

/// The log at `data`, for appending with its key.
pub fn open(data: &DataDir) -> Result<Ledger, CliError> {
    open_at(data.place()?)
}

fn open_at(place: Place) -> Result<Ledger, CliError> {
    Ok(Ledger::open(place, LedgerOptions::default())?)
}

/// The log at `data` (or a reader's copy), for reading.
pub fn view(data: &DataDir) -> Result<LogView, CliError> {
    Ok(LogView::open(data.place()?)?)
}

/// A reader's copy in `dir` (made by `truce sync`), for reading.
fn copy_view(dir: &Path) -> Result<LogView, CliError> {
    Ok(LogView::open(log_dir(dir)?)?)
}

impl Signer {
    pub fn intermediary() -> Self {
        Signer {
            actor: None,
            key: None,
        }
    }
}

pub fn signer_of(ledger: &Ledger, signer: &Signer) -> Result<(ActorId, SignerKey), CliError> {
    let intermediary = ledger
        .state()
        .intermediary()
        .cloned()
        .ok_or_else(|| usage("the log has no intermediary"))?;
    let actor = signer
        .actor
        .as_deref()
        .map(actor_id)
        .transpose()?
        .unwrap_or(intermediary);
    let key_path = match &signer.key {
        Some(path) => path.clone(),
        None if Some(&actor) == ledger.state().intermediary() => ledger
            .view()
            .dir()
            .join(KEYS_DIR)
            .join(INTERMEDIARY_KEY_FILE),
        None => return Err(usage(format!("--key is needed to sign as {actor}"))),
    };
    Ok((actor, read_key_file(&key_path)?))
}

pub fn parse_visibility(text: &str) -> Result<Visibility, CliError> {
    Ok(match text.split_once(':') {
        None if text == "public" => Visibility::Public,
        None if text == "intermediary" => Visibility::Intermediary,
        Some(("party", id)) => Visibility::Party(actor_id(id)?),
        Some(("actors", ids)) => {
            Visibility::Actors(ids.split(',').map(actor_id).collect::<Result<_, _>>()?)
        }
        _ => {
            return Err(usage(format!(
                "--visibility {text:?}: use public, intermediary, party:ID or actors:ID,ID"
            )));
        }
    })
}

fn parse_role(text: &str) -> Result<ActorRole, CliError> {
    match text {
        "party" => Ok(ActorRole::Party),
        "observer" => Ok(ActorRole::Observer),
        "witness" => Ok(ActorRole::Witness),
        _ => Err(usage(format!(
            "--role {text:?}: use party, observer or witness"
        ))),
    }
}

/// Signs `event` as `signer` and appends it, printing the entry index.
fn record(ledger: &mut Ledger, signer: &Signer, draft: Draft) -> Result<(), CliError> {
    let (actor, key) = signer_of(ledger, signer)?;
    let kind = draft.event.kind();
    let index = ledger.record(&actor, &key, draft.event, draft.visibility)?;
    println!("entry {index}: {kind} recorded");
    Ok(())
}

/// Records `drafts` signed by `actor` with `key` in one batch: all land or
/// none.
fn record_together(
    ledger: &mut Ledger,
    (actor, key): (ActorId, SignerKey),
    drafts: Vec<Draft>,
) -> Result<Vec<u64>, CliError> {
    let items = drafts
        .into_iter()
        .map(|draft| {
            let kind = draft.event.kind().to_owned();
            (kind, actor.clone(), &key, draft.event, draft.visibility)
        })
        .collect();
    Ok(ledger.append_all(items)?)
}

/// Records `event` at `target`: appended here, or sent to the server.
pub(crate) fn record_at(
    target: &mut Target,
    signer: &Signer,
    draft: Draft,
) -> Result<(), CliError> {
    match target {
        Target::Local(ledger) => record(ledger, signer, draft),
        Target::Remote { server, token, .. } => {
            let own_key = match (&signer.actor, &signer.key) {
                (Some(actor), Some(key)) => Some((actor_id(actor)?, read_key_file(key)?)),
                (_, None) => None,
                (None, Some(_)) => return Err(usage("--key goes with --as ACTOR")),
            };
            let index = client::send(
                server,
                token,
                own_key.as_ref(),
                &draft.event,
                draft.visibility.clone(),
            )?;
            println!("entry {index}: {} recorded", draft.event.kind());
            Ok(())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let intermediary = Signer {
        actor: None,
        key: None,
    };
    match cli.command {
        Command::Init {
            data,
            origin,
            intermediary_id,
            intermediary_name,
            at_rest,
        } => {
            let id = actor_id(&intermediary_id)?;
            let at_rest = at_rest.at_rest();
            let options = LedgerOptions {
                at_rest,
                ..LedgerOptions::default()
            };
            let ledger =
                Ledger::init(data.new_place()?, &origin, &id, &intermediary_name, options)?;
            println!("created log {origin} in {}", data.data.display());
            println!("log verifier key (give it to every party and observer):");
            println!("  {}", ledger.log_vkey());
            println!(
                "secret keys are in {} (mode 0600)",
                data.data.join(KEYS_DIR).display()
            );
            if at_rest == AtRest::Encrypted {
                println!(
                    "payloads are encrypted under the store key {}: back it up apart from the \
                     database, which cannot be read without it",
                    KeySource::for_store(&data.data).describe()
                );
            }
        }
        Command::Verify { data, vkey } => {
            let pinned = vkey
                .map(|v| v.parse::<VerifierKey>())
                .transpose()
                .map_err(|e| usage(format!("--vkey: {e}")))?;
            let report = truce_ledger::verify_data_dir(data.place()?, pinned.as_ref())
                .map_err(|failure| CliError::CheckFailed(failure.0))?;
            println!("{report}");
        }
        Command::Keygen {
            name,
            out,
            cosigner,
        } => {
            let key_type = if cosigner {
                KeyType::Cosignature
            } else {
                KeyType::Ed25519
            };
            let key =
                SignerKey::generate(&name, key_type).map_err(|e| usage(format!("--name: {e}")))?;
            write_key_file(&out, &key)?;
            println!("{}", key.verifier());
        }
        Command::Actor(ActorCommand::Register {
            data,
            id,
            role,
            name,
            vkey,
        }) => {
            let mut ledger = open(&data)?;
            let event = Event::Registry(RegistryEvent::ActorRegistered {
                actor: actor_id(&id)?,
                role: parse_role(&role)?,
                name,
                vkey,
            });
            let draft = Draft::of(ledger.state(), event);
            record(&mut ledger, &intermediary, draft)?;
        }
        Command::Actor(ActorCommand::List { data }) => {
            let ledger = open(&data)?;
            println!(
                "{:<20} {:<13} {:<10} {:<9} NAME",
                "ACTOR", "ROLE", "KEY", "SINCE"
            );
            for actor in ledger.state().actors() {
                let key = actor.keys.iter().rev().find(|k| k.valid_until.is_none());
                let key_id =
                    key.map_or("(none)".to_owned(), |k| format!("{:08x}", k.vkey.key_id()));
                println!(
                    "{:<20} {:<13} {:<10} {:<9} {}",
                    actor.id,
                    actor.role.as_str(),
                    key_id,
                    actor.registered_at,
                    actor.name
                );
            }
        }
        Command::Actor(ActorCommand::RotateKey {
            destination,
            signer,
            actor,
            new_vkey,
        }) => {
            let mut target = destination.open()?;
            let event = Event::Registry(RegistryEvent::KeyRotated {
                actor: actor_id(&actor)?,
                new_vkey,
            });
            let draft = target.draft(event)?;
            record_at(&mut target, &signer, draft)?;
        }
        Command::Actor(ActorCommand::RevokeKey {
            destination,
            signer,
            actor,
            key_id,
            reason,
        }) => {
            let mut target = destination.open()?;
            let event = Event::Registry(RegistryEvent::KeyRevoked {
                actor: actor_id(&actor)?,
                key_id,
                reason,
            });
            let draft = target.draft(event)?;
            record_at(&mut target, &signer, draft)?;
        }
        Command::Remark {
            destination,
            signer,
            subject,
            text,
            visibility,
        } => {
            let mut target = destination.open()?;
            let visibility = parse_visibility(&visibility)?;
            // A remark's recorder chooses who may read it.
            let draft = Draft {
                event: Event::Remark(RemarkEvent::RemarkRecorded { subject, text }),
                visibility,
            };
            record_at(&mut target, &signer, draft)?;
        }
        Command::Erase {
            data,
            entry,
            legal_basis,
        } => {
            let mut ledger = open(&data)?;
            let event = Event::Registry(RegistryEvent::PayloadErased {
                entry_index: entry,
                legal_basis,
            });
            let draft = Draft::of(ledger.state(), event);
            record(&mut ledger, &intermediary, draft)?;
        }
        Command::Log(command) => log::run(command)?,
        Command::Store(StoreCommand::Rekey { data }) => rekey(&data)?,
        Command::Rounds(listing) => negotiation::rounds(listing)?,
        Command::Terms { listing, document } => negotiation::terms(listing, document)?,
        Command::Positions { listing, term } => negotiation::positions(listing, term)?,
        Command::Deadlines { listing, today } => negotiation::deadlines(listing, today)?,
        Command::Claims { listing, term } => negotiation::claims(listing, term)?,
        Command::Position(args) => negotiation::record_position(args)?,
        Command::Claim(args) => negotiation::record_claim(args)?,
        Command::Exchange(command) => exchange::run(command)?,
        Command::Match(args) => truce_match::run(&args).map_err(|e| usage(e.to_string()))?,
        Command::Import { data, file, keys } => negotiation::import_file(&data, &file, &keys)?,
        Command::Witness(args) => witness::run(args)?,
        Command::Submit(args) => client::submit(args)?,
        Command::Sync(args) => sync::sync(args)?,
        Command::User(command) => access::user(command)?,
        Command::Token(command) => access::token(command)?,
        Command::Serve { data, listen } => {
            let ledger = open(&data)?;
            let users = truce_server::Access::open(data.place()?)
                .map_err(|e| usage(e.0))?
                .users(truce_server::access::Scope::Operator)
                .count();
            println!(
                "serving {} on {}/ ({users} users; add more with truce user add, API tokens with truce token add)",
                data.data.display(),
                listen.url(),
            );
            serve(&data.data, ledger, &listen)?;
        }
        Command::Demo { listen, data } => {
            let url = listen.url();
            let dir = match data {
                Some(dir) => dir,
                None => std::env::temp_dir().join(format!("truce-demo-{}", std::process::id())),
            };
            let loaded = truce_ledger::scenario::load("istanbul-2025", &dir)?;
            let logins = access::demo_logins(&dir, loaded.ledger.state())?;
            println!(
                "truce demo: the Istanbul talks of 2025, {} signed entries in {}",
                loaded.entries,
                dir.display()
            );
            println!("log verifier key: {}", loaded.ledger.log_vkey());
            println!();
            println!("  open {url}/ in a browser (the public view needs no login)");
            println!();
            println!(
                "demo logins (user / password, roles; API token for 'Authorization: Bearer'):"
            );
            for login in &logins {
                let roles = truce_server::Role::join(&login.grant.roles, ",");
                println!(
                    "  {:<16} {:<14} {:<30} {}",
                    login.user, login.password, roles, login.token
                );
            }
            println!();
            println!("API: {url}/openapi.json ; tlog-tiles: {url}/checkpoint");
            serve(&dir, loaded.ledger, &listen)?;
        }
        Command::Scenario(ScenarioCommand::Load {
            name,
            data,
            at_rest,
        }) => {
            let loaded =
                truce_ledger::scenario::load_at_rest(&name, data.new_place()?, at_rest.at_rest())?;
            println!(
                "loaded scenario {name}: {} entries in {}",
                loaded.entries,
                data.data.display()
            );
            println!("log verifier key: {}", loaded.ledger.log_vkey());
        }
    }
    Ok(())
}

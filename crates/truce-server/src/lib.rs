//! `truce serve`: the HTTP layer around the ledger. Public C2SP tlog-tiles
//! read endpoints (`/checkpoint`, `/tile/...`); a JSON API (`api`) and a web
//! dashboard (`dashboard`) in which every answer is computed from the state
//! the requesting reader may know (the domain's `reader_state`), so a
//! handler cannot leak what that reader's fold does not hold.
//!
//! Callers are authenticated by an API token (`Authorization: Bearer`) or a
//! browser session cookie; both name an actor and the caller's roles in it
//! (`access`). No credentials read as the public.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use truce_core::registry::RegistryEvent;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use truce_core::{ActorId, LogState, Reader};
use truce_ledger::copy::extend_reader_state;
use truce_ledger::group::{self, CommitError, GroupCommit, Keys, Request};
use truce_ledger::matching::Candidate;
use truce_ledger::{Item, Ledger, LedgerError, LedgerOptions, ToSign};

pub mod access;
mod admin;
mod api;
mod dashboard;
mod plots;
mod shared;
pub mod throttle;

pub use access::{Access, AccessError, Grant, Role};
pub use api::ApiDoc;
use shared::{Session, Shared};

/// How long a browser session lasts without a new login.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
pub const SESSION_COOKIE: &str = "truce_session";

/// How the server is reached.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The URL browsers use (`--public-url`), e.g. `https://truce.example`:
    /// with https, the session cookie is `Secure` and responses carry HSTS;
    /// a form's Origin must equal its scheme, host and port.
    pub public_url: Option<PublicUrl>,
}

/// A public URL's origin: scheme, host and port, as browsers send it in
/// `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    https: bool,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let uri: axum::http::Uri = text
            .parse()
            .map_err(|e| format!("public URL {text:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(format!(
                    "public URL {text:?}: give http://host or https://host"
                ));
            }
        };
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            .ok_or_else(|| format!("public URL {text:?}: no host"))?;
        Ok(PublicUrl {
            origin: format!(
                "{}://{}",
                uri.scheme_str().unwrap_or_default(),
                authority.as_str().to_ascii_lowercase()
            ),
            https,
        })
    }

    pub fn https(&self) -> bool {
        self.https
    }
}

pub struct AppState {
    /// The log's verifier key, as text, shown on the dashboard.
    log_vkey: String,
    options: ServerOptions,
    verification: Arc<Mutex<Verification>>,
    access: Mutex<Access>,
    /// Sessions, failed logins and held cosignatures, shared through the
    /// store with every other process serving it.
    shared: Arc<Shared>,
    intermediary: ActorId,
    /// The one ledger the server appends through (it holds the log key),
    /// behind the group commit; it folds what other processes append.
    commits: GroupCommit<ServerKeys>,
    /// Reader states by reader, extended with each new entry.
    states: Mutex<BTreeMap<String, ReaderSlot>>,
    /// The store as reader states read it: a connection of their own, so a
    /// reader's first fold never holds up the ledger's appends.
    reads: Mutex<Box<dyn truce_store::LogStore>>,
    /// The last review queue computed: matching two lists is the costliest
    /// read, and a decision re-reads the queue the page just showed.
    review: Mutex<Option<(ReviewKey, Arc<Vec<Candidate>>)>>,
}

/// The keys the server signs with, and the cosignatures it records ahead
/// of each batch.
struct ServerKeys {
    dir: PathBuf,
    shared: Arc<Shared>,
    intermediary: ActorId,
    /// Signs the events the server records itself (witnesses' cosignatures).
    intermediary_key: tlog::SignerKey,
    /// The keys (in `shared`) of the held cosignatures put ahead of the
    /// batch being committed. Witnesses' cosignatures of the latest
    /// checkpoints are held (in the store, so every process serves them with
    /// `/checkpoint` at once) and recorded on the log (as
    /// `checkpoint_cosigned` events) just before the next append: recording
    /// each at once would grow the log, so a watching witness would never
    /// find a checkpoint it had already cosigned.
    recording: Mutex<Vec<String>>,
}

struct ProvenEntry {
    envelope: truce_core::Envelope,
    payload: ShownPayload,
    stored: truce_store::StoredEntry,
    tree_size: u64,
    root_hash: tlog::merkle::Hash,
    proof: Vec<tlog::merkle::Hash>,
}

/// An entry's payload as a given reader gets it.
enum ShownPayload {
    Visible(serde_json::Value),
    /// Erased on a lawful request.
    Erased,
    /// Withheld from this reader.
    Hidden,
}

impl AppState {
    pub fn new(
        dir: PathBuf,
        access: Access,
        options: ServerOptions,
    ) -> Result<Arc<AppState>, LedgerError> {
        let ledger = Ledger::open(&dir, LedgerOptions::default())?;
        Self::with_ledger(dir, ledger, access, options)
    }

    /// Serves a ledger already open (so start-up folds the log once).
    pub fn with_ledger(
        dir: PathBuf,
        ledger: Ledger,
        access: Access,
        options: ServerOptions,
    ) -> Result<Arc<AppState>, LedgerError> {
        let intermediary = ledger
            .state()
            .intermediary()
            .cloned()
            .ok_or_else(|| LedgerError::Input("the log has no intermediary".to_owned()))?;
        let intermediary_key = truce_ledger::keys::read_key_file(
            &dir.join(truce_ledger::KEYS_DIR)
                .join(truce_ledger::INTERMEDIARY_KEY_FILE),
        )?;
        let log_vkey = ledger.log_vkey().to_string();
        // Proofs and tiles need every hash of the tree: read them now, not
        // in the first request that asks.
        ledger.view().tree()?;
        let place = ledger.view().place().clone();
        let reads = truce_store::open(&place)?;
        let shared = Arc::new(Shared::open(&place)?);
        import_held_cosignatures(&dir, &shared)?;
        let verification = Arc::new(Mutex::new(Verification::Running));
        // The whole log is verified in the background at start-up, by the
        // same code as `truce verify`, so the dashboard can say so.
        let verifying = verification.clone();
        let verify_place = place.clone();
        std::thread::spawn(move || {
            let outcome = truce_ledger::verify::verify_data_dir(verify_place, None);
            *verifying.lock().expect("verification lock") = match outcome {
                Ok(report) => Verification::Verified {
                    tree_size: report.tree_size,
                    at: chrono::Utc::now(),
                },
                Err(failure) => Verification::Failed(failure.0),
            };
        });
        let keys = ServerKeys {
            dir: dir.clone(),
            intermediary: intermediary.clone(),
            intermediary_key,
            shared: shared.clone(),
            recording: Mutex::new(Vec::new()),
        };
        let app = Arc::new(AppState {
            log_vkey,
            options,
            verification,
            access: Mutex::new(access),
            shared,
            intermediary,
            commits: GroupCommit::new(ledger, keys, group::DEFAULT_CAPACITY),
            states: Mutex::new(BTreeMap::new()),
            reads: Mutex::new(reads),
            review: Mutex::new(None),
        });
        app.warm_reader_states();
        Ok(app)
    }

    /// Folds every reader's state in the background, so no reader's first
    /// request waits for a fold of the whole log.
    fn warm_reader_states(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        std::thread::spawn(move || {
            let readers = {
                let Some(app) = app.upgrade() else { return };
                let Ok(ledger) = app.ledger() else { return };
                let actors = ledger.state().actors().map(|a| &a.id);
                let others = actors.filter(|id| **id != app.intermediary);
                let mut readers = vec![Reader::Intermediary, Reader::Public];
                readers.extend(others.map(|id| Reader::Actor(id.clone())));
                readers
            };
            for reader in readers {
                let Some(app) = app.upgrade() else { return };
                if let Err(e) = app.state_for(&reader) {
                    // Logs what went wrong inside; the reader's first request folds again.
                    let (_, shown) = e.status_and_message();
                    tracing::warn!(%shown, "a reader's state could not be folded at start-up");
                }
            }
        });
    }

    /// The server's ledger, with what other processes appended since folded in.
    fn ledger(&self) -> Result<std::sync::MutexGuard<'_, Ledger>, AppError> {
        let mut ledger = self.commits.ledger();
        ledger.catch_up()?;
        Ok(ledger)
    }

    /// The undecided candidate links between a sought and a held list, as
    /// the intermediary (who alone sees both) reviews them; computed once
    /// per pair of lists and tree size.
    fn review_queue(&self, sought: &str, held: &str) -> Result<Arc<Vec<Candidate>>, AppError> {
        let known = self.state_for(&Reader::Intermediary)?;
        let key = (sought.to_owned(), held.to_owned(), known.tree_size());
        if let Some((cached, queue)) = &*self.review.lock().expect("review lock")
            && *cached == key
        {
            return Ok(queue.clone());
        }
        let queue = Arc::new(truce_ledger::matching::review_queue(
            &known,
            sought,
            held,
            REVIEW_THRESHOLD,
        )?);
        *self.review.lock().expect("review lock") = Some((key, queue.clone()));
        Ok(queue)
    }

    /// Entry `index` as `reader` may see it, with its inclusion proof in
    /// the latest checkpoint.
    fn proven_entry(&self, index: u64, reader: &Reader) -> Result<ProvenEntry, AppError> {
        let ledger = self.ledger()?;
        let view = ledger.view();
        let (checkpoint, _) = view.checkpoint(None)?;
        if index >= checkpoint.tree_size {
            return Err(AppError::NotFound);
        }
        let stored = view
            .store()
            .entry(index)
            .map_err(|e| AppError::Internal(e.to_string()))?
            .ok_or(AppError::NotFound)?;
        let proof = tlog::merkle::inclusion_proof(view.tree()?, index, checkpoint.tree_size)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let internal = |e: String| AppError::Internal(format!("entry {index}: {e}"));
        let envelope =
            truce_core::Envelope::from_leaf(&stored.leaf).map_err(|e| internal(e.to_string()))?;
        let payload = match &stored.payload {
            truce_store::PayloadRecord::Present(bytes)
                if envelope.statement().visibility.allows(reader) =>
            {
                let payload = envelope
                    .statement()
                    .payload_part(bytes)
                    .map_err(|e| internal(e.to_string()))?;
                ShownPayload::Visible(
                    serde_json::from_slice(payload).map_err(|e| internal(e.to_string()))?,
                )
            }
            truce_store::PayloadRecord::Erased => ShownPayload::Erased,
            _ => ShownPayload::Hidden,
        };
        Ok(ProvenEntry {
            envelope,
            payload,
            stored,
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash,
            proof,
        })
    }

    fn verification(&self) -> String {
        match &*self.verification.lock().expect("verification lock") {
            Verification::Running => "running…".to_owned(),
            Verification::Verified { tree_size, at } => format!(
                "OK: all {tree_size} entries verified at {} (entries appended since are checked by the same rules as they arrive).",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Verification::Failed(why) => format!("FAILED: {why}"),
        }
    }

    /// The login of a user whose password matches. Failures are counted
    /// per name and client address (`throttle`): past a few, that address
    /// waits a growing delay for that name, whatever the password, so
    /// passwords cannot be guessed at the speed of the server, and no one
    /// can lock another user out.
    fn login(&self, attempt: throttle::Attempt, password: &str) -> Option<access::Login> {
        match self.shared.login_wait(&attempt) {
            Ok(None) => {}
            Ok(Some(_)) => {
                tracing::warn!("denied: login delayed after repeated failures");
                return None;
            }
            Err(e) => {
                tracing::error!(error = %e, "denied: failed logins unreadable");
                return None;
            }
        }
        let check = {
            // A list that cannot be reread is used as last read.
            let mut access = self.access.lock().expect("access lock");
            if let Err(e) = access.refresh() {
                tracing::error!(error = %e, "access file unreadable");
            }
            access.login_check(&attempt.0)
        };
        let login = check.verify(password);
        let counted = match &login {
            Some(_) => self.shared.login_succeeded(&attempt),
            None => {
                tracing::warn!("denied: login failed");
                self.shared.login_failed(&attempt)
            }
        };
        if let Err(e) = counted {
            // A failure that cannot be counted must not let the login in.
            tracing::error!(error = %e, "denied: a failed login could not be counted");
            return None;
        }
        login
    }

    /// Signs `event` for `actor` with a key the server holds, and appends
    /// it: the intermediary's own, or a party's or observer's that declared
    /// on the log that the server holds its key (`key_custody_declared`).
    /// A retry with the same idempotency key returns the first entry.
    fn record_as(
        &self,
        actor: &ActorId,
        draft: truce_ledger::app::Draft,
        idempotency_key: Option<String>,
    ) -> Result<u64, AppError> {
        self.append(Request::ServerSigned {
            actor: actor.clone(),
            event: draft.event,
            visibility: draft.visibility,
            idempotency_key,
        })
    }

    /// Appends one request through the group commit.
    fn append(&self, request: Request) -> Result<u64, AppError> {
        Ok(self.commits.submit(request)?)
    }

    /// Holds a witness's cosignature of a checkpoint, once the log's rules
    /// accept it; false if the same cosignature is already held.
    fn hold_cosignature(
        &self,
        ledger: &Ledger,
        event: truce_core::Event,
    ) -> Result<bool, AppError> {
        check_cosignature(ledger.state(), &event).map_err(|why| {
            tracing::warn!(reason = %why, "cosignature refused");
            AppError::Forbidden
        })?;
        // Durable before the witness hears "held".
        Ok(self.shared.hold(&event)?)
    }

    /// The held cosignatures of the checkpoint of `size`, as note signatures.
    fn held_signatures(&self, size: u64, root_hash: &str) -> Vec<tlog::NoteSignature> {
        let held = self.shared.held().unwrap_or_else(|e| {
            tracing::error!(error = %e, "held cosignatures unreadable");
            Vec::new()
        });
        held.iter()
            .filter_map(|(_, event)| match event {
                truce_core::Event::Registry(RegistryEvent::CheckpointCosigned {
                    tree_size,
                    root_hash: root,
                    signature_line,
                    ..
                }) if *tree_size == size && root == root_hash => {
                    tlog::NoteSignature::from_line(signature_line).ok()
                }
                _ => None,
            })
            .collect()
    }

    fn reader_for(&self, grant: &Grant) -> Reader {
        if grant.actor == self.intermediary {
            Reader::Intermediary
        } else {
            Reader::Actor(grant.actor.clone())
        }
    }

    /// Opens a browser session for a user whose password matched; returns
    /// the session id for the cookie.
    fn open_session(&self, user: &str, login: access::Login) -> Result<String, AppError> {
        let session = Session {
            user: user.to_owned(),
            stamp: login.stamp,
        };
        Ok(self.shared.open_session(&session, SESSION_LIFETIME)?)
    }

    /// `Origin` of the public URL, if the server was given one.
    fn public_origin(&self) -> Option<&str> {
        self.options
            .public_url
            .as_ref()
            .map(|url| url.origin.as_str())
    }

    /// The cookie attribute that keeps the session off plain http, when
    /// browsers reach the server over https.
    fn cookie_secure(&self) -> &'static str {
        match &self.options.public_url {
            Some(url) if url.https => "; Secure",
            _ => "",
        }
    }

    /// The access list, reread if another process changed it (one `stat`),
    /// so a revoked token or a removed user stops working at once.
    fn access(&self) -> Result<std::sync::MutexGuard<'_, Access>, AppError> {
        let mut access = self.access.lock().expect("access lock");
        access.refresh().map_err(|e| AppError::Internal(e.0))?;
        Ok(access)
    }

    fn close_session(&self, id: &str) -> Result<(), AppError> {
        Ok(self.shared.close_session(id)?)
    }

    /// Who calls: by bearer token, else by session cookie, else the public.
    /// A bearer token nobody issued is refused; an expired or unknown
    /// session reads as the public (the browser is sent to log in again).
    fn caller(&self, headers: &HeaderMap) -> Result<Caller, AppError> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AppError::Unauthorized)?;
            let grant = self
                .access()?
                .token(secret)
                .cloned()
                .ok_or(AppError::Unauthorized)?;
            return Ok(Caller {
                reader: self.reader_for(&grant),
                grant: Some(grant),
                user: None,
                session: None,
            });
        }
        if let Some(id) = session_cookie(headers) {
            if let Some(session) = self.shared.session(id)? {
                let grant = self
                    .access()?
                    .session_grant(&session.user, &session.stamp)
                    .cloned();
                if let Some(grant) = grant {
                    return Ok(Caller {
                        reader: self.reader_for(&grant),
                        grant: Some(grant),
                        user: Some(session.user.clone()),
                        session: Some(id.to_owned()),
                    });
                }
                // The password, actor or roles changed, or the user is gone.
                self.shared.close_session(id)?;
            }
        }
        Ok(Caller::public())
    }

    /// The state this reader may know: folded once, then extended in place
    /// with the entries appended since. The intermediary may know
    /// everything, so its first state is the ledger's own.
    fn state_for(&self, reader: &Reader) -> Result<ReaderState, AppError> {
        let size = self.ledger()?.state().tree_size();
        let slot = self
            .states
            .lock()
            .expect("states lock")
            .entry(reader_key(reader))
            .or_default()
            .clone();
        let known = slot.read_arc();
        if known.tree_size() >= size {
            return Ok(known);
        }
        drop(known);
        let mut known = slot.write_arc();
        if known.tree_size() == 0 && *reader == Reader::Intermediary {
            *known = self.ledger()?.state().unrecorded_copy();
        }
        if known.tree_size() < size {
            let store = self.reads.lock().expect("reads lock");
            extend_reader_state(&**store, reader, &mut known)?;
        }
        Ok(parking_lot::ArcRwLockWriteGuard::downgrade(known))
    }
}

/// One reader's state (see [`AppState::state_for`]).
type ReaderSlot = Arc<parking_lot::RwLock<LogState>>;

/// A reader's state as a request reads it; appends wait to extend it until
/// the request lets go.
pub(crate) type ReaderState = parking_lot::ArcRwLockReadGuard<parking_lot::RawRwLock, LogState>;

impl Keys for ServerKeys {
    fn key_for(&self, ledger: &Ledger, actor: &ActorId) -> Result<tlog::SignerKey, String> {
        if *actor == self.intermediary {
            return Ok(self.intermediary_key.clone());
        }
        let custody = ledger.state().actor(actor).map(|a| a.key_custody);
        if custody != Some(truce_core::KeyCustody::Server) {
            return Err(format!(
                "{actor} signs its own statements: sign locally and POST /api/submissions"
            ));
        }
        let path = self
            .dir
            .join(truce_ledger::KEYS_DIR)
            .join(format!("{actor}.key"));
        truce_ledger::keys::read_key_file(&path)
            .map_err(|_| format!("the server does not hold {actor}'s key"))
    }

    /// The held cosignatures, recorded ahead of the batch; they stay held
    /// until the batch is durable, so a failed append loses none.
    fn ahead_of_batch(&self, _ledger: &Ledger) -> Vec<Item> {
        let held = self.shared.held().unwrap_or_else(|e| {
            tracing::error!(error = %e, "held cosignatures unreadable: not recorded in this batch");
            Vec::new()
        });
        let items = held
            .iter()
            .map(|(_, event)| {
                Item::Sign(ToSign::new(
                    self.intermediary.clone(),
                    self.intermediary_key.clone(),
                    event.clone(),
                    truce_core::Visibility::Public,
                ))
            })
            .collect();
        *self.recording.lock().expect("recording lock") =
            held.into_iter().map(|(key, _)| key).collect();
        items
    }

    fn recorded(&self, ahead: &[Result<u64, truce_core::Rejection>]) -> Result<(), String> {
        let recorded = std::mem::take(&mut *self.recording.lock().expect("recording lock"));
        // A held cosignature the rules now refuse (its witness's key was
        // revoked meanwhile, say) is dropped with a warning.
        for result in ahead {
            if let Err(why) = result {
                tracing::warn!(reason = %why, "held cosignature dropped");
            }
        }
        self.shared.release(&recorded).map_err(|e| e.to_string())
    }
}

const HELD_COSIGNATURES_FILE: &str = "held-cosignatures.json";

/// Moves the cosignatures that a server of an older version held in
/// `DIR/held-cosignatures.json` into the store.
fn import_held_cosignatures(dir: &std::path::Path, shared: &Shared) -> Result<(), LedgerError> {
    let path = dir.join(HELD_COSIGNATURES_FILE);
    let events: Vec<truce_core::Event> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::Input(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LedgerError::io(&path, e)),
    };
    for event in &events {
        shared.hold(event)?;
    }
    std::fs::remove_file(&path).map_err(|e| LedgerError::io(&path, e))
}

/// The log's rule for a `checkpoint_cosigned` event, asked before it is
/// appended.
fn check_cosignature(
    state: &LogState,
    event: &truce_core::Event,
) -> Result<(), truce_core::Rejection> {
    match event {
        truce_core::Event::Registry(RegistryEvent::CheckpointCosigned {
            tree_size,
            root_hash,
            witness,
            signature_line,
        }) => state.check_cosignature(*tree_size, root_hash, witness, signature_line),
        _ => Err(truce_core::rejection!(
            "not-cosignature",
            "not a cosignature"
        )),
    }
}

/// Candidate links below this score are not worth a reviewer's time.
const REVIEW_THRESHOLD: f64 = 0.05;

/// (sought list, held list, tree size).
type ReviewKey = (String, String, u64);

enum Verification {
    Running,
    Verified {
        tree_size: u64,
        at: chrono::DateTime<chrono::Utc>,
    },
    Failed(String),
}

/// Runs `work` (an append, a password check) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// The caller of a request: the reader whose fold answers it, and the
/// actor and roles its credentials grant.
pub struct Caller {
    pub reader: Reader,
    pub grant: Option<Grant>,
    /// The signed-in user, for a browser session.
    pub user: Option<String>,
    session: Option<String>,
}

impl Caller {
    fn public() -> Caller {
        Caller {
            reader: Reader::Public,
            grant: None,
            user: None,
            session: None,
        }
    }

    fn session_id(&self) -> Option<&str> {
        self.session.as_deref()
    }

    pub fn has(&self, role: Role) -> bool {
        self.grant.as_ref().is_some_and(|g| g.has(role))
    }

    /// The actor this caller acts for, if it holds `role` in it.
    pub fn acting_as(&self, role: Role) -> Option<&ActorId> {
        self.grant
            .as_ref()
            .filter(|g| g.has(role))
            .map(|g| &g.actor)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        state.caller(&parts.headers)
    }
}

fn reader_key(reader: &Reader) -> String {
    match reader {
        Reader::Intermediary => "intermediary".to_owned(),
        Reader::Actor(actor) => format!("actor:{actor}"),
        Reader::Public => "public".to_owned(),
    }
}

/// What a request gets back when it fails: a status and a message that
/// names no personal data; internals are logged, never shown.
pub enum AppError {
    Unauthorized,
    Forbidden,
    NotFound,
    BadRequest(String),
    /// The request conflicts with how the actor signs (its key is not here).
    Conflict(String),
    /// The log's rules refuse the event.
    Refused(truce_core::Rejection),
    /// Too many appends wait: the caller retries after a second.
    Busy,
    /// The store cannot take writes (a full disk, a read-only store).
    Unavailable(String),
    Internal(String),
}

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Input(why) => AppError::BadRequest(why),
            LedgerError::Store(e) => e.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<truce_store::StoreError> for AppError {
    fn from(e: truce_store::StoreError) -> Self {
        match e {
            truce_store::StoreError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<CommitError> for AppError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Busy => AppError::Busy,
            CommitError::Refused(why) => AppError::Refused(why),
            CommitError::NoKey(why) => AppError::Conflict(why),
            CommitError::Unavailable(why) => AppError::Unavailable(why),
            CommitError::Failed(why) => AppError::Internal(why),
        }
    }
}

impl AppError {
    /// The status and the message a caller sees. Denials are logged by kind
    /// only: never a token, never data; internals are logged, never shown.
    fn status_and_message(self) -> (StatusCode, String) {
        match self {
            AppError::Unauthorized => {
                tracing::warn!("denied: unknown token");
                (StatusCode::UNAUTHORIZED, "unknown token".to_owned())
            }
            AppError::Forbidden => {
                tracing::warn!("denied: not for this caller");
                (StatusCode::FORBIDDEN, "not for this caller".to_owned())
            }
            AppError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            AppError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            AppError::Conflict(why) => (StatusCode::CONFLICT, why),
            AppError::Refused(why) => {
                tracing::warn!(code = why.code(), "refused by the log's rules");
                (StatusCode::UNPROCESSABLE_ENTITY, why.to_string())
            }
            AppError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                CommitError::Busy.to_string(),
            ),
            AppError::Unavailable(why) => {
                tracing::error!(reason = %why, "store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the log cannot take writes now: {why}"),
                )
            }
            AppError::Internal(why) => {
                tracing::error!(error = %why, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // A refusal also carries its code and parameters, so a client can
        // say it in its user's language.
        let reason = match &self {
            AppError::Refused(why) => json!({
                "code": why.code(),
                "params": why.params().iter().cloned().collect::<BTreeMap<_, _>>(),
            }),
            _ => json!({}),
        };
        let (status, message) = self.status_and_message();
        let mut body = json!({ "error": message });
        if let (Some(body), Some(reason)) = (body.as_object_mut(), reason.as_object()) {
            body.extend(reason.clone());
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn app(state: Arc<AppState>) -> Router {
    let hsts = state
        .options
        .public_url
        .as_ref()
        .is_some_and(PublicUrl::https);
    let router = api::routes()
        .merge(dashboard::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers));
    if hsts {
        router.layer(axum::middleware::map_response(strict_transport))
    } else {
        router
    }
}

/// Behind TLS, browsers are told to come back over https only.
async fn strict_transport(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        header::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    response
}

/// Pages load scripts and styles from this server only (no inline script,
/// no CDN), are never framed, and send a referrer to this server only
/// ("no-referrer" would make browsers send `Origin: null` with forms).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Serves `app` on `addr` until the process ends.
pub async fn serve(state: Arc<AppState>, addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The client's address is what failed logins are counted by.
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

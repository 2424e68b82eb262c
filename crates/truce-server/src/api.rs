//! The JSON API: every answer is computed from the fold of the state the
//! requesting reader may know, so a handler cannot leak what that fold does
//! not hold.

use std::sync::Arc;
use truce_core::registry::RegistryEvent;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tlog::tile::TileRef;
use truce_core::Reader;
use truce_core::negotiation::TermRef;
use truce_ledger::app::Draft;
use truce_ledger::read_tile;

use crate::{AppError, AppState, Caller, Role, base64_of};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/api/rounds", get(rounds))
        .route("/api/terms", get(terms))
        .route("/api/claims", get(claims))
        .route("/api/positions", get(positions))
        .route("/api/deadlines", get(deadlines))
        .route("/api/discrepancies", get(discrepancies))
        .route("/api/entries/{index}", get(entry))
        .route("/api/copy", get(copy))
        .route("/api/exchanges/progress", get(progress))
        .route("/api/lists", get(lists))
        .route("/api/lists/{list_id}", get(list))
        .route("/api/review-queue", get(queue))
        .route("/api/consistency", get(consistency))
        .route("/api/actors", get(actors))
        .route("/api/submissions", post(submit))
        .route("/api/events", post(record))
        .route("/api/cosignatures", post(cosignature))
        // The largest payload in its framing (axum's default is 2 MB).
        .layer(axum::extract::DefaultBodyLimit::max(
            truce_core::limits::MAX_REQUEST_BODY_BYTES,
        ))
}

/// The OpenAPI description of the routes, served at `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "truce", description = "A verifiable record of what parties to a peace agreement committed to and did"),
    paths(checkpoint, tile, rounds, terms, claims, positions, deadlines, discrepancies, entry, copy, progress, lists, list, queue, consistency, cosignature, actors, submit, record),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(<ApiDoc as utoipa::OpenApi>::openapi())
}

#[utoipa::path(get, path = "/checkpoint", tag = "tlog-tiles", responses((status = 200, description = "The latest checkpoint (C2SP signed note) with its cosignatures", content_type = "text/plain")))]
async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    let (checkpoint, mut note) = state.ledger()?.view().checkpoint(None)?;
    note.signatures
        .extend(state.held_signatures(checkpoint.tree_size, &base64_of(&checkpoint.root_hash)));
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note.to_bytes(),
    )
        .into_response())
}

#[utoipa::path(get, path = "/tile/{path}", tag = "tlog-tiles", params(("path" = String, Path, description = "<L>/<N>[.p/<W>] or entries/<N>[.p/<W>]")), responses((status = 200, description = "A hash tile or entry bundle", content_type = "application/octet-stream"), (status = 404, description = "No such tile at the latest checkpoint")))]
async fn tile(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
) -> Result<Response, AppError> {
    let tile = TileRef::parse(&format!("tile/{path}")).ok_or(AppError::NotFound)?;
    let bytes = read_tile(state.ledger()?.view(), &tile)?.ok_or(AppError::NotFound)?;
    let cache = if tile.width < tlog::tile::TILE_WIDTH {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

type Json = axum::Json<Value>;

#[utoipa::path(get, path = "/api/rounds", tag = "negotiation", responses((status = 200, description = "Rounds of talks this reader may see"), (status = 401, description = "Unknown token")), security((), ("bearer" = [])))]
async fn rounds(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let rounds: Vec<Value> = known
        .negotiation()
        .rounds()
        .map(|r| json!({"entry": r.entry, "round": r.value}))
        .collect();
    Ok(axum::Json(json!(rounds)))
}

#[utoipa::path(get, path = "/api/terms", tag = "negotiation", responses((status = 200, description = "Documents and their typed terms"), (status = 401, description = "Unknown token")), security((), ("bearer" = [])))]
async fn terms(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let documents: Vec<Value> = known
        .negotiation()
        .documents()
        .map(|d| json!({"entry": d.entry, "document": d.value}))
        .collect();
    Ok(axum::Json(json!(documents)))
}

#[utoipa::path(get, path = "/api/claims", tag = "negotiation", responses((status = 200, description = "Claims of each party and source, never merged"), (status = 401, description = "Unknown token")), security((), ("bearer" = [])))]
async fn claims(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let claims: Vec<Value> = known
        .negotiation()
        .claims()
        .map(|c| json!({"entry": c.entry, "claim": c.value}))
        .collect();
    Ok(axum::Json(json!(claims)))
}

#[derive(Deserialize)]
struct TermQuery {
    /// DOCUMENT#TERM
    term: String,
}

pub(crate) fn term_ref(text: &str) -> Result<TermRef, AppError> {
    let (document_id, term_id) = text
        .split_once('#')
        .ok_or_else(|| AppError::BadRequest("term: write DOCUMENT#TERM".to_owned()))?;
    Ok(TermRef {
        document_id: document_id.to_owned(),
        term_id: term_id.to_owned(),
    })
}

#[utoipa::path(get, path = "/api/exchanges/progress", tag = "exchanges", params(("term" = String, Query, description = "DOCUMENT#TERM of an exchange term")), responses((status = 200, description = "Progress against the quota, by stage and category, beside the claims (aggregates, for every reader)"), (status = 404, description = "No such exchange term")), security((), ("bearer" = [])))]
async fn progress(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<TermQuery>,
) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let term = term_ref(&query.term)?;
    let progress = known
        .exchange()
        .progress(known.negotiation(), &term)
        .map_err(|_| AppError::NotFound)?;
    let stages: Vec<Value> = progress
        .stages
        .iter()
        .map(|s| {
            json!({"stage_id": s.stage_id, "date": s.date, "status": s.status.map(|x| x.as_str()),
                   "handed_over": [s.handed_over.0, s.handed_over.1]})
        })
        .collect();
    let claims: Vec<Value> = progress
        .claims_beside(known.negotiation())
        .iter()
        .map(|c| json!({"claim": c.claim, "recorded": c.recorded, "difference": c.difference()}))
        .collect();
    Ok(axum::Json(json!({
        "term": query.term,
        "parties": [progress.parties.0, progress.parties.1],
        "handed_over": [progress.quota.handed_over.0, progress.quota.handed_over.1],
        "target_per_side": [progress.quota.target_per_side.0, progress.quota.target_per_side.1],
        "met": progress.quota.met,
        "at_parity": progress.quota.at_parity,
        "stages": stages,
        "by_category": progress.by_category,
        "discrepancies": progress.discrepancies,
        "claims": claims,
    })))
}

/// The lists this reader may see: ids and counts.
#[utoipa::path(get, path = "/api/lists", tag = "exchanges", responses((status = 200, description = "The person lists this reader may see: ids and counts")), security((), ("bearer" = [])))]
async fn lists(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let lists: Vec<Value> = known
        .exchange()
        .lists()
        .map(|l| {
            json!({"list_id": l.list_id, "party": l.party, "kind": l.list_kind.as_str(),
                   "term": l.term.to_string(), "version": l.version, "persons": l.persons.len()})
        })
        .collect();
    Ok(axum::Json(json!(lists)))
}

/// One list with its persons, for a reader whose fold holds it; any other
/// reader gets 404, which does not even confirm the list exists.
#[utoipa::path(get, path = "/api/lists/{list_id}", tag = "exchanges", params(("list_id" = String, Path)), responses((status = 200, description = "The list with its persons, for its party and the intermediary"), (status = 404, description = "No such list for this reader")), security(("bearer" = [])))]
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(list_id): Path<String>,
) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let list = known.exchange().list(&list_id).ok_or(AppError::NotFound)?;
    Ok(axum::Json(json!(list)))
}

#[derive(Deserialize)]
struct QueueQuery {
    sought: String,
    held: String,
}

/// The review queue names persons of both sides: the intermediary's alone.
#[utoipa::path(get, path = "/api/review-queue", tag = "exchanges", params(("sought" = String, Query), ("held" = String, Query)), responses((status = 200, description = "Undecided candidate links, best first"), (status = 403, description = "The intermediary's alone")), security(("bearer" = [])))]
async fn queue(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<QueueQuery>,
) -> Result<Json, AppError> {
    if caller.reader != Reader::Intermediary {
        return Err(AppError::Forbidden);
    }
    let candidates: Vec<Value> = state
        .review_queue(&query.sought, &query.held)?
        .iter()
        .map(|c| {
            json!({"sought": c.sought, "held": c.held, "score": c.score, "explanation": c.explanation})
        })
        .collect();
    Ok(axum::Json(json!(candidates)))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

/// A consistency proof between two tree sizes, one base64 hash a line, so a
/// witness can check that a new checkpoint extends the one it saw.
#[utoipa::path(get, path = "/api/consistency", tag = "tlog-tiles",
    params(("old" = u64, Query), ("new" = u64, Query)),
    responses((status = 200, description = "RFC 9162 consistency proof, base64 lines", content_type = "text/plain"),
              (status = 400, description = "Sizes out of range")))]
async fn consistency(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Response, AppError> {
    let ledger = state.ledger()?;
    let tree = ledger.view().tree()?;
    if query.new > tree.tree_size() {
        return Err(AppError::BadRequest(format!(
            "the log has {} entries",
            tree.tree_size()
        )));
    }
    let proof = tlog::merkle::consistency_proof(tree, query.old, query.new)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let lines: String = proof
        .iter()
        .map(|hash| format!("{}\n", base64_of(hash)))
        .collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response())
}

/// A witness submits its cosignature of a checkpoint: `size N` on the
/// first line, the note signature line on the second. Like tlog-witness,
/// the signature is the only authentication, checked by the rules of a
/// `checkpoint_cosigned` event against the witness's registered key. It is
/// served with `/checkpoint` at once and recorded as that event just before
/// the next append (see `AppState::held_cosignatures`).
#[utoipa::path(post, path = "/api/cosignatures", tag = "tlog-tiles",
    request_body(content = String, content_type = "text/plain", description = "size N, then the cosignature line"),
    responses((status = 200, description = "Held beside the checkpoint, served with /checkpoint, recorded on the log with the next append"), (status = 403, description = "Not a valid cosignature by a registered witness"),
              (status = 404, description = "No checkpoint of that size")))]
async fn cosignature(
    State(state): State<Arc<AppState>>,
    body: String,
) -> Result<Response, AppError> {
    let mut lines = body.lines();
    let size: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("size "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| AppError::BadRequest("first line: size N".to_owned()))?;
    let line = lines
        .next()
        .ok_or_else(|| AppError::BadRequest("second line: the cosignature".to_owned()))?;
    let signature =
        tlog::NoteSignature::from_line(line).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let ledger = state.ledger()?;
    let (checkpoint, _) = ledger
        .view()
        .checkpoint(Some(size))
        .map_err(|_| AppError::NotFound)?;
    let witness = {
        ledger
            .state()
            .actors()
            .find(|a| {
                a.role == truce_core::ActorRole::Witness
                    && a.keys.iter().any(|k| {
                        k.vkey.name() == signature.key_name && k.vkey.key_id() == signature.key_id
                    })
            })
            .map(|a| a.id.clone())
            .ok_or(AppError::Forbidden)?
    };
    let event = truce_core::Event::Registry(RegistryEvent::CheckpointCosigned {
        tree_size: checkpoint.tree_size,
        root_hash: base64_of(&checkpoint.root_hash),
        witness,
        signature_line: line.trim_end().to_owned(),
    });
    let held = state.hold_cosignature(&ledger, event)?;
    let answer = if held { "held" } else { "already held" };
    Ok(format!(
        "{answer} beside checkpoint {size} (served with /checkpoint; recorded on the log with the next append)\n"
    )
    .into_response())
}

/// The log's registry, public: who may sign, with which keys, and the
/// sequence number each actor's next statement must carry.
#[utoipa::path(get, path = "/api/actors", tag = "log",
    responses((status = 200, description = "Origin, and each actor's role, keys and next sequence number")))]
async fn actors(State(state): State<Arc<AppState>>) -> Result<Json, AppError> {
    let ledger = state.ledger()?;
    let known = ledger.state();
    let actors: Vec<Value> = known
        .actors()
        .map(|a| {
            let keys: Vec<Value> = a
                .keys
                .iter()
                .map(|k| json!({"vkey": k.vkey.to_string(), "valid_from": k.valid_from, "valid_until": k.valid_until}))
                .collect();
            json!({"actor": a.id, "role": a.role.as_str(), "name": a.name, "next_seq": known.next_seq(&a.id), "keys": keys})
        })
        .collect();
    Ok(axum::Json(
        json!({"origin": known.origin(), "actors": actors}),
    ))
}

/// A statement an actor signed on its own machine, with its payload.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubmissionBody {
    /// The signed statement, as `truce_core::SignedStatement` serialises.
    #[schema(value_type = Object)]
    pub signed: truce_core::SignedStatement,
    /// The canonical payload (RFC 8785 JSON text).
    pub payload: String,
    /// For a salted statement (`payload_salted`), the hex of the 32-byte
    /// salt: the statement names the SHA-256 of the salt followed by the
    /// payload.
    #[serde(default)]
    pub salt: Option<String>,
}

/// Appends a statement signed by its actor (a party signing with its own
/// key, the CLI acting as a client). The bearer token must name the same
/// actor, with the role the event's kind needs (`Role::needed_for`); the log's rules check the signature against the key registered
/// for that actor, the sequence number and the event itself.
#[utoipa::path(post, path = "/api/submissions", tag = "log", request_body = SubmissionBody,
    responses((status = 200, description = "Appended: its entry index"), (status = 401, description = "Unknown token"),
              (status = 403, description = "The token's actor did not make this statement"),
              (status = 422, description = "The log's rules refuse it"),
              (status = 503, description = "Too many appends wait, or the store cannot take writes: retry after Retry-After")),
    security(("bearer" = [])))]
async fn submit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    axum::Json(body): axum::Json<SubmissionBody>,
) -> Result<Response, AppError> {
    let statement = &body.signed.statement;
    // The token must act for the statement's actor, in the role its kind needs.
    if caller.acting_as(Role::needed_for(&statement.kind)) != Some(&statement.actor) {
        return Err(AppError::Forbidden);
    }
    let mut payload = match &body.salt {
        Some(salt) => truce_core::envelope::unhex(salt)
            .filter(|salt| salt.len() == truce_core::envelope::SALT_BYTES)
            .ok_or_else(|| AppError::BadRequest("salt: 64 hex digits".to_owned()))?,
        None => Vec::new(),
    };
    payload.extend_from_slice(body.payload.as_bytes());
    let submission = truce_ledger::Submission {
        signed: body.signed,
        payload,
    };
    let index =
        crate::blocking(move || state.append(truce_ledger::group::Request::Signed(submission)))
            .await?;
    Ok(axum::Json(json!({"index": index})).into_response())
}

/// An event for the server to sign with a key it holds for the caller's actor.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RecordBody {
    /// The event, as `truce_core::Event` serialises (tagged by `kind`).
    #[schema(value_type = Object)]
    pub event: truce_core::Event,
    /// Who may read the payload, e.g. `"public"` or `{"party": "ua"}`.
    /// Without it, the visibility the event's domain gives it (a list: its
    /// party; a stage: its two parties; the negotiation record: public).
    #[schema(value_type = Object)]
    #[serde(default)]
    pub visibility: Option<truce_core::Visibility>,
}

/// The header by which a client names a server-signed event, so that a
/// retry returns the entry of the first attempt instead of recording twice.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Records an event for the caller's actor, signed by the server with the
/// key it holds for that actor: the intermediary's, or a party's that
/// declared on the log that the server holds its key. A party that keeps its
/// own key gets 409 and submits signed statements instead. With an
/// `Idempotency-Key` header, a retry returns the entry the first attempt
/// recorded.
#[utoipa::path(post, path = "/api/events", tag = "log", request_body = RecordBody,
    responses((status = 200, description = "Appended: its entry index"), (status = 401, description = "Unknown token"),
              (status = 403, description = "The caller lacks the role the event's kind needs"),
              (status = 409, description = "The server does not hold this actor's key"),
              (status = 422, description = "The log's rules refuse it"),
              (status = 503, description = "Too many appends wait, or the store cannot take writes: retry after Retry-After")),
    security(("bearer" = [])))]
async fn record(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<RecordBody>,
) -> Result<Json, AppError> {
    let actor = caller
        .acting_as(Role::needed_for(body.event.kind()))
        .ok_or(AppError::Forbidden)?
        .clone();
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AppError::BadRequest(format!("{IDEMPOTENCY_KEY}: visible ASCII")))?
                .to_owned(),
        ),
    };
    let draft = match body.visibility {
        Some(visibility) => Draft {
            event: body.event,
            visibility,
        },
        None => Draft::of(&*state.state_for(&Reader::Intermediary)?, body.event),
    };
    let index = crate::blocking(move || state.record_as(&actor, draft, idempotency_key)).await?;
    Ok(axum::Json(json!({"index": index})))
}

#[utoipa::path(get, path = "/api/positions", tag = "negotiation", responses((status = 200, description = "Each party's positions on each term, in the order recorded")), security((), ("bearer" = [])))]
async fn positions(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let positions: Vec<Value> = known
        .negotiation()
        .positions()
        .iter()
        .map(|p| json!({"entry": p.entry, "position": p.value}))
        .collect();
    Ok(axum::Json(json!(positions)))
}

#[derive(Deserialize)]
struct TodayQuery {
    /// YYYY-MM-DD; the server's date if absent.
    today: Option<chrono::NaiveDate>,
}

#[utoipa::path(get, path = "/api/deadlines", tag = "negotiation", params(("today" = Option<String>, Query, description = "YYYY-MM-DD; default: the server's date")), responses((status = 200, description = "Every response deadline and where it stands on that day")), security((), ("bearer" = [])))]
async fn deadlines(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<TodayQuery>,
) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let today = query
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let deadlines: Vec<Value> = known
        .negotiation()
        .deadlines(today)
        .into_iter()
        .map(|d| {
            let status = match d.status {
                truce_core::negotiation::DeadlineStatus::Answered { on, late } => {
                    json!({"answered": on, "late": late})
                }
                truce_core::negotiation::DeadlineStatus::Due { days_left } => {
                    json!({"days_left": days_left})
                }
                truce_core::negotiation::DeadlineStatus::Overdue { days } => {
                    json!({"overdue_days": days})
                }
            };
            json!({"document_id": d.document_id, "term_id": d.term_id, "party": d.party, "due": d.due, "status": status})
        })
        .collect();
    Ok(axum::Json(json!({"today": today, "deadlines": deadlines})))
}

#[utoipa::path(get, path = "/api/discrepancies", tag = "exchanges", responses((status = 200, description = "The discrepancies this reader may see, with their entries")), security((), ("bearer" = [])))]
async fn discrepancies(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json, AppError> {
    let known = state.state_for(&caller.reader)?;
    let found: Vec<Value> = known
        .exchange()
        .discrepancies()
        .map(|(d, entry)| json!({"entry": entry, "discrepancy": d}))
        .collect();
    Ok(axum::Json(json!(found)))
}

/// One entry: its envelope (public: it is the Merkle leaf), its payload if
/// this reader may read it, and its inclusion proof in the latest
/// checkpoint, which the caller checks against `/checkpoint`.
#[utoipa::path(get, path = "/api/entries/{index}", tag = "log", params(("index" = u64, Path)),
    responses((status = 200, description = "Envelope, payload (if visible), leaf hash and inclusion proof (base64) at the latest checkpoint's size"),
              (status = 404, description = "No such entry at the latest checkpoint")),
    security((), ("bearer" = [])))]
async fn entry(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(index): Path<u64>,
) -> Result<Json, AppError> {
    let proven = state.proven_entry(index, &caller.reader)?;
    let payload = match proven.payload {
        crate::ShownPayload::Visible(value) => value,
        crate::ShownPayload::Erased => json!({"status": "erased"}),
        crate::ShownPayload::Hidden => json!({"status": "not visible to this reader"}),
    };
    Ok(axum::Json(json!({
        "index": index,
        "envelope": proven.envelope,
        "payload": payload,
        "leaf_hash": base64_of(&proven.stored.leaf_hash),
        "tree_size": proven.tree_size,
        "root_hash": base64_of(&proven.root_hash),
        "inclusion_proof": proven.proof.iter().map(|h| base64_of(h)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct CopyQuery {
    #[serde(default)]
    start: u64,
    limit: Option<u64>,
}

/// At most this many entries per page of a copy.
const COPY_PAGE: u64 = 5_000;

/// A page of the caller's copy of the log, for `truce sync`: entries
/// `start..` as the caller's actor may hold them (payloads it may not read
/// withheld, their hashes still in the leaves) and the checkpoints that
/// end within the page. The copy is checked when it is written and then by
/// `truce verify`, so the server is not trusted for any of it.
#[utoipa::path(get, path = "/api/copy", tag = "log",
    params(("start" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "at most 5,000")),
    responses((status = 200, description = "origin, log_vkey, reader, tree_size, entries (index, leaf and payload in base64, payload status), checkpoints (size, note)"),
              (status = 403, description = "A copy belongs to an actor: log in or send a token")),
    security(("bearer" = [])))]
async fn copy(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<CopyQuery>,
) -> Result<Json, AppError> {
    let reader_name = match (&caller.reader, &caller.grant) {
        (Reader::Public, _) | (_, None) => return Err(AppError::Forbidden),
        (Reader::Intermediary, _) => "intermediary".to_owned(),
        (Reader::Actor(actor), _) => actor.to_string(),
    };
    let ledger = state.ledger()?;
    let view = ledger.view();
    let (checkpoint, _) = view.checkpoint(None)?;
    let end = query
        .start
        .saturating_add(query.limit.unwrap_or(COPY_PAGE).min(COPY_PAGE))
        .min(checkpoint.tree_size);
    let (entries, _) = truce_ledger::copy::reader_entries_between(
        view.store(),
        &caller.reader,
        query.start.min(end),
        end,
    )?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            let payload = match &e.payload {
                truce_store::PayloadRecord::Present(bytes) => json!(base64_of(bytes)),
                _ => Value::Null,
            };
            json!({"index": e.index, "leaf": base64_of(&e.leaf), "payload": payload, "status": e.payload.status()})
        })
        .collect();
    let checkpoints: Vec<Value> = truce_store::LogStore::checkpoints(view.store())
        .map_err(|e| AppError::Internal(e.to_string()))?
        .into_iter()
        .filter(|(size, _)| *size > query.start && *size <= end)
        .map(|(size, note)| json!({"size": size, "note": String::from_utf8_lossy(&note)}))
        .collect();
    Ok(axum::Json(json!({
        "origin": view.meta().origin,
        "log_vkey": view.meta().log_vkey,
        "reader": reader_name,
        "tree_size": checkpoint.tree_size,
        "entries": entries,
        "checkpoints": checkpoints,
    })))
}

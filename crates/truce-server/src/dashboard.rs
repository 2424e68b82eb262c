//! The web dashboard: server-rendered pages (maud escapes every value), SVG
//! plots drawn here, and one small vendored script that checks inclusion
//! proofs in the browser. Like the API, every page is rendered from the
//! fold of what the signed-in reader may know; personal records appear
//! only on the pages of readers whose fold holds them.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use truce_core::exchange::{ExchangeProgress, ListKind, PersonRef};
use truce_core::negotiation::{DeadlineStatus, NegotiationState, TermRef};
use truce_core::terms::TermRule;
use truce_core::{Envelope, KeyCustody, LogState, Reader, Visibility};
use truce_ledger::app;

use crate::plots;
use crate::{AppError, AppState, Caller, Role, SESSION_COOKIE, ShownPayload};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    crate::admin::routes()
        .route("/", get(overview))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/agreement", get(agreement).post(take_position))
        .route("/exchanges", get(exchanges))
        .route("/review", get(review).post(decide))
        .route("/lists", get(lists))
        .route("/lists/{list_id}", get(list))
        .route("/log", get(log))
        .route("/log/{index}", get(entry))
        .route("/static/truce.css", get(css))
        .route("/static/truce.js", get(script))
}

/// A failed page: the API's error, rendered as HTML.
pub(crate) struct PageError(AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        let body = html! {
            (DOCTYPE)
            html lang="en" { head { meta charset="utf-8"; title { "truce: " (status.as_u16()) }
                link rel="stylesheet" href="/static/truce.css"; }
            body { main { section {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p.error { (message) }
                p { a href="/" { "Back to the overview" } " · " a href="/login" { "Log in" } }
            } } } }
        };
        (status, body).into_response()
    }
}

pub(crate) type Page = Result<Markup, PageError>;

const NAV: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/agreement", "Agreement"),
    ("/exchanges", "Exchanges"),
    ("/lists", "Lists"),
    ("/log", "Log"),
    ("/review", "Review"),
];

pub(crate) fn layout(caller: &Caller, here: &str, title: &str, body: Markup) -> Markup {
    let nav = NAV
        .iter()
        .filter(|(path, _)| *path != "/review" || caller.reader == Reader::Intermediary);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "truce: " (title) }
                link rel="stylesheet" href="/static/truce.css";
                script src="/static/truce.js" defer {}
            }
            body {
                header {
                    span.brand { "truce" }
                    nav {
                        @for (path, label) in nav {
                            a href=(path) class=[(*path == here).then_some("here")] { (label) }
                        }
                        @if caller.has(Role::Admin) {
                            a href="/admin" class=[("/admin" == here).then_some("here")] { "Admin" }
                        }
                    }
                    span.who {
                        @match (&caller.user, &caller.grant) {
                            (Some(user), Some(grant)) => {
                                "Signed in as " strong { (user) } " for " strong { (grant.actor) } " ("
                                (Role::join(&grant.roles, ", ")) ") "
                                form method="post" action="/logout" { button type="submit" { "Log out" } }
                            }
                            _ => { "Public view · " a href="/login" { "Log in" } }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn entry_link(entry: u64) -> Markup {
    html! { a.small href=(format!("/log/{entry}")) title="The log entry behind this, with its inclusion proof" { "#" (entry) } }
}

/// The entry that recorded a claim.
fn claim_entry(negotiation: &NegotiationState, claim_id: &str) -> Option<u64> {
    negotiation
        .claims()
        .find(|c| c.value.claim_id == claim_id)
        .map(|c| c.entry)
}

fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Every exchange term this reader's fold can count, with its progress.
fn exchange_progress(known: &LogState) -> Vec<(String, ExchangeProgress)> {
    let negotiation = known.negotiation();
    negotiation
        .documents()
        .flat_map(|d| {
            d.value.terms.iter().filter_map(|t| match &t.rule {
                TermRule::Exchange(_) => {
                    let term = TermRef {
                        document_id: d.value.document_id.clone(),
                        term_id: t.term_id.clone(),
                    };
                    let progress = known.exchange().progress(negotiation, &term).ok()?;
                    (!progress.stages.is_empty()).then(|| (t.title.clone(), progress))
                }
                _ => None,
            })
        })
        .collect()
}

fn progress_bars(progress: &ExchangeProgress) -> Markup {
    let (a, b) = (&progress.parties.0, &progress.parties.1);
    let quota = &progress.quota;
    html! {
        (plots::progress_bar(&format!("handed over by {a}"), quota.handed_over.0, quota.target_per_side.0, "p0"))
        (plots::progress_bar(&format!("handed over by {b}"), quota.handed_over.1, quota.target_per_side.1, "p1"))
        p.small {
            @if quota.met { span.badge.ok { "quota met" } } @else { span.badge.due { "quota not met" } }
            " "
            @if quota.at_parity { span.badge.ok { "at parity" } } @else { span.badge.bad { "not at parity" } }
            " " span.muted { (progress.stages.len()) " stages, " (progress.discrepancies) " discrepancies recorded" }
        }
    }
}

async fn overview(State(state): State<Arc<AppState>>, caller: Caller) -> Page {
    let known = state.state_for(&caller.reader)?;
    let (checkpoint, _) = state.ledger()?.view().checkpoint(None)?;
    let negotiation = known.negotiation();
    let today = chrono::Utc::now().date_naive();
    let open_deadlines = negotiation
        .deadlines(today)
        .iter()
        .filter(|d| !matches!(d.status, DeadlineStatus::Answered { .. }))
        .count();
    let body = html! {
        section {
            p { "Two parties committed, through a neutral intermediary, to exchange prisoners and the remains of the fallen, to return deported children, and to consider a ceasefire. "
                "Every record below is a signed event on one Merkle log that each party and any observer can verify offline. "
                "Each side's figures are kept beside the record, never merged." }
            div.grid {
                div { div.figure { (fmt_count(checkpoint.tree_size)) } div.muted { "signed entries in the latest checkpoint" } }
                div { div.figure { (negotiation.rounds().count()) } div.muted { "rounds of talks recorded" } }
                div { div.figure { (negotiation.documents().count()) } div.muted { "memoranda and statements tabled" } }
                div { div.figure { (open_deadlines) } div.muted { "response deadlines unanswered today" } }
            }
        }
        @let progress_by_term = exchange_progress(&known);
        @let disputed: Vec<_> = progress_by_term.iter().flat_map(|(_, progress)| {
            progress.claims_beside(negotiation).into_iter()
                .filter(|c| c.difference().is_some_and(|d| d != 0))
                .map(move |c| (progress, c))
        }).collect();
        @if !disputed.is_empty() {
            section {
                h2 { "Where a claim and the record differ" }
                ul { @for (progress, c) in &disputed {
                    @let tallies: Vec<u64> = progress.stages.iter().filter_map(|s| s.entry).collect();
                    li {
                        strong { (c.claim.claimant.label()) } " said " strong { (fmt_count(c.claim.figure)) } " " (c.claim.measure)
                        " (" (c.claim.date) ", " (claim_entry(negotiation, &c.claim.claim_id).map(entry_link).unwrap_or_default()) "); "
                        "the signed record counts " strong { (fmt_count(c.recorded.unwrap_or(0))) } " in " (tallies.len()) " stage tallies ("
                        @for (i, entry) in tallies.iter().enumerate() { @if i > 0 { " " } (entry_link(*entry)) }
                        "): a difference of " (format!("{:+}", c.difference().unwrap_or(0))) ". "
                        "Each tally's inclusion proof can be checked in your browser; the claim is kept beside it, not merged."
                    }
                } }
            }
        }
        @for (title, progress) in &progress_by_term {
            section {
                h2 { a href="/exchanges" { (title) } " " span.muted.small { (progress.term) } }
                (progress_bars(progress))
                @let claims = progress.claims_beside(negotiation);
                @if !claims.is_empty() {
                    (plots::claims_chart(&claims, progress))
                }
            }
        }
        @if caller.grant.is_none() {
            section { p { "You see what the public may see: aggregates and public records. "
                a href="/login" { "Log in" } " as a party, the intermediary or an observer to see more." } }
        }
    };
    Ok(layout(&caller, "/", "The Istanbul commitments", body))
}

#[derive(Deserialize)]
struct TodayQuery {
    today: Option<NaiveDate>,
}

async fn agreement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<TodayQuery>,
) -> Page {
    let known = state.state_for(&caller.reader)?;
    let negotiation = known.negotiation();
    let today = query
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let parties = known.parties();
    let document_entry = |id: &str| {
        negotiation
            .documents()
            .find(|d| d.value.document_id == id)
            .map(|d| d.entry)
    };
    let body = html! {
        section {
            h2 { "Response deadlines" }
            form method="get" { label { "As of " input type="date" name="today" value=(today); } " " button { "Show" } }
            table {
                thead { tr { th { "Document" } th { "Term" } th { "Party" } th { "Due" } th { "Where it stands on " (today) } th {} } }
                tbody { @for d in negotiation.deadlines(today) {
                    tr {
                        td { (d.document_id) } td { (d.term_id.as_deref().unwrap_or("(whole document)")) }
                        td { (d.party) } td { (d.due) }
                        td { @match d.status {
                            DeadlineStatus::Answered { on, late } => { span.badge.accepted { "answered " (on) } @if late { " " span.badge.overdue { "late" } } }
                            DeadlineStatus::Due { days_left } => { span.badge.due { (days_left) " days left" } }
                            DeadlineStatus::Overdue { days } => { span.badge.overdue { "overdue by " (days) " days" } }
                        } }
                        td { @if let Some(entry) = document_entry(&d.document_id) { (entry_link(entry)) } }
                    }
                } }
            }
        }
        @if let Some(party) = caller.acting_as(Role::Signer).filter(|p| parties.contains(p)) {
            section {
                h2 { "State " (party) "'s position" }
                p.muted.small { "Signed by the server with " (party) "'s key, which " (party) " declared on the log that the server holds." }
                form method="post" action="/agreement" {
                    label { "Term " select name="term" {
                        @for d in negotiation.documents() { @for t in &d.value.terms {
                            option value=(format!("{}#{}", d.value.document_id, t.term_id)) { (d.value.document_id) " · " (t.title) }
                        } }
                    } }
                    " "
                    label { "Stance " select name="stance" {
                        @for stance in ["accepted", "rejected", "proposed", "withdrawn"] { option value=(stance) { (stance) } }
                    } }
                    " "
                    label { "Date " input type="date" name="date" value=(today) required; }
                    " "
                    label { "Note " input type="text" name="note"; }
                    " " button type="submit" { "Sign and record" }
                }
            }
        }
        section {
            h2 { "Rounds" }
            table {
                thead { tr { th { "Round" } th { "Date" } th { "Venue" } th { "Delegations" } th {} } }
                tbody { @for r in negotiation.rounds() { tr {
                    td { (r.value.number) } td { (r.value.date) } td { (r.value.venue) }
                    td { @for d in &r.value.delegations { div { strong { (d.party) } ": " (d.head) ", " (d.head_title) } } }
                    td { (entry_link(r.entry)) }
                } } }
            }
        }
        @for d in negotiation.documents() {
            section {
                h2 { (d.value.title) " " span.muted.small { (d.value.document_kind.as_str()) ", " (d.value.date) ", tabled by "
                    (d.value.tabled_by.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" and ")) } " " (entry_link(d.entry)) }
                table {
                    thead { tr { th { "Term" } th { "Rule" } @for p in &parties { th { (p) " today" } } } }
                    tbody { @for t in &d.value.terms {
                        @let term = TermRef { document_id: d.value.document_id.clone(), term_id: t.term_id.clone() };
                        tr {
                            td { strong { (t.title) } br; span.muted.small { (t.term_id) " · " (t.rule.type_name()) } }
                            td.small { (t.rule.summary()) }
                            @for p in &parties {
                                td { @match negotiation.stance_at(p, &term, today) {
                                    Some(stance) => { span.badge class=(stance.as_str()) { (stance.as_str()) } }
                                    None => { span.muted { "no position" } }
                                } }
                            }
                        }
                    } }
                }
            }
        }
        section {
            h2 { "Positions over time" }
            (plots::positions_timeline(negotiation.positions()))
            table {
                thead { tr { th { "Date" } th { "Party" } th { "Term" } th { "Stance" } th { "Note" } th {} } }
                tbody { @for p in negotiation.positions() { tr {
                    td { (p.value.date) } td { (p.value.party) } td.small { (p.value.term) }
                    td { span.badge class=(p.value.stance.as_str()) { (p.value.stance.as_str()) } }
                    td.small { (p.value.note) } td { (entry_link(p.entry)) }
                } } }
            }
        }
    };
    Ok(layout(
        &caller,
        "/agreement",
        "The agreement: terms, positions, deadlines",
        body,
    ))
}

async fn exchanges(State(state): State<Arc<AppState>>, caller: Caller) -> Page {
    let known = state.state_for(&caller.reader)?;
    let negotiation = known.negotiation();

    let body = html! {
        @for (title, progress) in exchange_progress(&known) {
            section {
                h2 { (title) " " span.muted.small { (progress.term) } }
                (progress_bars(&progress))
                h2 { "Stages" }
                (plots::stage_timeline(&progress))
                table {
                    thead { tr { th { "Stage" } th { "Date" } th { "Status" } th.num { (progress.parties.0) } th.num { (progress.parties.1) } th { "Tally" } } }
                    tbody { @for s in &progress.stages { tr {
                        td { (s.stage_id) } td { (s.date) }
                        td { @match s.status { Some(status) => { span.badge class=(status.as_str()) { (status.as_str()) } } None => { span.muted { "tally only" } } } }
                        td.num { (fmt_count(s.handed_over.0)) } td.num { (fmt_count(s.handed_over.1)) }
                        td { @if let Some(entry) = s.entry { (entry_link(entry)) } }
                    } } }
                }
                @if !progress.by_category.is_empty() {
                    h2 { "By priority category" }
                    table {
                        thead { tr { th { "Category" } th.num { (progress.parties.0) } th.num { (progress.parties.1) } } }
                        tbody { @for (category, (a, b)) in &progress.by_category { tr {
                            td { (category) } td.num { (fmt_count(*a)) } td.num { (fmt_count(*b)) }
                        } } }
                    }
                }
                @let stage_ids: BTreeSet<&String> = progress.stages.iter().map(|s| &s.stage_id).collect();
                @let discrepancies: Vec<_> = known.exchange().discrepancies()
                    .filter(|(d, _)| d.stage_id.as_ref().is_some_and(|s| stage_ids.contains(s))).collect();
                @if !discrepancies.is_empty() {
                    h2 { "Discrepancies" }
                    table {
                        thead { tr { th { "Stage" } th { "Reported by" } th { "Kind" } th.num { "Count" } th { "Reason" } th {} } }
                        tbody { @for (d, entry) in &discrepancies { tr {
                            td { (d.stage_id.as_deref().unwrap_or("")) } td { (d.reported_by) }
                            td { (d.discrepancy_kind.as_str()) } td.num { (d.count) } td.small { (d.reason) }
                            td { (entry_link(*entry)) }
                        } } }
                    }
                }
                @let claims = progress.claims_beside(negotiation);
                @if !claims.is_empty() {
                    h2 { "Each side's claims beside the record" }
                    (plots::claims_chart(&claims, &progress))
                    table {
                        thead { tr { th { "Claimant" } th { "Date" } th { "Measure" } th.num { "Claimed" } th.num { "Recorded" } th.num { "Difference" } th { "Source" } th {} } }
                        tbody { @for c in &claims { tr {
                            td { (c.claim.claimant.label()) } td { (c.claim.date) } td.small { (c.claim.measure) }
                            td.num { (fmt_count(c.claim.figure)) }
                            td.num { @if let Some(r) = c.recorded { (fmt_count(r)) } }
                            td.num { @if let Some(d) = c.difference() { @if d != 0 { span.badge.bad { (format!("{d:+}")) } } @else { span.badge.ok { "0" } } } }
                            td.small { (c.claim.source) }
                            td { @if let Some(entry) = claim_entry(negotiation, &c.claim.claim_id) { (entry_link(entry)) } }
                        } } }
                    }
                }
            }
        }
    };
    Ok(layout(&caller, "/exchanges", "Exchanges", body))
}

async fn lists(State(state): State<Arc<AppState>>, caller: Caller) -> Page {
    let known = state.state_for(&caller.reader)?;
    let lists: Vec<_> = known.exchange().lists().collect();
    let body = html! {
        section {
            @if lists.is_empty() {
                p { "No person list is visible to you: each list is seen by the party that submitted it and by the intermediary. Progress on the exchanges page is public." }
            } @else {
                table {
                    thead { tr { th { "List" } th { "Party" } th { "Kind" } th { "Term" } th.num { "Version" } th.num { "Persons" } } }
                    tbody { @for l in &lists { tr {
                        td { a href=(format!("/lists/{}", l.list_id)) { (l.list_id) } } td { (l.party) }
                        td { (l.list_kind.as_str()) } td.small { (l.term) } td.num { (l.version) } td.num { (fmt_count(l.persons.len() as u64)) }
                    } } }
                }
            }
        }
    };
    Ok(layout(&caller, "/lists", "Person lists", body))
}

const LIST_PAGE_ROWS: usize = 500;

async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(list_id): Path<String>,
) -> Page {
    let known = state.state_for(&caller.reader)?;
    // A reader whose fold lacks the list gets 404: not even its existence.
    let list = known.exchange().list(&list_id).ok_or(AppError::NotFound)?;
    let body = html! {
        section {
            p.muted { (list.party) "'s " (list.list_kind.as_str()) " list for " (list.term) ", version " (list.version) ", "
                (fmt_count(list.persons.len() as u64)) " persons. Personal data: shown to " (list.party) " and the intermediary only." }
            table {
                thead { tr { th { "Id" } th { "Family name" } th { "Given names" } th { "Patronymic" } th { "Born" } th { "Place of birth" } th { "Status" } } }
                tbody { @for p in list.persons.iter().take(LIST_PAGE_ROWS) { tr {
                    td.small { (p.person_id) } td { (p.family_name) } td { (p.given_names) }
                    td { (p.patronymic.as_deref().unwrap_or("")) }
                    td { @if let Some(d) = p.date_of_birth { (d) } }
                    td { (p.place_of_birth.as_deref().unwrap_or("")) }
                    td.small { @if let Some(s) = &p.status { (format!("{s:?}").to_lowercase()) } }
                } } }
            }
            @if list.persons.len() > LIST_PAGE_ROWS { p.muted { "First " (LIST_PAGE_ROWS) " shown; the whole list is at /api/lists/" (list.list_id) "." } }
        }
    };
    Ok(layout(
        &caller,
        "/lists",
        &format!("List {}", list.list_id),
        body,
    ))
}

#[derive(Deserialize)]
struct ReviewQuery {
    sought: Option<String>,
    held: Option<String>,
    /// "SOUGHT HELD", from the page's list picker.
    pair: Option<String>,
}

const REVIEW_ROWS: usize = 200;

/// The intermediary's match review: undecided candidate links between a
/// sought list and the other party's held list, both records side by side.
async fn review(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ReviewQuery>,
) -> Page {
    if caller.reader != Reader::Intermediary {
        return Err(AppError::Forbidden.into());
    }
    let known = state.state_for(&caller.reader)?;
    let exchange = known.exchange();
    let pairs: Vec<(String, String)> = exchange
        .lists()
        .filter(|s| s.list_kind == ListKind::Sought)
        .flat_map(|s| {
            exchange
                .lists()
                .filter(move |h| {
                    h.list_kind == ListKind::Held && h.party != s.party && h.term == s.term
                })
                .map(move |h| (s.list_id.clone(), h.list_id.clone()))
        })
        .collect();
    let picked = query
        .pair
        .as_deref()
        .and_then(|p| p.split_once(' '))
        .map(|(s, h)| (s.to_owned(), h.to_owned()));
    let chosen = match (&query.sought, &query.held, picked) {
        (_, _, Some(pair)) => Some(pair),
        (Some(s), Some(h), None) => Some((s.clone(), h.clone())),
        _ => pairs.first().cloned(),
    };
    let candidates = match &chosen {
        Some((s, h)) => state.review_queue(s, h)?,
        None => Default::default(),
    };
    let person = |r: &PersonRef| {
        exchange
            .list(&r.list_id)
            .and_then(|l| l.persons.iter().find(|p| p.person_id == r.person_id))
    };
    let may_decide = caller.has(Role::Signer);
    let body = html! {
        section {
            form method="get" {
                label { "Lists " select name="pair" {
                    @for (s, h) in &pairs {
                        option value=(format!("{s} {h}")) selected[chosen.as_ref() == Some(&(s.clone(), h.clone()))] { (s) " against " (h) }
                    }
                } }
                " " button { "Show" }
            }
            p.muted { (candidates.len()) " undecided candidate links, best first (scores from the matching engine; explanations name fields, never values)." }
            table {
                thead { tr { th { "Sought" } th { "Held" } th { "Score" } th { "Why" } @if may_decide { th { "Decide" } } } }
                tbody { @for c in candidates.iter().take(REVIEW_ROWS) {
                    tr {
                        td { @if let Some(p) = person(&c.sought) { (p.family_name) " " (p.given_names) " " (p.patronymic.as_deref().unwrap_or("")) br; span.muted.small { (c.sought.person_id) @if let Some(d) = p.date_of_birth { " · " (d) } } } }
                        td { @if let Some(p) = person(&c.held) { (p.family_name) " " (p.given_names) " " (p.patronymic.as_deref().unwrap_or("")) br; span.muted.small { (c.held.person_id) @if let Some(d) = p.date_of_birth { " · " (d) } } } }
                        td { (plots::score_bar(c.score)) }
                        td.small { (c.explanation) }
                        @if may_decide { td {
                            form method="post" action="/review" {
                                input type="hidden" name="sought_list" value=(c.sought.list_id);
                                input type="hidden" name="sought_person" value=(c.sought.person_id);
                                input type="hidden" name="held_list" value=(c.held.list_id);
                                input type="hidden" name="held_person" value=(c.held.person_id);
                                button name="verdict" value="confirmed" { "Same person" } " "
                                button name="verdict" value="rejected" { "Different" }
                            }
                        } }
                    }
                } }
            }
        }
    };
    Ok(layout(&caller, "/review", "Match review", body))
}

#[derive(Deserialize)]
struct DecideForm {
    sought_list: String,
    sought_person: String,
    held_list: String,
    held_person: String,
    verdict: String,
}

/// The intermediary's signer confirms or rejects a candidate link; the
/// server signs with the intermediary's key, which it holds.
async fn decide(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Result<Response, PageError> {
    same_origin(&state, &headers)?;
    if caller.reader != Reader::Intermediary || !caller.has(Role::Signer) {
        return Err(AppError::Forbidden.into());
    }
    let verdict = app::verdict(&form.verdict).map_err(AppError::from)?;
    let known = state.state_for(&caller.reader)?;
    let sought = PersonRef {
        list_id: form.sought_list,
        person_id: form.sought_person,
    };
    let held = PersonRef {
        list_id: form.held_list,
        person_id: form.held_person,
    };
    let candidate = state
        .review_queue(&sought.list_id, &held.list_id)?
        .iter()
        .find(|c| c.sought == sought && c.held == held)
        .cloned()
        .ok_or_else(|| AppError::BadRequest("no such undecided candidate".to_owned()))?;
    let draft = app::decide_match(
        &known,
        sought.clone(),
        held.clone(),
        verdict,
        Some(&candidate),
    );
    let recorder = state.clone();
    crate::blocking(move || recorder.record_as(&recorder.intermediary, draft, None)).await?;
    Ok(Redirect::to(&format!(
        "/review?sought={}&held={}",
        sought.list_id, held.list_id
    ))
    .into_response())
}

#[derive(Deserialize)]
struct PositionForm {
    term: String,
    stance: String,
    date: NaiveDate,
    #[serde(default)]
    note: String,
}

/// A party's signer states the party's position; the server signs with the
/// party's key if the party declared that the server holds it.
async fn take_position(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<PositionForm>,
) -> Result<Response, PageError> {
    same_origin(&state, &headers)?;
    let party = caller
        .acting_as(Role::Signer)
        .ok_or(AppError::Forbidden)?
        .clone();
    let stance = app::stance(&form.stance, None).map_err(AppError::from)?;
    let known = state.state_for(&caller.reader)?;
    let draft = app::Draft::of(
        &known,
        app::position(
            party.clone(),
            crate::api::term_ref(&form.term)?,
            stance,
            form.date,
            None,
            form.note,
        ),
    );
    crate::blocking(move || state.record_as(&party, draft, None)).await?;
    Ok(Redirect::to(&format!("/agreement?today={}", form.date)).into_response())
}

#[derive(Deserialize)]
struct LogQuery {
    before: Option<u64>,
}

const LOG_PAGE_ROWS: u64 = 100;

async fn log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<LogQuery>,
) -> Page {
    let known = state.state_for(&caller.reader)?;
    let (checkpoint, note, entries) = {
        let ledger = state.ledger()?;
        let view = ledger.view();
        let (checkpoint, note) = view.checkpoint(None)?;
        let end = query
            .before
            .unwrap_or(checkpoint.tree_size)
            .min(checkpoint.tree_size);
        let start = end.saturating_sub(LOG_PAGE_ROWS);
        let mut entries = Vec::new();
        view.store()
            .for_each_entry(start, end, &mut |entry| {
                if let Ok(envelope) = Envelope::from_leaf(&entry.leaf) {
                    entries.push(envelope);
                }
                Ok(())
            })
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Internal)?;
        entries.reverse();
        (checkpoint, note, entries)
    };
    let verification = state.verification();
    let held = state.held_signatures(
        checkpoint.tree_size,
        &crate::base64_of(&checkpoint.root_hash),
    );
    let cosignatures: Vec<_> = known.cosignatures().iter().rev().take(20).collect();
    let oldest = entries.last().map(|e| e.index);
    let body = html! {
        section {
            h2 { "Latest checkpoint" }
            pre { (String::from_utf8_lossy(&note.to_bytes())) }
            p.small.muted { "Log verifier key: " code { (state.log_vkey) } }
            p { "Verification of the whole log (every signature, checkpoint, payload hash and derived table, by the same rules as " code { "truce verify" } "): "
                (verification) }
        }
        section {
            h2 { "Actors and their keys" }
            table {
                thead { tr { th { "Actor" } th { "Role" } th { "Name" } th { "Who holds its signing key" } th.num { "Keys" } th { "Registered" } } }
                tbody { @for a in known.actors() { tr {
                    td { (a.id) } td { (a.role.as_str()) } td { (a.name) }
                    td { @if a.id == state.intermediary { "the intermediary's server (it operates the log)" }
                         @else if a.key_custody == KeyCustody::Server { span.badge.due { "the intermediary's server, as declared" } }
                         @else { span.badge.ok { "the actor itself" } } }
                    td.num { (a.keys.len()) } td { (entry_link(a.registered_at)) }
                } } }
            }
        }
        section {
            h2 { "Cosignatures by witnesses" }
            @if !held.is_empty() {
                p { "The latest checkpoint is cosigned by " strong { (held.iter().map(|s| s.key_name.as_str()).collect::<Vec<_>>().join(", ")) }
                    " (served with it now; recorded on the log with the next append)." }
            }
            @if cosignatures.is_empty() { p.muted { "No cosignature is recorded on the log yet." } }
            @else { table {
                thead { tr { th { "Checkpoint size" } th { "Witness" } th { "Root" } th { "Recorded in" } } }
                tbody { @for ((size, witness), c) in &cosignatures { tr {
                    td.num { (size) } td { (witness) } td.small { code { (c.root_hash) } } td { (entry_link(c.recorded_at)) }
                } } }
            } }
        }
        section {
            h2 { "Entries per kind" }
            (plots::kinds_chart(&entries))
            h2 { "Entries" }
            p.muted.small { "Envelopes are public (they are the Merkle leaves); payloads show only to readers who may see them. "
                "Checkpoint size " (checkpoint.tree_size) "." }
            table {
                thead { tr { th.num { "Entry" } th { "Kind" } th { "Actor" } th { "Visibility" } th { "Logged" } } }
                tbody { @for e in &entries { tr {
                    td.num { a href=(format!("/log/{}", e.index)) { (e.index) } }
                    td { (e.statement().kind) } td { (e.statement().actor) }
                    td.small { (visibility_label(&e.statement().visibility)) }
                    td.small { (time_of(e.logged_at_ms)) }
                } } }
            }
            @if let Some(oldest) = oldest.filter(|o| *o > 0) { p { a href=(format!("/log?before={oldest}")) { "Older entries" } } }
        }
    };
    Ok(layout(&caller, "/log", "The log", body))
}

fn visibility_label(visibility: &Visibility) -> String {
    match visibility {
        Visibility::Public => "public".to_owned(),
        Visibility::Intermediary => "intermediary".to_owned(),
        Visibility::Party(party) => format!("party {party}"),
        Visibility::Actors(actors) => actors
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn time_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// One entry: its envelope, its payload if this reader may see it, and its
/// inclusion proof in the latest checkpoint, which the page's script checks.
async fn entry(State(state): State<Arc<AppState>>, caller: Caller, Path(index): Path<u64>) -> Page {
    let proven = state.proven_entry(index, &caller.reader)?;
    let (stored, proof, envelope) = (&proven.stored, &proven.proof, &proven.envelope);
    let statement = envelope.statement();
    let proof_text: Vec<String> = proof.iter().map(|h| crate::base64_of(h)).collect();
    let body = html! {
        section {
            table {
                tr { th { "Kind" } td { (statement.kind) } }
                tr { th { "Signed by" } td { (statement.actor) " with key " code { (statement.key_id) } ", its statement " (statement.seq) } }
                tr { th { "Visibility" } td { (visibility_label(&statement.visibility)) } }
                tr { th { "Signed at" } td { (time_of(statement.signed_at_ms)) " (actor's clock)" } }
                tr { th { "Logged at" } td { (time_of(envelope.logged_at_ms)) } }
                tr { th { "Payload SHA-256" } td { code.small { (statement.payload_sha256) } } }
                tr { th { "Leaf hash" } td { code.small { (crate::base64_of(&stored.leaf_hash)) } } }
            }
        }
        section {
            h2 { "Payload" }
            @match &proven.payload {
                ShownPayload::Visible(value) => { pre { (serde_json::to_string_pretty(value).unwrap_or_default()) } }
                ShownPayload::Erased => { p.muted { "Erased on a lawful request; the envelope and its hash remain, so the log still verifies." } }
                ShownPayload::Hidden => { p.muted { "Not visible to you. Its hash above is what the actor signed." } }
            }
        }
        section {
            h2 { "Inclusion proof" }
            p { "Entry " (index) " in the checkpoint of size " (proven.tree_size) ", root " code.small { (crate::base64_of(&proven.root_hash)) } ": "
                (proof.len()) " hashes (RFC 9162)." }
            div #proof data-index=(index) data-size=(proven.tree_size)
                data-leaf=(crate::base64_of(&stored.leaf)) data-proof=(proof_text.join(",")) data-vkey=(state.log_vkey) {
                ol.small { @for h in &proof_text { li { code { (h) } } } }
            }
            p #proof-status { "Checking in your browser…" }
        }
        p { @if index > 0 { a href=(format!("/log/{}", index - 1)) { "← entry " (index - 1) } " · " }
            @if index + 1 < proven.tree_size { a href=(format!("/log/{}", index + 1)) { "entry " (index + 1) " →" } } }
    };
    Ok(layout(&caller, "/log", &format!("Entry {index}"), body))
}

async fn login_form(caller: Caller) -> Markup {
    login_page(&caller, None)
}

fn login_page(caller: &Caller, error: Option<&str>) -> Markup {
    let body = html! {
        section {
            @if let Some(error) = error { p.error { (error) } }
            form.stack method="post" action="/login" {
                label { "User " input type="text" name="user" autocomplete="username" autofocus; }
                label { "Password " input type="password" name="password" autocomplete="current-password"; }
                button type="submit" { "Log in" }
            }
            p.muted.small { "Each user belongs to one actor (the intermediary, a party or an observer) and sees what that actor may see." }
        }
    };
    layout(caller, "/login", "Log in", body)
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    same_origin(&state, &headers)?;
    let checked = state.clone();
    // Known when served by `crate::serve`; a router called directly (tests)
    // has no client address.
    let address = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let attempt = (form.user.clone(), address);
    // argon2 is slow on purpose: off the async workers.
    let login = crate::blocking(move || Ok(checked.login(attempt, &form.password))).await?;
    let Some(login) = login else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(&caller, Some("Wrong user name or password.")),
        )
            .into_response());
    };
    let session = state.open_session(&form.user, login)?;
    let cookie = format!(
        "{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        crate::SESSION_LIFETIME.as_secs(),
        state.cookie_secure()
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

async fn logout(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    if let Some(id) = caller.session_id()
        && let Err(e) = state.close_session(id)
    {
        // The session stays open: say so rather than pretend it ended.
        return e.into_response();
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        state.cookie_secure()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// A form posted from another site is refused: with the session cookie
/// SameSite=Strict this is a second line of defence against cross-site
/// request forgery. The Origin must match in scheme, host and port: the
/// public URL's when the server was given one, else `http://` and the Host.
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let expected = match state.public_origin() {
        Some(origin) => origin.to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            format!("http://{}", host.to_ascii_lowercase())
        }
    };
    if origin.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub(crate) fn form_urlencoded(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default()
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/truce.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/truce.js"),
    )
        .into_response()
}

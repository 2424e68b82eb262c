//! Who may use the server. Every user and every API token belongs to one
//! actor (the intermediary, a party, an observer) and holds roles in it.
//! What an actor may read is decided by the log (each entry's visibility,
//! folded per reader); what a user may do within its actor is decided here.
//!
//! Kept in the log's store, as one shared record (`truce_store::shared`),
//! so every server process on the store sees the same. Passwords are stored as
//! argon2id PHC strings; API tokens as the SHA-256 of a random 128-bit
//! secret: a secret nobody chose cannot be guessed, so a fast hash suffices
//! there, while a password a person chose needs a slow one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use truce_core::envelope::{hex, sha256_hex};
use truce_core::{ActorId, ActorRole, LogState};
use truce_store::shared::ACCESS_KEY;
use truce_store::{Change, LogStore, Place, Space};

/// What a user may do for its actor. Every role reads what the actor may
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads what the actor may read.
    Viewer,
    /// Records facts and commentary for the actor: claims, remarks,
    /// discrepancies, the minutes of a round.
    Editor,
    /// Makes the actor's commitments: positions, memoranda, lists, stage
    /// proposals and acceptances, handovers, receipts, match decisions,
    /// key changes, erasures.
    Signer,
    /// Manages the actor's users and tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Signer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Signer => "signer",
            Role::Admin => "admin",
        }
    }

    /// `roles` as a user reads them, joined by `separator`.
    pub fn join(roles: &BTreeSet<Role>, separator: &str) -> String {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        names.join(separator)
    }

    pub fn parse(text: &str) -> Result<Role, AccessError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                AccessError(format!(
                    "role {text:?}: use viewer, editor, signer or admin"
                ))
            })
    }

    /// The role an event's kind needs: commitments need a signer, records
    /// of fact and commentary an editor.
    pub fn needed_for(kind: &str) -> Role {
        match kind {
            "claim_recorded" | "remark_recorded" | "discrepancy_recorded" | "round_recorded" => {
                Role::Editor
            }
            _ => Role::Signer,
        }
    }
}

/// An actor and the roles held in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub actor: ActorId,
    pub roles: BTreeSet<Role>,
}

impl Grant {
    pub fn new(actor: ActorId, roles: impl IntoIterator<Item = Role>) -> Grant {
        Grant {
            actor,
            roles: roles.into_iter().collect(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    #[serde(flatten)]
    grant: Grant,
    /// argon2id, PHC string format.
    password_hash: String,
}

impl User {
    /// What a session of this user is bound to: a new password (a new
    /// salt, so a new hash) or a change of actor or roles gives another
    /// stamp, and every session opened before ends.
    fn stamp(&self) -> String {
        let text = format!(
            "{}\n{}\n{}",
            self.password_hash,
            self.grant.actor,
            Role::join(&self.grant.roles, ",")
        );
        sha256_hex(text.as_bytes())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Token {
    #[serde(flatten)]
    grant: Grant,
    label: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(default)]
    users: BTreeMap<String, User>,
    /// By the hex SHA-256 of the secret.
    #[serde(default)]
    tokens: BTreeMap<String, Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessError(pub String);

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AccessError {}

pub const ACCESS_FILE: &str = "access.json";
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The users and tokens of a log, as last read from its store.
pub struct Access {
    /// A connection of its own, so a check of the users never waits for
    /// the log's reads or writes in this process.
    store: Box<dyn LogStore>,
    file: AccessFile,
    /// The revision of the stored record this copy was read at (0: none
    /// stored), to notice changes made by another process.
    revision: u64,
}

/// A user as an admin sees it: never the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    pub name: String,
    pub actor: ActorId,
    pub roles: BTreeSet<Role>,
}

/// A token as an admin sees it: never the secret, nor its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSummary {
    /// What `token revoke` takes: the first `TOKEN_ID_HEX` hex digits of
    /// the secret's digest (they tell nothing of the secret).
    pub id: String,
    pub actor: ActorId,
    pub roles: BTreeSet<Role>,
    pub label: String,
}

/// The digits of a token's digest that name it.
pub const TOKEN_ID_HEX: usize = 12;

/// Whose users and tokens a change may touch: an actor's admin reaches its
/// own actor's only; the operator of the data directory (the CLI, which
/// can read the file anyway) reaches all.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Actor(&'a ActorId),
    Operator,
}

impl Scope<'_> {
    fn reaches(&self, grant: &Grant) -> bool {
        match self {
            Scope::Actor(actor) => grant.actor == **actor,
            Scope::Operator => true,
        }
    }
}

/// A login whose password matched: the stamp its session is bound to (see
/// `User::stamp`); the session reads the grant anew on each request.
#[derive(Debug, Clone)]
pub struct Login {
    pub stamp: String,
}

impl Access {
    /// Reads the users and tokens of the log at `place`. A directory whose
    /// `keys/access.json` (where they were kept before the store held them)
    /// is still there has it moved into the store.
    pub fn open(place: impl Into<Place>) -> Result<Access, AccessError> {
        let place = place.into();
        let store = truce_store::open(&place).map_err(store_error)?;
        let mut access = Access {
            store,
            file: AccessFile::default(),
            revision: 0,
        };
        access.import_file(&place.dir.join(truce_ledger::KEYS_DIR).join(ACCESS_FILE))?;
        access.reread()?;
        Ok(access)
    }

    /// Moves the access file of an older data directory into the store,
    /// unless the store already holds users and tokens: then the file is
    /// refused by name, as neither can be taken over the other unasked.
    fn import_file(&mut self, path: &Path) -> Result<(), AccessError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(AccessError(format!("{}: {e}", path.display()))),
        };
        let file: AccessFile = serde_json::from_str(&text)
            .map_err(|e| AccessError(format!("{}: line {}: {e}", path.display(), e.line())))?;
        let value = serde_json::to_vec(&file).expect("access file serialises");
        let mut stored_already = false;
        let now = unix_now();
        self.store
            .shared_update(Space::Access, ACCESS_KEY, now, &mut |before| {
                stored_already = before.is_some();
                match before {
                    Some(_) => Change::Keep,
                    None => Change::Put {
                        value: value.clone(),
                        expires_at: None,
                    },
                }
            })
            .map_err(store_error)?;
        if stored_already {
            return Err(AccessError(format!(
                "{}: the store already holds the users and tokens; remove this older file \
                 (or move it away) once you have checked that none of it is missing",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| AccessError(format!("{}: {e}", path.display())))
    }

    fn reread(&mut self) -> Result<(), AccessError> {
        let record = (self.store)
            .shared_get(Space::Access, ACCESS_KEY, unix_now())
            .map_err(store_error)?;
        let Some(record) = record else {
            self.file = AccessFile::default();
            self.revision = 0;
            return Ok(());
        };
        self.file = serde_json::from_slice(&record.value)
            .map_err(|e| AccessError(format!("the users and tokens in the store: {e}")))?;
        self.revision = record.revision;
        Ok(())
    }

    /// Reads the users and tokens again if another process changed them
    /// since (one small read).
    pub fn refresh(&mut self) -> Result<(), AccessError> {
        let stored = (self.store)
            .shared_revision(Space::Access, ACCESS_KEY)
            .map_err(store_error)?;
        if stored != self.revision {
            self.reread()?;
        }
        Ok(())
    }

    /// Stores the changes made since they were read. Refused, storing
    /// nothing, when another process changed them meanwhile: no change is
    /// ever written over one it did not see.
    pub fn save(&mut self) -> Result<(), AccessError> {
        let value = serde_json::to_vec(&self.file).expect("access file serialises");
        let read_at = self.revision;
        let mut saved_at = None;
        self.store
            .shared_update(Space::Access, ACCESS_KEY, unix_now(), &mut |before| {
                let revision = before.map_or(0, |record| record.revision);
                if revision != read_at {
                    return Change::Keep;
                }
                saved_at = Some(revision + 1);
                Change::Put {
                    value: value.clone(),
                    expires_at: None,
                }
            })
            .map_err(store_error)?;
        self.revision = saved_at.ok_or_else(|| {
            AccessError(
                "the users and tokens were changed by another process meanwhile: \
                 nothing was saved; try again"
                    .to_owned(),
            )
        })?;
        Ok(())
    }

    /// Adds a user (or replaces its password and roles). The actor must be
    /// on the log and able to sign events (not a witness). A user name is
    /// unique across actors: a name another actor's user holds is refused,
    /// so no admin can take over another actor's user.
    pub fn set_user(
        &mut self,
        log: &LogState,
        name: &str,
        grant: Grant,
        password: &str,
    ) -> Result<(), AccessError> {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !valid_name {
            return Err(AccessError(
                "user name: 1-64 of a-z, 0-9, '.', '_', '-'".to_owned(),
            ));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccessError(format!(
                "password: at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        check_grant(log, &grant)?;
        if self
            .file
            .users
            .get(name)
            .is_some_and(|user| user.grant.actor != grant.actor)
        {
            return Err(AccessError(format!(
                "user name {name} is taken: choose another"
            )));
        }
        let salt = SaltString::generate(&mut rand_core::OsRng);
        let password_hash = argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AccessError(format!("password hashing failed: {e}")))?
            .to_string();
        self.file.users.insert(
            name.to_owned(),
            User {
                grant,
                password_hash,
            },
        );
        Ok(())
    }

    /// Removes a user within `scope`. A user of another actor is answered
    /// as one that does not exist.
    pub fn remove_user(&mut self, scope: Scope, name: &str) -> Result<(), AccessError> {
        match self.file.users.get(name) {
            Some(user) if scope.reaches(&user.grant) => {
                self.file.users.remove(name);
                Ok(())
            }
            _ => Err(AccessError(format!("no user {name}"))),
        }
    }

    /// Revokes the token named `id` (see `TokenSummary::id`) within
    /// `scope`; another actor's token is answered as one that does not
    /// exist.
    pub fn revoke_token(&mut self, scope: Scope, id: &str) -> Result<(), AccessError> {
        let found: Vec<String> = self
            .file
            .tokens
            .iter()
            .filter(|(digest, token)| {
                id.len() == TOKEN_ID_HEX && digest.starts_with(id) && scope.reaches(&token.grant)
            })
            .map(|(digest, _)| digest.clone())
            .collect();
        match found.as_slice() {
            [digest] => {
                self.file.tokens.remove(digest);
                Ok(())
            }
            _ => Err(AccessError(format!("no token {id}"))),
        }
    }

    /// The tokens within `scope`.
    pub fn tokens<'a>(&'a self, scope: Scope<'a>) -> impl Iterator<Item = TokenSummary> + 'a {
        self.file
            .tokens
            .iter()
            .filter(move |(_, t)| scope.reaches(&t.grant))
            .map(|(digest, t)| TokenSummary {
                id: digest[..TOKEN_ID_HEX].to_owned(),
                actor: t.grant.actor.clone(),
                roles: t.grant.roles.clone(),
                label: t.label.clone(),
            })
    }

    /// The grant of a session opened with `stamp`, while the user still
    /// has the password, actor and roles it logged in with.
    pub fn session_grant(&self, name: &str, stamp: &str) -> Option<&Grant> {
        self.file
            .users
            .get(name)
            .filter(|user| user.stamp() == stamp)
            .map(|user| &user.grant)
    }

    /// Makes a token and returns its secret, which is shown once and never
    /// stored.
    pub fn add_token(
        &mut self,
        log: &LogState,
        grant: Grant,
        label: &str,
    ) -> Result<String, AccessError> {
        check_grant(log, &grant)?;
        let secret = random_hex::<16>();
        self.file.tokens.insert(
            token_digest(&secret),
            Token {
                grant,
                label: label.to_owned(),
            },
        );
        Ok(secret)
    }

    pub fn token(&self, secret: &str) -> Option<&Grant> {
        self.file
            .tokens
            .get(&token_digest(secret))
            .map(|t| &t.grant)
    }

    /// What a login as `name` is checked against, taken out so the slow
    /// hashing runs without holding the access list. An unknown name gets
    /// a hash no password matches, at the same cost as a wrong password, so
    /// timing does not tell which names exist.
    pub fn login_check(&self, name: &str) -> LoginCheck {
        let user = self.file.users.get(name);
        LoginCheck {
            password_hash: user
                .map_or(DUMMY_HASH, |u| u.password_hash.as_str())
                .to_owned(),
            login: user.map(|u| Login { stamp: u.stamp() }),
        }
    }

    /// The users within `scope`.
    pub fn users<'a>(&'a self, scope: Scope<'a>) -> impl Iterator<Item = UserSummary> + 'a {
        self.file
            .users
            .iter()
            .filter(move |(_, u)| scope.reaches(&u.grant))
            .map(|(name, u)| UserSummary {
                name: name.clone(),
                actor: u.grant.actor.clone(),
                roles: u.grant.roles.clone(),
            })
    }
}

/// A user's stored hash and grant, to check a password against.
pub struct LoginCheck {
    password_hash: String,
    login: Option<Login>,
}

impl LoginCheck {
    /// The login, if the password matches.
    pub fn verify(self, password: &str) -> Option<Login> {
        let parsed = PasswordHash::new(&self.password_hash).ok()?;
        let matches = argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        self.login.filter(|_| matches)
    }
}

/// An argon2id PHC string (default parameters) whose hash no known
/// password gives, checked against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YnxzCaXB1VlNW5vXm1TObK/MmXjb0cEDYjNmVW45Xb8";

fn store_error(e: truce_store::StoreError) -> AccessError {
    AccessError(e.to_string())
}

/// Seconds since the Unix epoch: shared records expire by the wall clock,
/// the one clock every process on every machine has in common.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check_grant(log: &LogState, grant: &Grant) -> Result<(), AccessError> {
    match log.actor(&grant.actor) {
        Some(actor) if actor.role != ActorRole::Witness => {}
        Some(_) => {
            return Err(AccessError(format!(
                "{} is a witness: it cosigns, it has no users",
                grant.actor
            )));
        }
        None => {
            return Err(AccessError(format!(
                "{} is not an actor on this log",
                grant.actor
            )));
        }
    }
    if grant.roles.is_empty() {
        return Err(AccessError("give at least one role".to_owned()));
    }
    Ok(())
}

fn token_digest(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// N random bytes from the OS, as hex.
pub fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dummy_hash_is_a_valid_argon2id_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn every_commitment_needs_a_signer_and_records_an_editor() {
        assert_eq!(Role::needed_for("position_taken"), Role::Signer);
        assert_eq!(Role::needed_for("stage_accepted"), Role::Signer);
        assert_eq!(Role::needed_for("match_decided"), Role::Signer);
        assert_eq!(Role::needed_for("claim_recorded"), Role::Editor);
        assert_eq!(Role::needed_for("remark_recorded"), Role::Editor);
        // A kind the policy does not know is treated as a commitment.
        assert_eq!(Role::needed_for("something_new"), Role::Signer);
    }
}

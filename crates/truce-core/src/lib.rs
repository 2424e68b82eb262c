//! The pure domain core of truce: the event envelope and its canonical
//! encoding, the domains (each with its events, rules, fold, derived rows
//! and queries), and the log's state as a fold over them.
//!
//! No I/O, no async, no clock, no randomness: times, indices and keys
//! arrive as arguments. Storage, HTTP and the CLI are thin layers around it.

pub mod canonical;
pub mod domain;
pub mod envelope;
pub mod event;
pub mod exchange;
pub mod limits;
pub mod negotiation;
pub mod projection;
pub mod registry;
pub mod rejection;
pub mod remarks;
pub mod state;
pub mod terms;

pub use envelope::{ActorId, Envelope, Reader, SignedStatement, Statement, Visibility};
pub use event::{ActorRole, Event, KeyCustody};
pub use state::{LogState, PayloadView, Rejection};

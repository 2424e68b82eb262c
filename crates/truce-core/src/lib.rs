//! The pure domain core of truce: the event envelope and its canonical
//! encoding, the events, and state as a fold over the log.
//!
//! No I/O, no async, no clock, no randomness: times, indices and keys
//! arrive as arguments. Storage, HTTP and the CLI are thin layers around it.

pub mod canonical;
pub mod envelope;
pub mod event;
pub mod exchange;
pub mod limits;
pub mod negotiation;
pub mod projection;
pub mod state;
pub mod terms;

pub use envelope::{ActorId, Envelope, Reader, SignedStatement, Statement, Visibility};
pub use event::{ActorRole, Event, KeyCustody};
pub use state::{LogState, PayloadView, Rejection};

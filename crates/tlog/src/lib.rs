//! Transparency-log primitives, one module per specification: the RFC 9162
//! Merkle tree, C2SP signed notes and cosignatures, checkpoints and tiles.
//!
//! Pure: no I/O, no clock (cosignature timestamps are arguments), no
//! knowledge of what the log's entries mean.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tile;

pub use checkpoint::Checkpoint;
pub use merkle::{EMPTY_ROOT, Frontier, Hash, HashSource, ProofError, TreeHashes};
pub use note::{KeyType, Note, NoteError, NoteSignature, SignerKey, VerifierKey};

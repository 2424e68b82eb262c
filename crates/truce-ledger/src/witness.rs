//! What a witness checks before it cosigns (C2SP tlog-witness semantics,
//! run locally): the latest checkpoint carries the log's signature and
//! extends the last checkpoint this witness cosigned. A checkpoint that
//! does not is a split view, and the witness refuses loudly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tlog::SignerKey;
use tlog::merkle;
use truce_core::registry::RegistryEvent;
use truce_core::{ActorId, ActorRole, Event};

use crate::LedgerError;
use crate::ledger::LogView;

/// Cosigns the latest checkpoint as `witness` at `timestamp` (POSIX
/// seconds) and returns the event that records the cosignature.
pub fn cosign_latest(
    view: &LogView,
    witness: &ActorId,
    key: &SignerKey,
    timestamp: u64,
) -> Result<Event, LedgerError> {
    let registered = view
        .state()
        .actor(witness)
        .filter(|a| a.role == ActorRole::Witness)
        .ok_or_else(|| LedgerError::Input(format!("{witness} is not a registered witness")))?;
    if !registered
        .keys
        .iter()
        .any(|k| k.vkey == key.verifier() && k.valid_until.is_none())
    {
        return Err(LedgerError::Input(format!(
            "the key given is not {witness}'s current cosigner key"
        )));
    }
    let (checkpoint, _) = view.checkpoint(None)?;
    let last_cosigned = view
        .state()
        .cosignatures()
        .keys()
        .filter(|(_, w)| w == witness)
        .map(|(size, _)| *size)
        .max();
    if let Some(old_size) = last_cosigned {
        if old_size == checkpoint.tree_size {
            return Err(LedgerError::Input(format!(
                "{witness} already cosigned checkpoint {old_size}"
            )));
        }
        let (old, _) = view.checkpoint(Some(old_size))?;
        let proof = merkle::consistency_proof(view.tree()?, old.tree_size, checkpoint.tree_size)
            .map_err(|e| LedgerError::Io(e.to_string()))?;
        merkle::verify_consistency(
            old.tree_size,
            checkpoint.tree_size,
            &proof,
            &old.root_hash,
            &checkpoint.root_hash,
        )
        .map_err(|e| {
            LedgerError::Io(format!(
                "SPLIT VIEW: checkpoint {} does not extend checkpoint {} that {witness} cosigned: {e}",
                checkpoint.tree_size, old.tree_size
            ))
        })?;
    }
    let signature = key
        .cosign(&checkpoint.to_text(), timestamp)
        .map_err(|e| LedgerError::Input(e.to_string()))?;
    Ok(Event::Registry(RegistryEvent::CheckpointCosigned {
        tree_size: checkpoint.tree_size,
        root_hash: BASE64.encode(checkpoint.root_hash),
        witness: witness.clone(),
        signature_line: signature.to_line().trim_end().to_owned(),
    }))
}

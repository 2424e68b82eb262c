//! Export of the log as C2SP tlog-tiles: `checkpoint`, hash tiles under
//! `tile/<L>/...` and entry bundles under `tile/entries/...`, ready for any
//! static file server. Entries are the canonical envelopes only: payloads,
//! which may be personal or withheld, never leave through tiles.

use std::path::Path;

use tlog::merkle::TreeHashes;
use tlog::tile::{TILE_WIDTH, TileRef, tiles_for_size};
use truce_store::{LogStore, StoreError};

use crate::LedgerError;
use crate::ledger::LogView;

pub struct TilesExported {
    pub tree_size: u64,
    pub files: usize,
}

/// Writes the tiles of the latest checkpoint (with its cosignatures) to `out`.
pub fn export_tiles(view: &LogView, out: &Path) -> Result<TilesExported, LedgerError> {
    let (checkpoint, note) = view.checkpoint(None)?;
    let size = checkpoint.tree_size;
    let mut leaves = Vec::with_capacity(size as usize);
    view.store()
        .for_each_entry(0, size, &mut |entry| {
            leaves.push(entry.leaf);
            Ok(())
        })?
        .map_err(|why| LedgerError::Store(StoreError::Corrupt(why)))?;
    let tiles = tiles_for_size(size);
    for tile in &tiles {
        write_file(out, &tile.path(), &tile_bytes(tile, view.tree(), &leaves))?;
    }
    write_file(out, "checkpoint", &note.to_bytes())?;
    Ok(TilesExported {
        tree_size: size,
        files: tiles.len() + 1,
    })
}

fn tile_bytes(tile: &TileRef, tree: &TreeHashes, leaves: &[Vec<u8>]) -> Vec<u8> {
    let first = (tile.index * TILE_WIDTH) as usize;
    let range = first..first + tile.width as usize;
    match tile.level {
        // Entry bundle: big-endian u16 length, then the entry.
        None => leaves[range]
            .iter()
            .flat_map(|leaf| {
                (leaf.len() as u16)
                    .to_be_bytes()
                    .into_iter()
                    .chain(leaf.iter().copied())
            })
            .collect(),
        // Level L holds hashes of subtrees of 256^L leaves, i.e. tree level 8L.
        Some(level) => tree.level(8 * level as usize)[range].concat(),
    }
}

fn write_file(out: &Path, relative: &str, bytes: &[u8]) -> Result<(), LedgerError> {
    let path = out.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LedgerError::io(parent, e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| LedgerError::io(&path, e))
}

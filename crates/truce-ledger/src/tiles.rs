//! Export of the log as C2SP tlog-tiles: `checkpoint`, hash tiles under
//! `tile/<L>/...` and entry bundles under `tile/entries/...`, ready for any
//! static file server. Entries are the canonical envelopes only: payloads,
//! which may be personal or withheld, never leave through tiles.

use std::path::Path;

use tlog::merkle::TreeHashes;
use tlog::tile::{TILE_WIDTH, TileRef, tiles_for_size};
use truce_store::StoreError;

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
        let first = (tile.index * TILE_WIDTH) as usize;
        let tile_leaves = if tile.level.is_none() {
            &leaves[first..first + tile.width as usize]
        } else {
            &[][..]
        };
        write_file(
            out,
            &tile.path(),
            &tile_bytes(tile, view.tree()?, tile_leaves),
        )?;
    }
    write_file(out, "checkpoint", &note.to_bytes())?;
    Ok(TilesExported {
        tree_size: size,
        files: tiles.len() + 1,
    })
}

/// One tile of the latest checkpoint, as a tlog-tiles server serves it, or
/// None when the checkpoint has no such tile.
pub fn read_tile(view: &LogView, tile: &TileRef) -> Result<Option<Vec<u8>>, LedgerError> {
    let (checkpoint, _) = view.checkpoint(None)?;
    if !tiles_for_size(checkpoint.tree_size).contains(tile) {
        return Ok(None);
    }
    let first = tile.index * TILE_WIDTH;
    let mut leaves = Vec::new();
    if tile.level.is_none() {
        view.store()
            .for_each_entry(first, first + tile.width, &mut |entry| {
                leaves.push(entry.leaf);
                Ok(())
            })?
            .map_err(|why| LedgerError::Store(StoreError::Corrupt(why)))?;
    }
    Ok(Some(tile_bytes(tile, view.tree()?, &leaves)))
}

/// A tile's bytes. `tile_leaves` are the entries of this tile only (used
/// for entry bundles).
fn tile_bytes(tile: &TileRef, tree: &TreeHashes, tile_leaves: &[Vec<u8>]) -> Vec<u8> {
    match tile.level {
        // Entry bundle: big-endian u16 length, then the entry.
        None => tile_leaves
            .iter()
            .flat_map(|leaf| {
                (leaf.len() as u16)
                    .to_be_bytes()
                    .into_iter()
                    .chain(leaf.iter().copied())
            })
            .collect(),
        // Level L holds hashes of subtrees of 256^L leaves, i.e. tree level 8L.
        Some(level) => {
            let first = (tile.index * TILE_WIDTH) as usize;
            tree.level(8 * level as usize)[first..first + tile.width as usize].concat()
        }
    }
}

fn write_file(out: &Path, relative: &str, bytes: &[u8]) -> Result<(), LedgerError> {
    let path = out.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LedgerError::io(parent, e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| LedgerError::io(&path, e))
}

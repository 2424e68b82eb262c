//! Tile coordinates and contents of C2SP tlog-tiles: paths, tile widths and
//! the hashes a tile holds. Writing tiles to disk is the caller's business.

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;

/// Entry bundles prefix each entry with a big-endian u16 length, so no
/// entry may be longer than this.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// The path element for tile index `n`: zero-padded 3-digit groups, all
/// but the last prefixed by `x` (1234067 is `x001/x234/067`).
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// `tile/<L>/<N>[.p/<W>]`, or `tile/entries/<N>[.p/<W>]` when `level` is None.
pub fn tile_path(level: Option<u8>, n: u64, width: u64) -> String {
    let level = level.map_or("entries".to_owned(), |l| l.to_string());
    let mut path = format!("tile/{level}/{}", index_path(n));
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// One tile to publish: its level (None for an entry bundle), index, width
/// and the range of hashes (or entries) it covers at its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    pub level: Option<u8>,
    pub index: u64,
    pub width: u64,
}

impl TileRef {
    pub fn path(&self) -> String {
        tile_path(self.level, self.index, self.width)
    }

    /// Parses a path as [`TileRef::path`] writes it (`tile/<L>/<N>[.p/<W>]`
    /// or `tile/entries/<N>[.p/<W>]`), refusing every other spelling so one
    /// tile has one URL.
    pub fn parse(path: &str) -> Option<TileRef> {
        let rest = path.strip_prefix("tile/")?;
        let (rest, width) = match rest.split_once(".p/") {
            Some((rest, width)) => (
                rest,
                width
                    .parse::<u64>()
                    .ok()
                    .filter(|w| (1..TILE_WIDTH).contains(w))?,
            ),
            None => (rest, TILE_WIDTH),
        };
        let (level, index) = rest.split_once('/')?;
        let level = match level {
            "entries" => None,
            digits => Some(digits.parse::<u8>().ok().filter(|l| *l <= 63)?),
        };
        let index: u64 = index
            .split('/')
            .map(|g| g.trim_start_matches('x'))
            .collect::<String>()
            .parse()
            .ok()?;
        let tile = TileRef {
            level,
            index,
            width,
        };
        (tile.path() == path).then_some(tile)
    }
}

/// Every tile (full, and the partial ones) a tree of `tree_size` leaves is
/// published as, per level, plus the entry bundles (level None).
pub fn tiles_for_size(tree_size: u64) -> Vec<TileRef> {
    let mut tiles = Vec::new();
    let mut hashes_at_level = tree_size;
    let mut level: u8 = 0;
    while hashes_at_level > 0 {
        let full = hashes_at_level / TILE_WIDTH;
        let partial = hashes_at_level % TILE_WIDTH;
        for index in 0..full {
            tiles.push(TileRef {
                level: Some(level),
                index,
                width: TILE_WIDTH,
            });
            if level == 0 {
                tiles.push(TileRef {
                    level: None,
                    index,
                    width: TILE_WIDTH,
                });
            }
        }
        if partial > 0 {
            tiles.push(TileRef {
                level: Some(level),
                index: full,
                width: partial,
            });
            if level == 0 {
                tiles.push(TileRef {
                    level: None,
                    index: full,
                    width: partial,
                });
            }
        }
        hashes_at_level /= TILE_WIDTH;
        level += 1;
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_spec_example() {
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(999), "999");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(tile_path(Some(1), 2, 17), "tile/1/002.p/17");
        assert_eq!(tile_path(None, 3, 256), "tile/entries/003");
    }

    #[test]
    fn tile_paths_parse_back_and_other_spellings_are_refused() {
        for tile in tiles_for_size(70_000).into_iter().chain([TileRef {
            level: Some(2),
            index: 1234067,
            width: 256,
        }]) {
            assert_eq!(TileRef::parse(&tile.path()), Some(tile));
        }
        for bad in [
            "tile/1/02",
            "tile/01/000",
            "tile/1/000.p/256",
            "tile/1/000.p/0",
            "tile/64/000",
            "tile/x/000",
            "tile/1/1234",
            "tiles/1/000",
            "tile/entries/x1/000",
        ] {
            assert_eq!(TileRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        let tiles = tiles_for_size(70_000);
        let at = |level: u8| -> Vec<TileRef> {
            tiles
                .iter()
                .copied()
                .filter(|t| t.level == Some(level))
                .collect()
        };
        assert_eq!(at(0).len(), 274);
        assert_eq!(at(0).iter().filter(|t| t.width == 256).count(), 273);
        assert_eq!(at(0).last().unwrap().width, 112);
        assert_eq!(
            at(1).iter().map(|t| t.width).collect::<Vec<_>>(),
            vec![256, 17]
        );
        assert_eq!(at(2).iter().map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert!(at(3).is_empty());
    }

    #[test]
    fn a_tree_of_256_has_a_full_level_0_and_a_partial_level_1() {
        let tiles = tiles_for_size(256);
        let hash_tiles: Vec<_> = tiles.iter().filter(|t| t.level.is_some()).collect();
        assert_eq!(hash_tiles.len(), 2);
        assert_eq!((hash_tiles[1].level, hash_tiles[1].width), (Some(1), 1));
    }
}

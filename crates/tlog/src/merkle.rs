//! The Merkle tree of RFC 9162 section 2.1: hashes, roots, inclusion and
//! consistency proofs and their verifiers.
//!
//! Proof generation works over any [`HashSource`], so callers can serve
//! proofs from leaf hashes held in memory, from a database or from tiles.
//! Costs: generating a proof for a tree of `n` leaves hashes at most `O(n)`
//! nodes when the source only knows leaves, and `O(log n)` when it can answer
//! subtree roots directly ([`HashSource::subtree_root`]).

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 2.1.1).
/// Go's tlog returns all zeros here; RFC 9162 does not.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-256(0x00 || data), RFC 9162 2.1.1.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// SHA-256(0x01 || left || right), RFC 9162 2.1.1.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The requested index or sizes do not describe a provable statement.
    InvalidRequest(&'static str),
    /// A proof component is not a 32-byte hash.
    MalformedComponent,
    /// The proof has the wrong number of components for the sizes given.
    WrongLength,
    /// The proof is well formed but does not lead to the expected root.
    RootMismatch,
}

impl std::fmt::Display for ProofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProofError::InvalidRequest(why) => write!(f, "invalid proof request: {why}"),
            ProofError::MalformedComponent => {
                f.write_str("malformed proof: a component is not 32 bytes")
            }
            ProofError::WrongLength => {
                f.write_str("malformed proof: wrong number of components for the tree sizes")
            }
            ProofError::RootMismatch => f.write_str("proof does not lead to the expected root"),
        }
    }
}

impl std::error::Error for ProofError {}

/// Where proof generation reads hashes from.
pub trait HashSource {
    /// The hash of leaf `index`.
    fn leaf(&self, index: u64) -> Hash;

    /// MTH(D[start:end]) for a subtree. The default recomputes it from the
    /// leaves; sources that keep interior hashes override it.
    fn subtree_root(&self, start: u64, end: u64) -> Hash {
        debug_assert!(start < end);
        if end - start == 1 {
            return self.leaf(start);
        }
        let split = start + largest_power_of_two_below(end - start);
        node_hash(
            &self.subtree_root(start, split),
            &self.subtree_root(split, end),
        )
    }
}

impl HashSource for [Hash] {
    fn leaf(&self, index: u64) -> Hash {
        self[index as usize]
    }
}

impl HashSource for Vec<Hash> {
    fn leaf(&self, index: u64) -> Hash {
        self[index as usize]
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): the split
/// point `k` of RFC 9162 2.1.1.
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[0:tree_size]) (RFC 9162 2.1.1).
pub fn root<S: HashSource + ?Sized>(source: &S, tree_size: u64) -> Hash {
    if tree_size == 0 {
        EMPTY_ROOT
    } else {
        source.subtree_root(0, tree_size)
    }
}

/// The inclusion proof PATH(m, D[0:n]) for leaf `leaf_index` in a tree of
/// `tree_size` leaves (RFC 9162 2.1.3.1), ordered from the leaf's sibling up.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    source: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::InvalidRequest(
            "leaf index is not below the tree size",
        ));
    }
    let mut proof = Vec::new();
    path(source, leaf_index, 0, tree_size, &mut proof);
    Ok(proof)
}

fn path<S: HashSource + ?Sized>(source: &S, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
    let n = end - start;
    if n == 1 {
        return;
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        path(source, m, start, start + k, out);
        out.push(source.subtree_root(start + k, end));
    } else {
        path(source, m - k, start + k, end, out);
        out.push(source.subtree_root(start, start + k));
    }
}

/// The consistency proof PROOF(m, D[0:n]) between sizes `old_size` and
/// `new_size` (RFC 9162 2.1.4.1). A proof from the empty tree is refused:
/// every tree is consistent with it, so such a proof would prove nothing.
pub fn consistency_proof<S: HashSource + ?Sized>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old_size == 0 {
        return Err(ProofError::InvalidRequest(
            "a consistency proof from size 0 proves nothing",
        ));
    }
    if old_size > new_size {
        return Err(ProofError::InvalidRequest(
            "old size is larger than new size",
        ));
    }
    let mut proof = Vec::new();
    subproof(source, old_size, 0, new_size, true, &mut proof);
    Ok(proof)
}

fn subproof<S: HashSource + ?Sized>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    old_is_complete_subtree: bool,
    out: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !old_is_complete_subtree {
            out.push(source.subtree_root(start, end));
        }
        return;
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(source, m, start, start + k, old_is_complete_subtree, out);
        out.push(source.subtree_root(start + k, end));
    } else {
        subproof(source, m - k, start + k, end, false, out);
        out.push(source.subtree_root(start, start + k));
    }
}

fn as_hash(component: &[u8]) -> Result<Hash, ProofError> {
    component
        .try_into()
        .map_err(|_| ProofError::MalformedComponent)
}

/// Verifies an inclusion proof (RFC 9162 2.1.3.2). `root` and the
/// components are byte strings so that malformed input is an error, not a
/// panic or a silent truncation.
pub fn verify_inclusion<C: AsRef<[u8]>>(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &[u8],
    proof: &[C],
    root: &[u8],
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::InvalidRequest(
            "leaf index is not below the tree size",
        ));
    }
    let leaf_hash = as_hash(leaf_hash)?;
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    let mut r = leaf_hash;
    for component in proof {
        let p = as_hash(component.as_ref())?;
        if sn == 0 {
            // The proof is longer than the path from the leaf to the root.
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(&p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r.as_slice() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a consistency proof between `old_size` and `new_size` (RFC 9162
/// 2.1.4.2). Rejects proofs from size 0 and proofs with trailing components.
pub fn verify_consistency<C: AsRef<[u8]>>(
    old_size: u64,
    new_size: u64,
    proof: &[C],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::InvalidRequest(
            "a consistency proof from size 0 proves nothing",
        ));
    }
    if old_size > new_size {
        return Err(ProofError::InvalidRequest(
            "old size is larger than new size",
        ));
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let components = proof
        .iter()
        .map(|c| as_hash(c.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    // Step 2 of 2.1.4.2: if old_size is a power of two, prepend old_root.
    let mut path: Vec<Hash> = Vec::with_capacity(components.len() + 1);
    if old_size.is_power_of_two() {
        path.push(as_hash(old_root).map_err(|_| ProofError::RootMismatch)?);
    }
    path.extend(components);
    if path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    if fn_ & 1 == 1 {
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr.as_slice() == old_root && sr.as_slice() == new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Every hash of every complete, aligned subtree of a growing tree, level
/// by level: `levels[l][i]` is MTH(D[i * 2^l : (i + 1) * 2^l]). Appending
/// costs amortised O(1) hashes; the root and any subtree root cost
/// O(log n), so proofs cost O(log^2 n). Memory is about 64 bytes per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeHashes {
    levels: Vec<Vec<Hash>>,
}

impl TreeHashes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn tree_size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    pub fn push(&mut self, leaf_hash: Hash) {
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if !nodes.len().is_multiple_of(2) {
                return;
            }
            hash = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// The root of the tree of all leaves pushed so far.
    pub fn root(&self) -> Hash {
        root(self, self.tree_size())
    }

    /// The hashes of complete subtrees of `2^level` leaves, left to right.
    pub fn level(&self, level: usize) -> &[Hash] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }
}

impl TreeHashes {
    /// The frontier of the tree's first `size` leaves (`size <= tree_size`).
    pub fn frontier(&self, size: u64) -> Frontier {
        debug_assert!(size <= self.tree_size());
        let hashes = (0..u64::BITS as usize)
            .rev()
            .filter(|level| size >> level & 1 == 1)
            .map(|level| self.levels[level][((size >> level) - 1) as usize])
            .collect();
        Frontier { size, hashes }
    }
}

/// The right edge of a tree: the roots of its complete aligned subtrees,
/// largest first (one per bit set in its size). Enough to append leaves
/// and compute the root in O(log n) memory, so a log can be reopened from
/// a saved frontier without reading its leaves; proofs about earlier
/// leaves need the interior hashes ([`TreeHashes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its size and hashes, largest subtree first; `None`
    /// when the count is not the number of bits set in the size.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Frontier> {
        (hashes.len() == size.count_ones() as usize).then_some(Frontier { size, hashes })
    }

    pub fn tree_size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The hashes as one byte string, 32 bytes each, largest subtree first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// The frontier of a tree of `size` leaves from [`Self::to_bytes`];
    /// `None` unless the bytes are one hash per bit set in the size.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Frontier> {
        if !bytes.len().is_multiple_of(32) {
            return None;
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|hash| hash.try_into().expect("32 bytes"))
            .collect();
        Frontier::from_parts(size, hashes)
    }

    pub fn push(&mut self, leaf_hash: Hash) {
        let mut hash = leaf_hash;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.hashes.pop().expect("one hash per bit set in the size");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// MTH of the whole tree: each subtree is the left neighbour of the
    /// (smaller) rest, as RFC 9162 2.1.1 splits at the largest power of two.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.hashes.iter().rev();
        let Some(smallest) = subtrees.next() else {
            return EMPTY_ROOT;
        };
        subtrees.fold(*smallest, |right, left| node_hash(left, &right))
    }
}

impl HashSource for TreeHashes {
    fn leaf(&self, index: u64) -> Hash {
        self.levels[0][index as usize]
    }

    fn subtree_root(&self, start: u64, end: u64) -> Hash {
        let width = end - start;
        if width.is_power_of_two() && start.is_multiple_of(width) {
            return self.levels[width.trailing_zeros() as usize][(start / width) as usize];
        }
        let split = start + largest_power_of_two_below(width);
        node_hash(
            &self.subtree_root(start, split),
            &self.subtree_root(split, end),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let expected: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, expected);
        assert_eq!(root(&Vec::<Hash>::new(), 0), EMPTY_ROOT);
        assert_eq!(TreeHashes::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(1 << 40), 1 << 39);
    }
}

//! Published vectors (transparency-dev/merkle testdata, C2SP examples) and
//! property tests. The vectors are read from ../shared, never copied.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use serde::Deserialize;
use tlog::merkle::{self, Hash};
use tlog::{Checkpoint, Frontier, KeyType, Note, NoteError, SignerKey, TreeHashes, VerifierKey};

/// The shared test data (`../shared` beside the project): `TRUCE_SHARED`
/// if set, else the first `shared/` beside the project or one of its
/// ancestors, so a clone anywhere next to it finds the vectors.
fn shared() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRUCE_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared"))
        .find(|candidate| candidate.join("vectors/merkle").is_dir())
        .expect("the shared test vectors (../shared beside the project, or TRUCE_SHARED)")
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(vector_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn b64(text: &str) -> Vec<u8> {
    BASE64.decode(text).expect("vector is base64")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[test]
fn inclusion_vectors_accept_exactly_the_valid_proofs() {
    let files = vector_files(&shared().join("vectors/merkle/inclusion"));
    assert!(files.len() > 40, "expected the published inclusion vectors");
    for file in files {
        let v: InclusionVector = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let result = merkle::verify_inclusion(
            v.leaf_idx,
            v.tree_size,
            &b64(&v.leaf_hash),
            &proof,
            &b64(&v.root),
        );
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{}: {result:?}",
            file.display()
        );
    }
}

#[test]
fn consistency_vectors_accept_exactly_the_valid_proofs() {
    let files = vector_files(&shared().join("vectors/merkle/consistency"));
    assert!(
        files.len() > 60,
        "expected the published consistency vectors"
    );
    for file in files {
        let v: ConsistencyVector = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let result =
            merkle::verify_consistency(v.size1, v.size2, &proof, &b64(&v.root1), &b64(&v.root2));
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{}: {result:?}",
            file.display()
        );
    }
}

#[derive(Deserialize)]
struct LeavesAndRoots {
    leaf_inputs_hex: Vec<String>,
    root_hashes_hex_by_tree_size: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn roots_of_every_size_match_the_reference_tree() {
    let path = shared().join("vectors/merkle/leaves-and-roots.json");
    let v: LeavesAndRoots = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let leaves: Vec<Hash> = v
        .leaf_inputs_hex
        .iter()
        .map(|h| merkle::leaf_hash(&unhex(h)))
        .collect();
    let mut tree = TreeHashes::new();
    let mut frontier = Frontier::new();
    for (size, want) in v.root_hashes_hex_by_tree_size.iter().enumerate() {
        assert_eq!(
            hex(&merkle::root(&leaves, size as u64)),
            *want,
            "size {size}"
        );
        assert_eq!(hex(&tree.root()), *want, "tree hashes at size {size}");
        assert_eq!(hex(&frontier.root()), *want, "frontier at size {size}");
        assert_eq!(tree.frontier(size as u64), frontier, "size {size}");
        if size < leaves.len() {
            tree.push(leaves[size]);
            frontier.push(leaves[size]);
        }
    }
}

#[test]
fn a_consistency_proof_from_size_zero_is_rejected() {
    let leaves: Vec<Hash> = (0u8..4).map(|i| merkle::leaf_hash(&[i])).collect();
    assert!(merkle::consistency_proof(&leaves, 0, 4).is_err());
    let root = merkle::root(&leaves, 4);
    assert!(merkle::verify_consistency::<Hash>(0, 4, &[], &merkle::EMPTY_ROOT, &root).is_err());
}

#[test]
fn proofs_with_trailing_components_are_rejected() {
    let leaves: Vec<Hash> = (0u8..7).map(|i| merkle::leaf_hash(&[i])).collect();
    let root = merkle::root(&leaves, 7);
    let mut inclusion = merkle::inclusion_proof(&leaves, 2, 7).unwrap();
    merkle::verify_inclusion(2, 7, &leaves[2], &inclusion, &root).unwrap();
    inclusion.push([0; 32]);
    assert!(merkle::verify_inclusion(2, 7, &leaves[2], &inclusion, &root).is_err());

    let old_root = merkle::root(&leaves, 3);
    let mut consistency = merkle::consistency_proof(&leaves, 3, 7).unwrap();
    merkle::verify_consistency(3, 7, &consistency, &old_root, &root).unwrap();
    consistency.push([0; 32]);
    assert!(merkle::verify_consistency(3, 7, &consistency, &old_root, &root).is_err());
}

fn flip_bit(proof: &[Hash], bit: usize) -> Vec<Hash> {
    let mut mangled = proof.to_vec();
    mangled[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
    mangled
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A log reopened from the frontier saved at some size, then extended,
    /// has the root of the whole tree at every size after it.
    #[test]
    fn a_frontier_taken_at_any_size_extends_to_the_roots_of_the_tree(
        tree_size in 1u64..=3000,
        saved_fraction in 0.0f64..1.0,
    ) {
        let leaves: Vec<Hash> = (0..tree_size).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
        let mut tree = TreeHashes::new();
        leaves.iter().for_each(|leaf| tree.push(*leaf));
        let saved_at = (tree_size as f64 * saved_fraction) as u64;
        let saved = tree.frontier(saved_at);
        prop_assert_eq!(saved.hashes().len(), saved_at.count_ones() as usize);
        let mut reopened = Frontier::from_bytes(saved_at, &saved.to_bytes()).unwrap();
        prop_assert_eq!(&reopened, &saved);
        let one_too_many = [saved.hashes(), &[[0; 32]]].concat();
        prop_assert!(Frontier::from_parts(saved_at, one_too_many).is_none());
        for (size, leaf) in (saved_at..tree_size).zip(&leaves[saved_at as usize..]) {
            prop_assert_eq!(reopened.root(), merkle::root(&leaves, size));
            reopened.push(*leaf);
        }
        prop_assert_eq!(reopened.root(), tree.root());
        prop_assert_eq!(reopened, tree.frontier(tree_size));
    }

    #[test]
    fn generated_proofs_verify_and_any_flipped_bit_fails(
        tree_size in 1u64..=4096,
        old_fraction in 0.0f64..1.0,
        leaf_fraction in 0.0f64..1.0,
        bit_seed in any::<usize>(),
    ) {
        let leaves: Vec<Hash> = (0..tree_size).map(|i| merkle::leaf_hash(&i.to_be_bytes())).collect();
        let root = merkle::root(&leaves, tree_size);
        let mut tree = TreeHashes::new();
        leaves.iter().for_each(|leaf| tree.push(*leaf));
        prop_assert_eq!(tree.root(), root);

        let leaf_index = ((tree_size as f64 * leaf_fraction) as u64).min(tree_size - 1);
        let inclusion = merkle::inclusion_proof(&leaves, leaf_index, tree_size).unwrap();
        prop_assert_eq!(&merkle::inclusion_proof(&tree, leaf_index, tree_size).unwrap(), &inclusion);
        prop_assert!(merkle::verify_inclusion(leaf_index, tree_size, &leaves[leaf_index as usize], &inclusion, &root).is_ok());
        if !inclusion.is_empty() {
            let mangled = flip_bit(&inclusion, bit_seed % (inclusion.len() * 256));
            prop_assert!(merkle::verify_inclusion(leaf_index, tree_size, &leaves[leaf_index as usize], &mangled, &root).is_err());
        }
        let mut wrong_leaf = leaves[leaf_index as usize];
        wrong_leaf[bit_seed % 32] ^= 1;
        prop_assert!(merkle::verify_inclusion(leaf_index, tree_size, &wrong_leaf, &inclusion, &root).is_err());

        let old_size = 1 + ((tree_size - 1) as f64 * old_fraction) as u64;
        let old_root = merkle::root(&leaves, old_size);
        let consistency = merkle::consistency_proof(&leaves, old_size, tree_size).unwrap();
        prop_assert_eq!(&merkle::consistency_proof(&tree, old_size, tree_size).unwrap(), &consistency);
        prop_assert_eq!(merkle::root(&tree, old_size), old_root);
        prop_assert!(merkle::verify_consistency(old_size, tree_size, &consistency, &old_root, &root).is_ok());
        if !consistency.is_empty() {
            let mangled = flip_bit(&consistency, bit_seed % (consistency.len() * 256));
            prop_assert!(merkle::verify_consistency(old_size, tree_size, &mangled, &old_root, &root).is_err());
        }
        let mut wrong_old_root = old_root;
        wrong_old_root[bit_seed % 32] ^= 0x80;
        prop_assert!(merkle::verify_consistency(old_size, tree_size, &consistency, &wrong_old_root, &root).is_err());
    }
}

/// The example note and verifier key of C2SP signed-note, read from the spec.
fn signed_note_example() -> (VerifierKey, Vec<u8>) {
    let spec = std::fs::read_to_string(shared().join("specs/c2sp/signed-note.md")).unwrap();
    let vkey_line = spec
        .lines()
        .find(|l| l.trim_start().starts_with("example.com/foo+"))
        .expect("the spec's example verifier key");
    let vkey: VerifierKey = vkey_line.trim().parse().unwrap();
    let start = spec.find("This is an example message.").unwrap();
    let end = start + spec[start..].find("```").unwrap();
    (vkey, spec.as_bytes()[start..end].to_vec())
}

#[test]
fn the_signed_note_spec_example_verifies() {
    let (vkey, note_bytes) = signed_note_example();
    assert_eq!(
        vkey.to_string(),
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    );
    let note = Note::parse(&note_bytes).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.verify(std::slice::from_ref(&vkey)).unwrap().len(), 1);
    assert_eq!(note.to_bytes(), note_bytes);
}

#[test]
fn every_mangled_byte_of_the_spec_note_fails() {
    let (vkey, note_bytes) = signed_note_example();
    for i in 0..note_bytes.len() {
        let mut mangled = note_bytes.clone();
        mangled[i] ^= 0x01;
        let accepted =
            Note::parse(&mangled).and_then(|n| n.verify(std::slice::from_ref(&vkey)).map(|_| ()));
        assert!(accepted.is_err(), "byte {i} mangled was accepted");
    }
    for len in 0..note_bytes.len() {
        let accepted = Note::parse(&note_bytes[..len])
            .and_then(|n| n.verify(std::slice::from_ref(&vkey)).map(|_| ()));
        assert!(accepted.is_err(), "prefix of {len} bytes was accepted");
    }
}

#[test]
fn unknown_keys_are_ignored_and_a_bad_known_signature_rejects() {
    let log = SignerKey::generate("example.org/log", KeyType::Ed25519).unwrap();
    let other = SignerKey::generate("example.org/other", KeyType::Ed25519).unwrap();
    let text = Checkpoint::new("example.org/log", 5, [7; 32]).to_text();
    let note = Note {
        text: text.clone(),
        signatures: vec![
            other.sign_note(&text).unwrap(),
            log.sign_note(&text).unwrap(),
        ],
    };
    let parsed = Note::parse(&note.to_bytes()).unwrap();
    assert_eq!(parsed.verify(&[log.verifier()]).unwrap().len(), 1);
    assert_eq!(parsed.verify(&[other.verifier()]).unwrap().len(), 1);
    let third = SignerKey::generate("example.org/third", KeyType::Ed25519).unwrap();
    assert_eq!(
        parsed.verify(&[third.verifier()]),
        Err(NoteError::NoKnownSignature)
    );

    let mut forged = parsed.clone();
    forged.signatures[1].signature[0] ^= 1;
    assert!(matches!(
        forged.verify(&[log.verifier()]),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn cosignatures_sign_the_checkpoint_with_a_timestamp() {
    let log = SignerKey::generate("example.org/log", KeyType::Ed25519).unwrap();
    let witness = SignerKey::generate("witness.example/w1", KeyType::Cosignature).unwrap();
    let text = Checkpoint::new("example.org/log", 20852163, [1; 32]).to_text();
    let cosignature = witness.cosign(&text, 1679315147).unwrap();
    assert_eq!(cosignature.signature.len(), 72);
    assert_eq!(&cosignature.signature[..8], &1679315147u64.to_be_bytes());
    let note = Note {
        text: text.clone(),
        signatures: vec![log.sign_note(&text).unwrap(), cosignature],
    };
    let known = [log.verifier(), witness.verifier()];
    let parsed = Note::parse(&note.to_bytes()).unwrap();
    let verified = parsed.verify(&known).unwrap();
    assert_eq!(verified[1].1, Some(1679315147));
    // The key ID commits to the type byte: a cosigner key is not a note key.
    assert_ne!(
        witness.verifier().key_id(),
        tlog::note::key_id(
            "witness.example/w1",
            KeyType::Ed25519,
            witness.verifier().public_key().as_bytes()
        )
    );
    // The timestamp is signed: changing it breaks the cosignature.
    let mut moved = parsed.clone();
    moved.signatures[1].signature[7] ^= 1;
    assert!(moved.verify(&known).is_err());
    // A cosigner key cannot make a plain note signature.
    assert!(witness.sign_note(&text).is_err());
}

#[test]
fn checkpoints_round_trip_and_reject_non_canonical_text() {
    let checkpoint = Checkpoint::new("example.com/behind-the-sofa", 20852163, [3; 32]);
    assert_eq!(
        Checkpoint::parse(&checkpoint.to_text()).unwrap(),
        checkpoint
    );
    let spec =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(Checkpoint::parse(spec).unwrap().tree_size, 20852163);
    for bad in [
        "example.com/x\n020\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "example.com/x\n20\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2\n",
        "\n20\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "example.com/x\n20\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "example.com/x\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "example.com/x\n20\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn keys_round_trip_through_their_text_forms() {
    // Base64 key material often holds '+', the separator of the text form.
    for _ in 0..64 {
        let key = SignerKey::generate("truce.example/log", KeyType::Ed25519).unwrap();
        assert_eq!(
            key.verifier().to_string().parse::<VerifierKey>().unwrap(),
            key.verifier()
        );
        assert_eq!(
            SignerKey::from_private_text(&key.to_private_text())
                .unwrap()
                .verifier(),
            key.verifier()
        );
    }
    let signer = SignerKey::generate("truce.example/log", KeyType::Ed25519).unwrap();
    let again = SignerKey::from_private_text(&signer.to_private_text()).unwrap();
    assert_eq!(again.verifier(), signer.verifier());
    let vkey: VerifierKey = signer.verifier().to_string().parse().unwrap();
    assert_eq!(vkey, signer.verifier());
    assert!(!format!("{signer:?}").contains(&signer.to_private_text()[12..]));
    let text = signer.verifier().to_string();
    let wrong_id = format!(
        "{}+00000000+{}",
        vkey.name(),
        text.rsplit('+').next().unwrap()
    );
    assert!(wrong_id.parse::<VerifierKey>().is_err());
    assert!("bad name+00000000+AA==".parse::<VerifierKey>().is_err());
}

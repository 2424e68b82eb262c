// truce dashboard: checks an entry's inclusion proof in the browser, so a
// reader need not trust the server's word that a figure is on the log.
// RFC 9162 section 2.1.3.2 for the proof, C2SP signed-note for the
// checkpoint signature (Ed25519, where the browser's WebCrypto has it).
"use strict";

const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function rootFromProof(index, size, leafHash, proof) {
  if (index >= size) return null;
  let fn = index, sn = size - 1, r = leafHash;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat([1], p, r));
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(concat([1], r, p));
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// The checkpoint's signature by the log key `vkey` (name+hexid+base64 key).
async function checkpointSigned(note, vkey) {
  // name+hexid+base64: the base64 may itself hold '+'.
  const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, first);
  const key = b64(vkey.slice(second + 1));
  if (key[0] !== 1) return false;
  const split = note.indexOf("\n\n");
  const text = new TextEncoder().encode(note.slice(0, split + 1));
  for (const line of note.slice(split + 2).split("\n")) {
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m || m[1] !== name) continue;
    const sig = b64(m[2]);
    const pub = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    if (await crypto.subtle.verify({ name: "Ed25519" }, pub, sig.slice(4), text)) return true;
  }
  return false;
}

async function checkProof(el) {
  const status = document.getElementById("proof-status");
  const say = (ok, text) => { status.textContent = text; status.className = ok ? "ok" : "bad"; };
  try {
    const index = Number(el.dataset.index), size = Number(el.dataset.size);
    const proof = el.dataset.proof ? el.dataset.proof.split(",").map(b64) : [];
    const leafHash = await sha256(concat([0], b64(el.dataset.leaf)));
    const note = await (await fetch("/checkpoint", { cache: "no-store" })).text();
    const lines = note.split("\n");
    if (Number(lines[1]) !== size) {
      say(false, "The log has grown since this page was made: reload to check against the newest checkpoint.");
      return;
    }
    const root = await rootFromProof(index, size, leafHash, proof);
    if (!root || !equal(root, b64(lines[2]))) {
      say(false, "FAILED: this entry does not hash up to the checkpoint's root.");
      return;
    }
    let signed = "";
    try {
      signed = (await checkpointSigned(note, el.dataset.vkey))
        ? " The checkpoint's signature by the log key verifies too."
        : " BUT the checkpoint's signature by the log key does NOT verify.";
    } catch (e) {
      signed = " (This browser cannot check Ed25519 signatures; check the checkpoint with truce verify.)";
    }
    say(!signed.includes("NOT"), `Verified in this browser: entry ${index} hashes up to the root of checkpoint ${size}.${signed}`);
  } catch (e) {
    say(false, "Could not check the proof: " + e.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("proof");
  if (el) checkProof(el);
});

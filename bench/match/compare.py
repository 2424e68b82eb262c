"""Runs truce-match and Splink on the three benchmark sets REPEAT times,
each under /usr/bin/time, and prints a Markdown table of medians.
Called by run.sh; expects the data under bench/out/."""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 3
OUT = Path("bench/out")
PY = str(OUT / "venv/bin/python")
TRUCE = "target/release/examples/match_lists"
SETS = [
    ("FEBRL4 5,000 x 5,000 (no SSN)", "febrl4", "febrl", ["--config", "bench/match/febrl.toml"]),
    ("Cross-script 20,000 people (raw)", "cross", "cross", []),
    ("FEBRL-like 100,000 x 100,000", "febrl100k", "febrl", ["--config", "bench/match/febrl.toml"]),
]


def timed(command):
    """Wall seconds and peak resident memory (MB) of one run."""
    result = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    line = [l for l in result.stderr.splitlines() if l.startswith("TIME ")][-1]
    _, seconds, kilobytes = line.split()
    return float(seconds), int(kilobytes) / 1024


def evaluate(folder, links):
    result = subprocess.run([PY, "bench/match/evaluate.py", str(folder / "truth.csv"), str(links)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def measure(command, folder, links):
    runs = [timed(command) for _ in range(REPEAT)]
    quality = evaluate(folder, links)
    return quality, statistics.median(r[0] for r in runs), max(r[1] for r in runs)


load_before = os.getloadavg()[0]
rows = []
for title, name, layout, options in SETS:
    folder = OUT / name
    print(f"-- {title}", file=sys.stderr)
    truce_links = folder / "truce.csv"
    truce = measure([TRUCE, str(folder / "left.csv"), str(folder / "right.csv"), "-q", "-o", str(truce_links)] + options,
                    folder, truce_links)
    splink_links = folder / "splink.csv"
    splink = measure([PY, "bench/match/splink_run.py", layout, str(folder / "left.csv"), str(folder / "right.csv"),
                      str(splink_links)], folder, splink_links)
    rows.append((title, truce, splink))

# Splink after expert preprocessing of the cross-script set (transliteration,
# skeleton, dictionary), for reference.
folder = OUT / "cross"
print("-- Cross-script, Splink after expert preprocessing", file=sys.stderr)
expert_links = folder / "splink-expert.csv"
expert = measure([PY, "bench/match/splink_run.py", "cross-expert", str(folder / "left.csv"),
                  str(folder / "right.csv"), str(expert_links)], folder, expert_links)

print(f"Medians of {REPEAT} runs; memory is the largest peak RSS. "
      f"Load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs.\n")
print("| set | tool | precision | recall | F1 | wall s | peak MB |")
print("|---|---|---|---|---|---|---|")
for title, truce, splink in rows:
    for tool, (q, seconds, mb) in [("truce", truce), ("Splink", splink)]:
        print(f"| {title} | {tool} | {q['precision']:.4f} | {q['recall']:.4f} | {q['f1']:.4f} | {seconds:.2f} | {mb:.0f} |")
q, seconds, mb = expert
print(f"| Cross-script 20,000 people | Splink, expert preprocessing | {q['precision']:.4f} | {q['recall']:.4f} "
      f"| {q['f1']:.4f} | {seconds:.2f} | {mb:.0f} |")
print("\n| set | F1 truce - Splink | speed-up (Splink time / truce time) | memory ratio (Splink / truce) |")
print("|---|---|---|---|")
for title, truce, splink in rows:
    print(f"| {title} | {truce[0]['f1'] - splink[0]['f1']:+.4f} | {splink[1] / truce[1]:.1f}x | {splink[2] / truce[2]:.1f}x |")

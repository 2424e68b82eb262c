"""Runs Splink (DuckDB backend) on one benchmark set and writes its links.

Usage: splink_run.py DATASET LEFT.csv RIGHT.csv LINKS.csv
DATASET is febrl (FEBRL4 layout), cross (truce layout, raw) or cross-expert
(truce layout after expert preprocessing, see `expert_preprocessing`).

Configuration: Splink's documented defaults for the comparisons (NameComparison
= exact / Jaro-Winkler 0.92, 0.88, 0.70; DateOfBirthComparison or
Levenshtein on the date), u by random sampling, m by EM over two blocking
rules, links at match probability >= 0.5 (Splink's usual cut; Splink has no
one-to-one step).

Preprocessing given to Splink: names lower-cased and trimmed; for the cross
set, dates parsed from their written format (dd.mm.yyyy, yyyy-mm-dd, d/m/yyyy,
yyyy) to ISO yyyy-mm-dd strings without correcting any error. No
transliteration, no name dictionary: this is the raw comparison. The
cross-expert variant adds what an expert would do before Splink: exact
transliteration, a spelling skeleton and a Ukrainian-Russian-English
dictionary of given names, patronymics and places; the dictionary is the
generator's own (every name in the data is in it), which favours Splink.
"""
import re
import sys
import time
from pathlib import Path

import pandas as pd
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
import splink.comparison_library as cl

dataset, left_path, right_path, links_path = sys.argv[1:5]
started = time.time()
left = pd.read_csv(left_path, dtype=str, keep_default_na=False)
right = pd.read_csv(right_path, dtype=str, keep_default_na=False)


def iso(text):
    text = text.strip()
    m = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", text)
    if m:
        return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return text
    return None


def expert_preprocessing(frame):
    """Latin transliteration, spelling skeleton, dictionary of names and
    places built from the generator's tables."""
    sys.path.insert(0, str(Path(__file__).parent))
    import gen_crossscript as gen

    def skeleton(text):
        if not text:
            return None
        text = gen.translit(text, "icao").lower()
        for a, b in [("shch", "Q"), ("sch", "Q"), ("zh", "Z"), ("ch", "C"), ("sh", "S"), ("kh", "g"),
                     ("gh", "g"), ("ts", "T"), ("tc", "T"), ("tz", "T"), ("x", "ks"), ("w", "v"), ("h", "g"),
                     ("y", "i"), ("j", "i"), ("e", "i"), ("'", ""), ("-", ""), (" ", "")]:
            text = text.replace(a, b)
        out = []
        for ch in text:
            if not out or out[-1] != ch:
                out.append(ch)
        return "".join(out)

    given, patronymic, place = {}, {}, {}
    for row in gen.MALE:
        for form in row[:3]:
            given[skeleton(form)] = row[2]
        for form in row[3:]:
            patronymic[skeleton(form)] = row[2]
            patronymic[skeleton(gen.translit(form, "kmu"))] = row[2]
            for system in ("tc", "y"):
                patronymic[skeleton(gen.translit(form, system))] = row[2]
    for row in gen.FEMALE:
        for form in row:
            given[skeleton(form)] = row[2]
    for row in gen.PLACES:
        for form in row:
            place[skeleton(form)] = row[2]
    for column in ("family_name", "given_name", "patronymic", "place_of_birth"):
        frame[column] = frame[column].map(lambda t: skeleton(t) if isinstance(t, str) else None)
    frame["given_name"] = frame["given_name"].map(lambda t: given.get(t, t))
    frame["patronymic"] = frame["patronymic"].map(lambda t: patronymic.get(t, t))
    frame["place_of_birth"] = frame["place_of_birth"].map(lambda t: place.get(t, t))


id_col = "rec_id" if dataset == "febrl" else "id"
for frame in (left, right):
    for column in frame.columns:
        if column == id_col:
            continue
        frame[column] = frame[column].str.strip().str.lower().replace("", None)

if dataset.startswith("cross"):
    for frame in (left, right):
        if dataset == "cross-expert":
            expert_preprocessing(frame)
        frame["date_of_birth"] = frame["date_of_birth"].map(lambda t: iso(t) if t else None)
        frame["year"] = frame["date_of_birth"].str.slice(0, 4)
    comparisons = [
        cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("patronymic"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        cl.ExactMatch("place_of_birth"),
    ]
    blocking = [
        block_on("family_name"),
        block_on("given_name", "year"),
        block_on("date_of_birth"),
        block_on("patronymic", "year"),
    ]
    em_rules = [block_on("date_of_birth"), block_on("family_name")]
    deterministic = [block_on("family_name", "given_name", "date_of_birth")]
else:
    for frame in (left, right):
        frame["year"] = frame["date_of_birth"].str.slice(0, 4)
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("postcode", [1]),
        cl.ExactMatch("state"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.ExactMatch("street_number"),
    ]
    blocking = [
        block_on("given_name", "surname"),
        block_on("surname", "year"),
        block_on("given_name", "year"),
        block_on("date_of_birth"),
        block_on("postcode", "street_number"),
    ]
    em_rules = [block_on("date_of_birth"), block_on("given_name", "surname")]
    deterministic = [block_on("given_name", "surname", "date_of_birth")]

settings = SettingsCreator(
    link_type="link_only",
    unique_id_column_name=id_col,
    comparisons=comparisons,
    blocking_rules_to_generate_predictions=blocking,
    retain_intermediate_calculation_columns=False,
)
db = DuckDBAPI()
left_table = db.register(left, dataset_display_name="left_list")
right_table = db.register(right, dataset_display_name="right_list")
linker = Linker([left_table, right_table], settings, log_level=40)
linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
for rule in em_rules:
    linker.training.estimate_parameters_using_expectation_maximisation(rule)
predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
rows = []
for _, p in predictions.iterrows():
    if p["source_dataset_l"] == "left_list":
        rows.append((p[f"{id_col}_l"], p[f"{id_col}_r"], p["match_probability"]))
    else:
        rows.append((p[f"{id_col}_r"], p[f"{id_col}_l"], p["match_probability"]))
pd.DataFrame(rows, columns=["left_id", "right_id", "score"]).to_csv(links_path, index=False)
print(f"splink: {len(rows)} links in {time.time() - started:.1f}s", file=sys.stderr)

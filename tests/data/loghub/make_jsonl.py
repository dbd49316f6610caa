#!/usr/bin/env python3
"""Turns loghub's structured CSVs (../shared/data/loghub) into JSON lines.

Each row becomes one object with lower-cased column names; LineId becomes the
integer `line`. Run from this directory:
    python3 make_jsonl.py ../../../../shared/data/loghub
"""
import csv, json, sys, pathlib

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../../../../shared/data/loghub")
for name in ["Apache", "HDFS", "Linux"]:
    with open(src / f"{name}_2k.log_structured.csv", newline="", encoding="utf-8") as f, \
         open(f"{name.lower()}.jsonl", "w", encoding="utf-8") as out:
        for row in csv.DictReader(f):
            obj = {("line" if k == "LineId" else k.lower()): v for k, v in row.items()}
            obj["line"] = int(obj["line"])
            out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

"""Apply adjudicated labels to a split file in place: python labels/tools/apply_adjudication.py SPLIT.jsonl DECISIONS.jsonl
DECISIONS rows: {"id", "labels", "why"}; every other field of the split rows stays as it is."""
import json
import sys
from pathlib import Path

ORDER = ["industry", "relocation", "education", "health", "social_security", "supervision"]
split, decisions = Path(sys.argv[1]), Path(sys.argv[2])
decided = {d["id"]: d for d in map(json.loads, decisions.read_text(encoding="utf-8").splitlines())}
rows = [json.loads(line) for line in split.read_text(encoding="utf-8").splitlines()]
changed = 0
for row in rows:
    if row["id"] in decided:
        new = sorted(set(decided[row["id"]]["labels"]), key=ORDER.index)
        changed += new != row["labels"]
        row["labels"] = new
split.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
print(f"{changed} rows changed of {len(decided)} decisions")

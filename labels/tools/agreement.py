"""Agreement between two annotations of the same paragraphs: per-label F1 (symmetric) and Cohen's kappa.

    python labels/tools/agreement.py FIRST.jsonl SECOND.jsonl [--disagreements OUT.jsonl]
Both files hold rows with "id" and "labels"; rows are matched by id (FIRST may hold more rows).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

LABELS = [label["id"] for label in json.loads(
    (Path(__file__).resolve().parents[1] / "labels.json").read_text(encoding="utf-8"))["labels"]]


def read(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--disagreements", type=Path)
    args = parser.parse_args()
    first, second = read(args.first), read(args.second)
    ids = list(second)
    a = np.array([[l in first[i]["labels"] for l in LABELS] for i in ids], dtype=int)
    b = np.array([[l in second[i]["labels"] for l in LABELS] for i in ids], dtype=int)
    print(f"{len(ids)} paragraphs; identical label sets: {(a == b).all(axis=1).mean():.1%}")
    print("| label | first | second | F1 | kappa |\n|---|---|---|---|---|")
    for j, label in enumerate(LABELS):
        print(f"| {label} | {a[:, j].sum()} | {b[:, j].sum()} | {f1_score(a[:, j], b[:, j]):.3f} | "
              f"{cohen_kappa_score(a[:, j], b[:, j]):.3f} |")
    print(f"| micro | {a.sum()} | {b.sum()} | {f1_score(a, b, average='micro'):.3f} | |")
    print(f"| macro | | | {f1_score(a, b, average='macro'):.3f} | |")
    if args.disagreements:
        with open(args.disagreements, "w", encoding="utf-8") as out:
            for i, row_a, row_b in zip(ids, a, b):
                if (row_a != row_b).any():
                    out.write(json.dumps({"id": i, "text": first[i].get("text", ""), "first": first[i]["labels"],
                                          "second": second[i]["labels"]}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

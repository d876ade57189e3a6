"""Add a round of written documents to labels/data, split by document (about 70/15/15, spread over genres).

    python labels/tools/add_round.py DRAFTS_DIR [--seed 2027] [--no-test]

DRAFTS_DIR holds the writers' files (*.jsonl, rows {"doc", "province", "year", "genre", "text", "labels"};
the drafts are not kept in the repository). Documents already in labels/data are left where they are. Prints
the split of each new document and writes the new test paragraphs, without labels, to DRAFTS_DIR/test_texts.jsonl
for the second, independent annotation. With --no-test the round goes to train and dev only (about 85/15),
for a round written against known mistakes whose test documents could not be annotated twice.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
ORDER = ["industry", "relocation", "education", "health", "social_security", "supervision"]
FIELDS = ("id", "doc", "text", "labels", "source", "province", "year", "genre")


def read_drafts(drafts: Path) -> list[dict]:
    rows, position = [], defaultdict(int)
    for path in sorted(drafts.glob("*.jsonl")):
        if path.name == "test_texts.jsonl":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            doc = f"written:{r['doc']}"
            rows.append({"id": f"{doc}:{position[doc]}", "doc": doc, "text": r["text"].strip(),
                         "labels": sorted(set(r["labels"]), key=ORDER.index), "source": "written",
                         "province": r["province"], "year": int(r["year"]), "genre": r["genre"]})
            position[doc] += 1
    return rows


def assign(rows: list[dict], seed: int, with_test: bool = True) -> dict[str, str]:
    """About 15% of the round's documents to each held-out split, taken in turn from each genre. Holding out at
    least one document per genre, as rounds 1-6 did, sent half of a small round to dev (round 7: 130 of 265)."""
    by_genre = defaultdict(list)
    for doc, genre in sorted({(r["doc"], r["genre"]) for r in rows}):
        by_genre[genre].append(doc)
    rng = random.Random(seed)
    for _genre, docs in sorted(by_genre.items()):
        rng.shuffle(docs)
    genres = [by_genre[g] for g in sorted(by_genre)]
    rng.shuffle(genres)
    in_turn = [doc for turn in zip_longest(*genres) for doc in turn if doc is not None]
    held = max(1, round(0.15 * len(in_turn)))
    names = ["test", "dev"] if with_test else ["dev"]
    return {doc: names[i // held] if i < held * len(names) else "train" for i, doc in enumerate(in_turn)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("drafts", type=Path)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--no-test", action="store_true", help="train and dev only")
    args = parser.parse_args()
    existing = {json.loads(line)["doc"] for s in ("train", "dev", "test")
                for line in (DATA / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()}
    rows = [r for r in read_drafts(args.drafts) if r["doc"] not in existing]
    split = assign(rows, args.seed, with_test=not args.no_test)
    for name in ("train", "dev", "test"):
        chosen = [{k: r[k] for k in FIELDS} for r in rows if split[r["doc"]] == name]
        with open(DATA / f"{name}.jsonl", "a", encoding="utf-8") as out:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen)
        print(f"{name}: +{len(chosen)} paragraphs, +{len({r['doc'] for r in chosen})} documents")
    with open(args.drafts / "test_texts.jsonl", "w", encoding="utf-8") as out:
        for r in rows:
            if split[r["doc"]] == "test":
                out.write(json.dumps({"id": r["id"], "doc": r["doc"], "text": r["text"]}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

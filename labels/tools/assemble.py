"""Assemble labels/data/{train,dev,test}.jsonl from the annotated drafts, split by document.

Run once when the corpus was built (the drafts are not kept in the repository):
    python labels/tools/assemble.py DRAFTS_DIR
DRAFTS_DIR holds batch_*.jsonl (written documents) and seed_labels.jsonl (the seed paragraphs).
"""
from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
SEED_META = {  # province, year, genre of each seed document, read off the documents
    "000_e47bcc1d85231914": ("贵州", 2017, "article"),
    "001_c2ffedcac17c1859": ("河南", 2016, "news"),
    "002_d6e33d8f1fdc3f8d": ("贵州", 2021, "news"),
    "003_580938822366238a": ("甘肃", 2017, "news"),
    "004_7bea98d680bfecd6": ("湖北", 2019, "article"),
}
SEED_SPLIT = {"000_e47bcc1d85231914": "test", "004_7bea98d680bfecd6": "test", "003_580938822366238a": "dev",
              "001_c2ffedcac17c1859": "train", "002_d6e33d8f1fdc3f8d": "train"}
FIELDS = ("id", "doc", "text", "labels", "source", "province", "year", "genre")


def seed_rows(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        stem = r["doc"].split(":", 1)[1]
        province, year, genre = SEED_META[stem]
        rows.append({"id": f"{r['doc']}:{r['paragraph']}", "doc": r["doc"], "text": r["text"], "labels": r["labels"],
                     "source": "seed", "province": province, "year": year, "genre": genre})
    return rows


def written_rows(paths: list[Path]) -> list[dict]:
    rows, position = [], defaultdict(int)
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            doc = f"written:{r['doc']}"
            rows.append({"id": f"{doc}:{position[doc]}", "doc": doc, "text": r["text"].strip(),
                         "labels": sorted(set(r["labels"]), key=LABEL_ORDER.index), "source": "written",
                         "province": r["province"], "year": int(r["year"]), "genre": r["genre"]})
            position[doc] += 1
    return rows


LABEL_ORDER = ["industry", "relocation", "education", "health", "social_security", "supervision"]


def split_documents(rows: list[dict], seed: int = 2026) -> dict[str, str]:
    """About 70/15/15 of the written documents per genre; the seeds as fixed in SEED_SPLIT."""
    by_genre = defaultdict(list)
    for doc, genre in sorted({(r["doc"], r["genre"]) for r in rows if r["source"] == "written"}):
        by_genre[genre].append(doc)
    assignment = {f"seed:{stem}": split for stem, split in SEED_SPLIT.items()}
    rng = random.Random(seed)
    for _genre, docs in sorted(by_genre.items()):
        rng.shuffle(docs)
        n_held = max(1, round(0.15 * len(docs)))
        for i, doc in enumerate(docs):
            assignment[doc] = "test" if i < n_held else "dev" if i < 2 * n_held else "train"
    return assignment


def main(drafts: Path) -> None:
    rows = seed_rows(drafts / "seed_labels.jsonl") + written_rows(sorted(drafts.glob("batch_*.jsonl")))
    for r in rows:
        r["labels"] = sorted(set(r["labels"]), key=LABEL_ORDER.index)
    assignment = split_documents(rows)
    DATA.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        chosen = [{k: r[k] for k in FIELDS} for r in rows if assignment[r["doc"]] == split]
        with open(DATA / f"{split}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen)
        print(f"{split}: {len(chosen)} paragraphs, {len({r['doc'] for r in chosen})} documents")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

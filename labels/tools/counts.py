"""Print the corpus tables of labels/README.md (paragraphs, documents and labels per split; genres; shape).

    python labels/tools/counts.py
"""
from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
ORDER = ["industry", "relocation", "education", "health", "social_security", "supervision"]


def read(split: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def split_row(name: str, rows: list[dict]) -> str:
    labels = Counter(label for r in rows for label in r["labels"])
    none = sum(1 for r in rows if not r["labels"])
    multi = sum(1 for r in rows if len(r["labels"]) > 1)
    cells = [name, len(rows), len({r["doc"] for r in rows}), sum(r["source"] == "seed" for r in rows),
             *(labels[label] for label in ORDER), f"{none} ({none / len(rows):.0%})", f"{multi} ({multi / len(rows):.0%})"]
    return "| " + " | ".join(map(str, cells)) + " |"


def main() -> None:
    splits = {name: read(name) for name in ("train", "dev", "test")}
    everything = [r for rows in splits.values() for r in rows]
    print("| split | paragraphs | documents | seed paragraphs | " + " | ".join(ORDER) + " | no label | 2+ labels |")
    print("|" + "---|" * (6 + len(ORDER)))
    for name, rows in splits.items():
        print(split_row(name, rows))
    print(split_row("**all**", everything))
    genres = Counter(r["genre"] for r in everything)
    print("\nGenres (paragraphs): " + ", ".join(f"{g} {n}" for g, n in genres.most_common()))
    test_genres = Counter(genre for _doc, genre in {(r["doc"], r["genre"]) for r in splits["test"]})
    print("Test-split genres (documents): " + ", ".join(f"{g} {n}" for g, n in test_genres.most_common()))
    years = Counter(r["year"] for r in everything)
    print(f"Provinces: {len({r['province'] for r in everything})}; years {min(years)}–{max(years)}")
    lengths = [len(r["text"]) for r in everything]
    print(f"Length (characters): median {statistics.median(lengths):.0f}, under 60: "
          f"{sum(n < 60 for n in lengths) / len(lengths):.0%}, 500 or more: {sum(n >= 500 for n in lengths)}")


if __name__ == "__main__":
    main()

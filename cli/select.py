"""`policy-tagger select`: the unlabelled paragraphs most worth annotating next (active learning)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from policy_tagger.cli.label import KNOBS, model_dir
from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.errors import UsageError

SCORE_CHUNK = 256  # paragraphs scored between progress-bar updates


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="pick the unlabelled paragraphs most worth annotating")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="the inputs `label` takes: documents, rows, folders")
    p.add_argument("--n", type=int, required=True, help="how many paragraphs to pick")
    p.add_argument("--out", type=Path, help="picks as JSONL (default: stdout)")
    p.add_argument("--strategy", choices=("uncertainty", "diverse", "random"), default="uncertainty",
                   help="uncertainty: closest to a threshold first; diverse: the same without near-duplicates "
                        "(needs the annotate extra); random (default: uncertainty)")
    p.add_argument("--seed", type=int, default=13, help="random seed of --strategy random (default: 13)")
    p.add_argument("--known", type=Path, action="append", default=[], metavar="ROWS.jsonl",
                   help="labelled rows to skip besides labels/data (repeatable), e.g. what you annotated before")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def labelled_files(extra: list[Path]) -> list[Path]:
    from policy_tagger.service.paths import DATA_DIR

    corpus = sorted(DATA_DIR.glob("*.jsonl")) if DATA_DIR else []
    return [*corpus, *extra]


def score(tagger: Any, texts: list[str], quiet: bool) -> Any:
    import numpy as np
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(texts), desc="scoring", unit="para", file=sys.stderr, disable=quiet) as progress:
        for start in range(0, len(texts), SCORE_CHUNK):
            parts.append(tagger.probabilities(texts[start:start + SCORE_CHUNK]))
            progress.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, len(tagger.label_ids)))


def run(args: argparse.Namespace) -> None:
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.service.readers import read_rows
    from policy_tagger.service.selection import Scored, known_texts, select
    from policy_tagger.service.writers import write_jsonl, write_jsonl_file

    if args.n < 1:
        raise UsageError(f"--n must be at least 1, got {args.n}")
    settings = settings_from(args, KNOBS)
    model = model_dir(settings)
    load_card(model)
    known = known_texts(labelled_files(args.known))
    rows = read_rows(args.inputs).rows
    tagger = Tagger.load(model, backend=settings.backend, batch_size=settings.batch_size, threads=settings.threads)
    scored = Scored(rows, score(tagger, [r["text"] for r in rows], args.quiet), tagger.thresholds, tagger.label_ids)
    picks = [{**pick, "model": tagger.model_tag} for pick in select(scored, args.n, args.strategy, known, args.seed)]
    if args.out:
        write_jsonl_file(picks, args.out)
    else:
        write_jsonl(picks, sys.stdout)
    short = f" (only {len(picks)} unlabelled paragraphs to choose from)" if len(picks) < args.n else ""
    print(f"policy-tagger: read {len(rows)} paragraphs, picked {len(picks)} by {args.strategy}{short}"
          + (f" -> {args.out}" if args.out else ""), file=sys.stderr)

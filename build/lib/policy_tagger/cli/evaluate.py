"""`policy-tagger evaluate`: the model and the baselines on labelled paragraphs, written up as a report."""
from __future__ import annotations

import argparse
from pathlib import Path

from policy_tagger.cli.options import add_settings_options, settings_from

KNOBS = ("model", "backend", "threads", "batch_size")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model on labelled paragraphs and write a report")
    p.add_argument("--data", type=Path, required=True, help='JSONL of {"text", "labels": [...]}')
    p.add_argument("--report", type=Path, default=Path("reports/latest"), help="report folder")
    p.add_argument("--train-data", type=Path,
                   help="training data for the TF-IDF baseline (default: the corpus's train split, if there is one)")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from policy_tagger.cli.label import model_dir
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.training.evaluate import evaluate

    settings = settings_from(args, KNOBS)
    tagger = Tagger.load(model_dir(settings), backend=settings.backend, batch_size=settings.batch_size,
                         threads=settings.threads)
    print(evaluate(tagger, args.data, args.report, train_file=args.train_data))

"""`policy-tagger info`: what a model folder holds."""
from __future__ import annotations

import argparse
import json

from policy_tagger.cli.options import add_settings_options, settings_from

KNOBS = ("model",)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model")
    add_settings_options(p, KNOBS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from policy_tagger.cli.label import model_dir
    from policy_tagger.service.modelcard import load_card

    model = model_dir(settings_from(args, KNOBS))
    card = load_card(model)
    info = {"model_dir": str(model.resolve()), "name": card.name, "version": card.version,
            "base": card.base, "labels": card.label_ids, "thresholds": card.thresholds,
            "temperatures": card.temperatures, "training_data": card.data, "evaluation": card.evaluation,
            "training": card.training}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return
    dev = card.evaluation.get("dev", {})
    print(f"{card.tag}\n  folder:     {info['model_dir']}\n  base:       {card.base}"
          f"\n  labels:     {', '.join(card.label_ids)}"
          f"\n  thresholds: {', '.join(f'{k}={v}' for k, v in card.thresholds.items())}"
          f"\n  train data: sha256 {card.data.get('train_sha256', '?')[:16]}… "
          f"({card.data.get('train_paragraphs', '?')} paragraphs)"
          f"\n  dev:        macro-F1 {dev.get('macro_f1', '?')}, micro-F1 {dev.get('micro_f1', '?')}")

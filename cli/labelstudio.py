"""`policy-tagger labelstudio export` and `import`: tasks with pre-annotations for Label Studio, and its JSON
export back to training rows for `train --add`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy_tagger.cli.label import KNOBS, model_dir
from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.errors import InputError, UsageError

CONFIG_NAME = "labeling.xml"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("labelstudio", help="Label Studio tasks out (with pre-annotations), annotations back in")
    commands = ls.add_subparsers(dest="labelstudio_command", required=True)
    ex = commands.add_parser("export", help="tag paragraphs and write them as Label Studio tasks with pre-annotations")
    ex.add_argument("inputs", nargs="+", metavar="INPUT", help="the inputs `label` takes: documents, rows, folders "
                    "(e.g. the picks of `select`)")
    ex.add_argument("--out", type=Path, required=True, help="Label Studio tasks (JSON) to import into a project")
    ex.add_argument("--config", type=Path, help=f"where to write the matching labeling config (default: "
                    f"{CONFIG_NAME} beside --out)")
    add_settings_options(ex, KNOBS)
    ex.set_defaults(func=run_export)

    im = commands.add_parser("import", help="turn a Label Studio JSON export into training rows for train --add")
    im.add_argument("export", type=Path, metavar="EXPORT.json", help="a project's export in Label Studio's JSON format")
    im.add_argument("--out", type=Path, required=True, help='{"id", "text", "labels"} rows (JSONL)')
    im.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> None:
    import json

    from policy_tagger.service.labelstudio import labeling_config, prediction, task
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.service.readers import read_rows

    settings = settings_from(args, KNOBS)
    model = model_dir(settings)
    card = load_card(model)
    config = args.config or args.out.parent / CONFIG_NAME
    if args.out.is_dir() or config.is_dir():
        raise UsageError(f"--out and --config name files, not folders ({args.out}, {config})")
    rows = read_rows(args.inputs).rows
    tagger = Tagger.load(model, backend=settings.backend, batch_size=settings.batch_size, threads=settings.threads)
    probs = tagger.probabilities([r["text"] for r in rows])
    chosen = tagger.predictions([r["text"] for r in rows], probs)
    tasks = [task(row, prediction(p.labels, row_probs, tagger.thresholds, tagger.model_tag))
             for row, p, row_probs in zip(rows, chosen, probs)]
    _write_text(args.out, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
    _write_text(config, labeling_config(card.labels))
    print(f"policy-tagger: wrote {len(tasks)} tasks -> {args.out}, labeling config -> {config}", file=sys.stderr)


def _write_text(path: Path, text: str) -> None:
    from policy_tagger.service.writers import written_whole

    with written_whole(path) as out:
        out.write(text)


def run_import(args: argparse.Namespace) -> None:
    import json

    from policy_tagger.service.labelset import load_label_set
    from policy_tagger.service.labelstudio import read_export
    from policy_tagger.service.writers import write_jsonl_file

    try:
        export = json.loads(args.export.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{args.export}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{args.export}: not a readable JSON file ({exc})") from None
    try:
        imported = read_export(export, load_label_set())
    except InputError as exc:
        raise InputError(f"{args.export}: {exc}") from None
    for conflict in imported.conflicts:
        print(f"policy-tagger: {conflict}", file=sys.stderr)
    write_jsonl_file(imported.rows, args.out)
    print(f"policy-tagger: {len(imported.rows)} annotated tasks -> {args.out} ({imported.unannotated} without an "
          f"annotation left out, {len(imported.conflicts)} with disagreeing annotations)", file=sys.stderr)

"""`policy-tagger report`: tag documents (with evidence) and write a corpus report to a folder."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy_tagger.cli.label import KNOBS, model_dir
from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.errors import InputError, UsageError

REPORT_CHUNK = 64  # rows scored between progress-bar updates


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tag documents and write an HTML report with charts, plus JSONL/CSV/JSON")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="the inputs `label` takes: documents, rows, folders")
    p.add_argument("--out", type=Path, required=True, help="folder for index.html, paragraphs.jsonl, summary.csv, "
                   "summary.json")
    p.add_argument("--by", nargs="+", metavar="FIELD", help="fields to group documents by in the heatmaps "
                   "(default: region and year, where the rows have them)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from itertools import islice

    from tqdm.auto import tqdm

    from policy_tagger.service.evidence import explain_all
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.service.readers import iter_rows
    from policy_tagger.service.report import ReportInput, cjk_font, default_by, write_report
    from policy_tagger.service.writers import output_row

    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is a file; name a folder for the report")
    settings = settings_from(args, KNOBS)
    model = model_dir(settings)
    load_card(model)
    tagger = Tagger.load(model, backend=settings.backend, batch_size=settings.batch_size, threads=settings.threads)

    def on_skip(bad: object) -> None:  # iter_rows calls it only with skip_bad, which report does not use
        raise AssertionError(bad)

    rows_in = iter_rows(args.inputs, False, on_skip)
    tagged: list[dict] = []
    with tqdm(desc="tagging", unit="para", file=sys.stderr, disable=args.quiet) as progress:
        while chunk := list(islice(rows_in, REPORT_CHUNK)):
            texts = [row["text"] for row in chunk]
            predictions = tagger.tag(texts)
            evidence = explain_all(tagger, texts, [p.labels for p in predictions])
            tagged += [output_row(row, p.labels, p.scores, tagger.model_tag, tagger.label_ids, evidence=e)
                       for row, p, e in zip(chunk, predictions, evidence)]
            progress.update(len(chunk))
    if not tagged:
        raise InputError("the inputs hold no paragraphs to report on")
    by = args.by or default_by(tagged)
    missing = [name for name in by if not any(name in row for row in tagged)]
    if missing:
        raise UsageError(f"--by {' '.join(missing)}: no row has such a field; fields here: "
                         f"{', '.join(sorted({k for row in tagged for k in row} - {'text', 'scores', 'evidence'}))}")
    report_settings = {"model_dir": str(model), "backend": tagger.backend.name, "thresholds": tagger.card.thresholds,
                       "evidence": "clause occlusion (split at ，；。！？：)", "by": ", ".join(by) or "(none)",
                       "inputs": " ".join(args.inputs)}
    data = ReportInput(rows=tagged, label_ids=tagger.label_ids,
                       label_names={label.id: label.name_zh for label in tagger.card.labels},
                       model=tagger.model_tag, settings=report_settings, by=by)
    paths = write_report(data, args.out)
    if cjk_font() is None:
        print("policy-tagger: no Chinese font found, so the charts draw Chinese names as boxes; install one "
              "(Debian/Ubuntu: apt-get install fonts-noto-cjk) and run the report again", file=sys.stderr)
    print(f"policy-tagger: {len(tagged)} paragraphs in {len({r.get('doc') for r in tagged})} documents -> "
          f"{paths['index.html']}", file=sys.stderr)

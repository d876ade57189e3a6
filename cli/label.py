"""`policy-tagger label`: tag the paragraphs of documents, JSONL, CSV or stdin."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.errors import UsageError
from policy_tagger.service.settings import Settings

KNOBS = ("model", "backend", "threads", "batch_size")
LABEL_CHUNK = 256  # rows scored and written between checkpoints


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="tag paragraphs of documents, JSONL, CSV or stdin")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt/.md documents, .jsonl, .csv, or - for stdin")
    p.add_argument("--out", type=Path, help="output file: JSONL, or CSV if it ends in .csv (default: JSONL on stdout)")
    p.add_argument("--skip-bad", action="store_true", help="report malformed rows and go on instead of stopping")
    p.add_argument("--resume", action="store_true",
                   help="continue a run of the same command that was interrupted (needs --out)")
    p.add_argument("--table", action="store_true", help="also print a table per document on stderr")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def model_dir(settings: Settings) -> Path:
    from policy_tagger.service.paths import default_model_dir

    return settings.model or default_model_dir()


def run(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm

    from policy_tagger.service.batchjob import Checkpoint
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.predictor import Tagger
    from policy_tagger.service.readers import read_rows
    from policy_tagger.service.writers import output_row, write_jsonl

    settings = settings_from(args, KNOBS)
    model = model_dir(settings)
    load_card(model)  # fail fast, before reading large inputs
    if args.resume and not args.out:
        raise UsageError("--resume needs --out FILE")
    report = read_rows(args.inputs, skip_bad=args.skip_bad)
    for bad in report.skipped:
        print(f"policy-tagger: skipped {bad.reason}", file=sys.stderr)
    tagger = Tagger.load(model, backend=settings.backend, batch_size=settings.batch_size, threads=settings.threads)
    checkpoint = Checkpoint(args.out) if args.out else None
    results = checkpoint.start(report.rows, args.resume) if checkpoint else []
    if results and checkpoint:
        print(f"policy-tagger: resuming after {len(results)} rows already in {checkpoint.path}", file=sys.stderr)
    with tqdm(total=len(report.rows), initial=len(results), desc="labeling", unit="para", file=sys.stderr,
              disable=args.quiet) as progress:
        for start in range(len(results), len(report.rows), LABEL_CHUNK):
            rows = report.rows[start:start + LABEL_CHUNK]
            done = [output_row(row, pred.labels, pred.scores, tagger.model_tag)
                    for row, pred in zip(rows, tagger.tag([r["text"] for r in rows]))]
            if checkpoint:
                checkpoint.append(done)
            else:
                write_jsonl(done, sys.stdout)
            results += done
            progress.update(len(rows))
    if checkpoint:
        checkpoint.finish(tagger.label_ids)
    if args.table:
        print_tables(results)
    print(f"policy-tagger: read {len(report.rows) + len(report.skipped)} rows, wrote {len(results)}, "
          f"skipped {len(report.skipped)}" + (f" -> {args.out}" if args.out else ""), file=sys.stderr)


def print_tables(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    by_doc: dict[str, list[dict]] = {}
    for row in results:
        by_doc.setdefault(str(row.get("doc", "(rows)")), []).append(row)
    for doc, rows in by_doc.items():
        table = Table(title=doc, show_lines=False)
        for column in ("#", "section", "labels", "text"):
            table.add_column(column, overflow="fold", max_width=60 if column == "text" else 24)
        for row in rows:
            text = row["text"]
            table.add_row(str(row.get("paragraph", row["id"])), str(row.get("section") or "")[:24],
                          ", ".join(row["labels"]) or "—", text[:40] + ("…" if len(text) > 40 else ""))
        console.print(table)

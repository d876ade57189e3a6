"""`policy-tagger label`: tag the paragraphs of documents, JSONL, CSV or stdin."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.errors import InputError, UsageError
from policy_tagger.service.settings import Settings

KNOBS = ("model", "backend", "threads", "batch_size")
LABEL_CHUNK = 256  # rows scored and written between checkpoints


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="tag paragraphs of documents, JSONL, CSV or stdin")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=".txt/.md/.docx/.pdf/.html documents, .jsonl, .csv, .xlsx, .parquet, a folder of them, or - for stdin")
    p.add_argument("--out", type=Path, help="output file: JSONL, or CSV / Parquet if it ends in .csv / .parquet (default: JSONL on stdout)")
    p.add_argument("--skip-bad", action="store_true", help="report malformed rows and go on instead of stopping")
    p.add_argument("--resume", action="store_true",
                   help="continue a run of the same command that was interrupted (needs --out)")
    p.add_argument("--table", action="store_true", help="also print a table per document on stderr")
    p.add_argument("--evidence", action="store_true",
                   help="add 'evidence': per predicted label, the clauses that carry it (clause occlusion)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a pool of Ray actors, --out names a folder of parts")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="with --engine ray: join this Ray cluster ('auto' inside `ray job submit`); default: a "
                        "local Ray on this machine")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --engine ray: actors, one CPU each (default: the cores here, or the cluster's CPUs)")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def model_dir(settings: Settings) -> Path:
    from policy_tagger.service.paths import default_model_dir

    return settings.model or default_model_dir()


def run(args: argparse.Namespace) -> None:
    from contextlib import nullcontext

    from policy_tagger.service.batchjob import OutputFile
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.predictor import Tagger

    settings = settings_from(args, KNOBS)
    model = model_dir(settings)
    load_card(model)  # fail fast, before reading large inputs
    missing = [name for name in args.inputs if name != "-" and not Path(name).exists()]
    if missing:  # before the progress bar starts, so the message is the only output
        raise InputError(f"{missing[0]}: no such file")
    if args.engine == "ray":
        run_on_ray(args, settings, model)
        return
    if args.ray_address or args.workers:
        raise UsageError("--ray-address and --workers go with --engine ray")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out FILE")
    output = OutputFile(args.out, args.inputs) if args.out else None  # checks the path before any work
    tagger = Tagger.load(model, backend=settings.backend, batch_size=settings.batch_size, threads=settings.threads)
    with output or nullcontext():
        job = LabelRun(tagger, args, output)
        try:
            counts = job.run()
        except InputError as exc:
            if output and not args.resume and not job.counts["wrote"]:
                output.discard()  # nothing done yet: leave no trace
            elif output and job.counts["wrote"]:
                raise InputError(f"{exc} (the {job.counts['wrote']} rows before it are kept in {output.partial}: "
                                 "fix the input and run again with --resume)") from None
            raise
    print(f"policy-tagger: read {counts['read']} rows, wrote {counts['wrote']}, skipped {counts['skipped']}"
          + (f" -> {args.out}" if args.out else ""), file=sys.stderr)


def run_on_ray(args: argparse.Namespace, settings: Settings, model: Path) -> None:
    from policy_tagger.service.ray_engine import RayJob, run_job

    unsupported = [flag for flag, given in (("--resume", args.resume), ("--table", args.table),
                                            ("--evidence", args.evidence), ("--threads", settings.threads)) if given]
    if unsupported:
        raise UsageError(f"{', '.join(unsupported)} cannot be used with --engine ray (each actor uses one thread; "
                         "a failed Ray job is run again whole)")
    if not args.out:
        raise UsageError("--engine ray needs --out DIR: a new folder for the part files")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    job = RayJob(args.inputs, args.out, model, backend=settings.backend, batch_size=settings.batch_size,
                 address=args.ray_address, workers=args.workers, quiet=args.quiet)
    counts = run_job(job)
    print(f"policy-tagger: read {counts['read']} rows, wrote {counts['wrote']}, skipped {counts['skipped']} "
          f"-> {args.out}/", file=sys.stderr)


class LabelRun:
    """Reads, tags and writes in chunks of LABEL_CHUNK rows: memory stays flat however long the input is."""

    def __init__(self, tagger: Any, args: argparse.Namespace, output: Any):
        self.tagger, self.args, self.output = tagger, args, output
        self.counts = {"read": 0, "wrote": 0, "skipped": 0}
        self.table: list[dict] = []  # only with --table, which prints every row at the end

    def skip(self, bad: Any) -> None:
        self.counts["skipped"] += 1
        print(f"policy-tagger: skipped {bad.reason}", file=sys.stderr)

    def emit(self, rows: list[dict]) -> None:
        from policy_tagger.service.writers import write_jsonl

        if self.output:
            self.output.append(rows)
        else:
            write_jsonl(rows, sys.stdout)
        self.counts["wrote"] += len(rows)
        if self.args.table:
            self.table += rows

    def evidence(self, text: str, labels: list[str]) -> dict:
        from policy_tagger.service.evidence import explain

        return {"evidence": explain(self.tagger, text, labels)} if self.args.evidence else {}

    def resume(self, rows: Iterator[dict]) -> int:
        """Checks every row already in the checkpoint against the input and the model; returns how many."""
        import json

        from policy_tagger.service.batchjob import refuse_mismatch
        from policy_tagger.service.writers import output_row

        done = 0
        for done_row in self.output.done_rows():
            row = next(rows, None)
            if row is None:
                raise InputError(f"the checkpoint holds more rows than the input ({done + 1} or more); delete it "
                                 "or run without --resume")
            expected = output_row(row, done_row.get("labels"), done_row.get("scores"), self.tagger.model_tag,
                                  self.tagger.label_ids)
            refuse_mismatch(done, done_row, json.loads(json.dumps(expected, ensure_ascii=False)))
            done += 1
            if self.args.table:
                self.table.append(done_row)
        return done

    def run(self) -> dict:
        from itertools import islice

        from tqdm.auto import tqdm

        from policy_tagger.service.readers import iter_rows
        from policy_tagger.service.writers import output_row

        def counted() -> Iterator[dict]:
            for row in iter_rows(self.args.inputs, self.args.skip_bad, self.skip):
                self.counts["read"] += 1
                yield row
        rows = counted()
        if self.args.resume:
            done = self.resume(rows)
            self.counts["wrote"] = done
            if done:
                print(f"policy-tagger: resuming after {done} rows already in {self.output.partial}", file=sys.stderr)
        elif self.output:
            self.output.start_fresh()
        with tqdm(initial=self.counts["wrote"], desc="labeling", unit="para", file=sys.stderr,
                  disable=self.args.quiet) as progress:
            while chunk := list(islice(rows, LABEL_CHUNK)):
                predictions = self.tagger.tag([r["text"] for r in chunk])
                self.emit([output_row(row, p.labels, p.scores, self.tagger.model_tag, self.tagger.label_ids,
                                      **self.evidence(row["text"], p.labels))
                           for row, p in zip(chunk, predictions)])
                progress.update(len(chunk))
        if self.output:
            self.output.finish(self.tagger.label_ids)
        if self.args.table:
            print_tables(self.table)
        self.counts["read"] += self.counts["skipped"]
        return self.counts


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

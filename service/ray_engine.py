"""`label --engine ray`: the same rows as the local engine, tagged by a pool of Ray actors and written as a
folder of parts, on this machine or on a Ray cluster.

Every input becomes rows of one shape, ``{"source", "kind", "record"}``, so that files of different formats and
columns can share one dataset: ``record`` is a raw JSONL line (kind "jsonl"; parsed in the actor, so that one
malformed line is reported instead of failing the whole read, as pyarrow's JSON reader would), a row as JSON
(kind "row": CSV, Parquet, and documents segmented here on the driver), or the message of a row that could
not be read (kind "bad"). Each actor loads the model once and turns a batch of records into output rows or
error rows; a datasink writes them into ``part-NNNNN.jsonl`` (or ``.parquet``) and ``errors-NNNNN.jsonl``."""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_tagger.service.errors import InputError, UsageError

RAY_READERS = (".jsonl", ".csv", ".parquet")  # read by Ray itself, in parallel; everything else is read here
ACTOR_CPUS = 1  # one ONNX thread per actor: on 2 cores two 1-thread actors beat one 2-thread actor (batches of
# one model call do not split well over threads; see predictor.OnnxBackend)
# Ray's read and write tasks need a CPU slot of their own: with every slot held by an actor, the first read
# waited forever (seen on 2 CPUs with 2 actors). They mostly wait on files, so one slot is kept for them.
IO_CPUS = 1
BATCH_ROWS = 256  # rows per actor call, as the local engine's LABEL_CHUNK
ERRORS_SHOWN = 20  # bad rows printed on stderr; all of them are in the errors parts
RAY_MISSING = "--engine ray needs the ray extra: pip install 'policy-tagger[ray]'"


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (ray without its data extra has no ray.data dependencies)
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


@dataclass
class RayJob:
    inputs: list[str]
    out: Path
    model_dir: Path
    backend: str = "auto"
    batch_size: int = 16
    address: str | None = None
    workers: int | None = None
    quiet: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"read": 0, "wrote": 0, "skipped": 0})


# --- what the actors do ---------------------------------------------------------------------------------------

def fallback_id(source: str, record: str) -> str:
    """Ray reads lines in parallel and cannot number them, so a row without `id` gets one from its content
    (the local engine's FILE:LINE is not known here): stable across runs, equal for equal lines."""
    return f"{source}#{hashlib.sha1(record.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def decode_record(source: str, kind: str, record: str) -> dict | None:
    """The input row, as the local readers make it; None for a blank JSONL line. InputError when unreadable."""
    if kind == "bad":
        raise InputError(record)
    if kind == "jsonl":
        if not record.strip():
            return None
        try:
            row = json.loads(record)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"{source}: not valid JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None
        if not isinstance(row, dict):
            raise InputError(f"{source}: each line must be a JSON object with a 'text' field")
        return {"id": row.get("id", fallback_id(source, record)), **row}
    row = json.loads(record)
    if source.lower().endswith(".csv"):
        return {"id": row.get("id") or fallback_id(source, record), **{k: v for k, v in row.items() if k != "id"}}
    return {**row, "id": row["id"] if row.get("id") is not None else fallback_id(source, record)}


def checked(source: str, kind: str, record: str) -> dict | None:
    """The row, checked as the local engine checks it (text a non-empty string); errors name the row's id."""
    from policy_tagger.service.readers import check_row

    row = decode_record(source, kind, record)
    return None if row is None else check_row(row, f"{source}: row {row['id']}")


class TagRecords:
    """A Ray actor: loads the Tagger once, then turns batches of records into output or error rows."""

    def __init__(self, model_dir: str, backend: str, batch_size: int, threads: int):
        from policy_tagger.service.predictor import Tagger

        # Ray sets OMP_NUM_THREADS for its workers, which ONNX Runtime does not read: the count is passed in.
        self.tagger = Tagger.load(Path(model_dir), backend=backend, batch_size=batch_size, threads=threads)

    def __call__(self, batch: Any) -> dict[str, list]:
        good: list[dict] = []
        out: dict[str, list] = {"kind": [], "line": []}
        for source, kind, record in zip(*(batch.column(c).to_pylist() for c in ("source", "kind", "record"))):
            try:
                row = checked(source, kind, record)
            except InputError as exc:
                out["kind"].append("error")
                out["line"].append(json.dumps({"source": source, "error": str(exc)}, ensure_ascii=False))
                continue
            if row is not None:
                good.append(row)
        for row in self.tag(good):
            out["kind"].append("row")
            out["line"].append(json.dumps(row, ensure_ascii=False))
        return out

    def tag(self, rows: list[dict]) -> list[dict]:
        from policy_tagger.service.writers import output_row

        predictions = self.tagger.tag([r["text"] for r in rows]) if rows else []
        return [output_row(row, p.labels, p.scores, self.tagger.model_tag, self.tagger.label_ids)
                for row, p in zip(rows, predictions)]


class PartsSink:
    """Writes each write task's rows to part-NNNNN.jsonl or .parquet and its bad rows to errors-NNNNN.jsonl,
    each through a temporary name and a rename: a retried task replaces its own part, never adds a second."""

    def __init__(self, out: str, label_ids: list[str]):
        self.out, self.label_ids = out, label_ids
        self.parquet = out.lower().rstrip("/").endswith(".parquet")
        self.totals = {"wrote": 0, "skipped": 0}
        self.errors: list[dict] = []

    def write_task(self, blocks: Iterable[Any], task_idx: int) -> dict:
        rows: list[dict] = []
        errors: list[dict] = []
        for block in blocks:
            for kind, line in zip(block.column("kind").to_pylist(), block.column("line").to_pylist()):
                (rows if kind == "row" else errors).append(json.loads(line))
        if rows:
            self._write(f"part-{task_idx:05d}", rows, self.parquet)
        if errors:
            self._write(f"errors-{task_idx:05d}", errors, parquet=False)
        return {"wrote": len(rows), "skipped": len(errors), "errors": errors[:ERRORS_SHOWN]}

    def _write(self, stem: str, rows: list[dict], parquet: bool) -> None:
        from policy_tagger.service.writers import write_jsonl, write_parquet

        final = os.path.join(self.out, stem + (".parquet" if parquet else ".jsonl"))
        tmp = os.path.join(self.out, f".{stem}.tmp")
        if parquet:
            with open(tmp, "wb") as binary:
                write_parquet(lambda: rows, self.label_ids, binary)
        else:
            with open(tmp, "w", encoding="utf-8") as text:
                write_jsonl(rows, text)
        os.replace(tmp, final)

    def add(self, results: Iterable[dict]) -> None:
        for result in results:
            self.totals["wrote"] += result["wrote"]
            self.totals["skipped"] += result["skipped"]
            self.errors += result["errors"][:max(0, ERRORS_SHOWN - len(self.errors))]


def ray_datasink(parts: PartsSink) -> Any:
    """PartsSink as a ray.data.Datasink (the class is made here so that this module imports without Ray)."""
    from ray.data import Datasink

    class _Sink(Datasink):
        def write(self, blocks: Iterable[Any], ctx: Any) -> dict:
            return parts.write_task(blocks, ctx.task_idx)

        def on_write_complete(self, write_result: Any) -> None:
            parts.add(write_result.write_returns)

        def get_name(self) -> str:
            return "PolicyTaggerParts"

    return _Sink()


# --- the driver -------------------------------------------------------------------------------------------------

def check_inputs(inputs: list[str]) -> list[str]:
    """Every input file, folders expanded; a missing or unknown file is refused before Ray starts."""
    from policy_tagger.service.readers import READERS, expand_folders

    sources = list(expand_folders(inputs))
    for source in sources:
        if source == "-":
            continue
        if not Path(source).is_file():
            raise InputError(f"{source}: no such file")
        if Path(source).suffix.lower() not in READERS:
            raise InputError(f"{source}: unknown input type '{Path(source).suffix or '(none)'}'; use "
                             f"{', '.join(sorted(READERS))}")
    return sources


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: with --engine ray, --out names a new or empty folder (it gets part files)")


def _records(source: str, kind: str, rows: Iterable[dict]) -> Iterator[dict]:
    for row in rows:
        yield {"source": source, "kind": kind, "record": json.dumps(row, ensure_ascii=False, default=str)}


def csv_dataset(ray: Any, source: str) -> Any:
    """Every cell as a string, as the local reader keeps them (pyarrow would turn an id "007" into 7)."""
    import pyarrow.csv as pacsv

    from policy_tagger.service.readers import SNIFF_BYTES, sniff_encoding

    with open(source, "rb") as binary:
        head = binary.read(SNIFF_BYTES)
    encoding = "utf8" if sniff_encoding(head) == "utf-8-sig" else "gb18030"
    header = next(csv.reader(head.decode(encoding.replace("utf8", "utf-8-sig"), "replace").splitlines()), [])
    if "text" not in header:
        raise InputError(f"{source}: CSV needs a header row with a 'text' column")
    return ray.data.read_csv(source, read_options=pacsv.ReadOptions(encoding=encoding),
                             parse_options=pacsv.ParseOptions(newlines_in_values=True),
                             convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, "string")))


def source_dataset(ray: Any, source: str) -> Any:
    """One input as a dataset of records; documents (and stdin) are read and segmented here, on the driver."""
    from policy_tagger.service.readers import source_items

    suffix = Path(source).suffix.lower()
    if suffix == ".jsonl":
        lines = ray.data.read_text(source, drop_empty_lines=True)
        return lines.map_batches(lambda b: {"source": [source] * b.num_rows, "kind": ["jsonl"] * b.num_rows,
                                            "record": b.column("text").to_pylist()}, batch_format="pyarrow")
    if suffix in (".csv", ".parquet"):
        table = csv_dataset(ray, source) if suffix == ".csv" else ray.data.read_parquet(source)
        return table.map_batches(lambda b: {"source": [source] * b.num_rows, "kind": ["row"] * b.num_rows,
                                            "record": [json.dumps(r, ensure_ascii=False, default=str)
                                                       for r in b.to_pylist()]}, batch_format="pyarrow")
    items = [{"source": where, "kind": "bad", "record": str(row)} if isinstance(row, InputError)
             else next(_records(source, "row", [row])) for where, row in source_items(source)]
    return ray.data.from_items(items or [{"source": source, "kind": "bad", "record": f"{source}: no paragraphs"}])


def start_ray(ray: Any, job: RayJob) -> int:
    """Joins the cluster at job.address, or starts a local Ray with job.workers CPUs; returns the actor count."""
    from policy_tagger.service.predictor import available_cores

    quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": True}
    if job.address:
        ray.init(address=job.address, logging_level=logging.WARNING)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        return job.workers or max(1, (cpus - IO_CPUS) // ACTOR_CPUS)
    workers = job.workers or available_cores()
    ray.init(num_cpus=workers * ACTOR_CPUS + IO_CPUS, **quiet)
    return workers


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_job(job: RayJob) -> dict[str, int]:
    """Tags every input row on Ray and writes job.out; returns the read/wrote/skipped counts."""
    from policy_tagger.service.modelcard import load_card

    ray = import_ray()
    sources = check_inputs(job.inputs)
    check_out(job.out)
    label_ids = load_card(job.model_dir).label_ids  # fail fast, before Ray starts
    job.out.mkdir(parents=True, exist_ok=True)
    parts = PartsSink(str(job.out.resolve()), label_ids)
    previous = signal.signal(signal.SIGTERM, _interrupted)  # a plain SIGTERM would skip ray.shutdown below
    try:
        actors = start_ray(ray, job)
        ray.data.DataContext.get_current().enable_progress_bars = not job.quiet
        logging.getLogger("ray.data").setLevel(logging.WARNING if job.quiet else logging.INFO)
        datasets = [source_dataset(ray, source) for source in sources]
        records = datasets[0].union(*datasets[1:]) if len(datasets) > 1 else datasets[0]
        tagged = records.map_batches(
            TagRecords, batch_size=BATCH_ROWS, batch_format="pyarrow", num_cpus=ACTOR_CPUS,
            compute=ray.data.ActorPoolStrategy(size=actors),
            fn_constructor_kwargs={"model_dir": str(job.model_dir.resolve()), "backend": job.backend,
                                   "batch_size": job.batch_size, "threads": ACTOR_CPUS})
        tagged.write_datasink(ray_datasink(parts))
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, previous)
    report_errors(parts, job.out)
    job.counts.update(read=parts.totals["wrote"] + parts.totals["skipped"], **parts.totals)
    return job.counts


def report_errors(parts: PartsSink, out: Path) -> None:
    for error in parts.errors:
        print(f"policy-tagger: skipped {error['error']}", file=sys.stderr)
    if parts.totals["skipped"] > len(parts.errors):
        print(f"policy-tagger: … {parts.totals['skipped'] - len(parts.errors)} more bad rows", file=sys.stderr)
    if parts.totals["skipped"]:
        print(f"policy-tagger: every bad row is in {out}/errors-*.jsonl", file=sys.stderr)

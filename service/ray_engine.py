"""`label --engine ray`: the same rows as the local engine, tagged by a pool of Ray actors and written as a
folder of parts, on this machine or on a Ray cluster.

Ray reads the files (``read_binary_files``, one task per file; Parquet with ``read_parquet``, by row group) and
the project's own readers parse them on the workers, so that rows, ids (FILE:LINE), checks and messages are the
local engine's. Every input row becomes a record ``{"kind", "record"}``: a good row as JSON (kind "row") or a bad
one (kind "bad": where, id, error), one shape for files of any format and columns. Each actor loads the model
once and tags the good rows of a batch; a datasink writes them into ``part-NNNNN.jsonl`` (or ``.parquet``) and
the bad rows into ``_errors-NNNNN.jsonl``. A malformed row or file is reported there, never fails the job."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_tagger.service.errors import InputError, PolicyTaggerError, UsageError

ACTOR_CPUS = 1  # one ONNX thread per actor, as the local engine runs each batch on one thread (predictor.OnnxBackend)
# Ray's read and write tasks need a CPU slot of their own: with every slot held by an actor, the first read
# waited forever (seen on 2 CPUs with 2 actors). They mostly wait on files, so one slot is kept for them.
IO_CPUS = 1
BATCH_ROWS = 256  # rows per actor call, as the local engine's LABEL_CHUNK
# Ray keeps a file's rows in one block up to 128 MiB, and a block goes to one actor: 10,000 paragraphs are
# about 5 MB, so blocks of at most 2 MiB let every actor take part in a file of that size.
BLOCK_BYTES = 2 << 20
# ray.shutdown() returns while the local Ray's workers are still exiting (seen: one left a few seconds after the
# command ended); the command waits this long for them, then ends the rest, so that it leaves none behind.
SHUTDOWN_WAIT_S = 15
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
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


# --- reading, on the workers ------------------------------------------------------------------------------------

def good(row: dict) -> dict:
    return {"kind": "row", "record": json.dumps(row, ensure_ascii=False, default=str)}


def bad(where: str, error: str, row_id: object = None) -> dict:
    return {"kind": "bad", "record": json.dumps({"where": where, "id": row_id, "error": error}, ensure_ascii=False,
                                                default=str)}


def checked_record(where: str, row: "dict | InputError") -> dict:
    from policy_tagger.service.readers import check_row

    if isinstance(row, InputError):
        return bad(where, str(row))
    try:
        return good(check_row(row, where))
    except InputError as exc:
        return bad(where, f"{exc} (id {row.get('id')})", row.get("id"))


def file_records(file: dict, source: str) -> list[dict]:
    """Every row of one file (read by Ray as bytes), parsed by the local engine's reader for its type."""
    from policy_tagger.service.readers import reader_for

    records: list[dict] = []
    try:
        read, stream = reader_for(source, io.BytesIO(file["bytes"]))
        for where, row in read(source, stream):
            records.append(checked_record(where, row))
    except InputError as exc:  # the reader cannot go on (an unclosed CSV quote, a broken file): the rows before
        records.append(bad(source, str(exc)))  # it are kept, the rest is one error row, and the job goes on
    return records


def parquet_id(source: str, row: dict) -> object:
    """Ray reads row groups in parallel and cannot number the rows, so a Parquet row without `id` gets one from
    its content (locally it is FILE:row N): stable across runs."""
    if row.get("id") is not None:
        return row["id"]
    return f"{source}#{hashlib.sha1(json.dumps(row, default=str).encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def parquet_records(batch: Any, source: str) -> dict[str, list]:
    records = [checked_record(source, {**row, "id": row_id})
               for row in batch.to_pylist() for row_id in [parquet_id(source, row)]]
    return {"kind": [r["kind"] for r in records], "record": [r["record"] for r in records]}


# --- tagging, in the actors -------------------------------------------------------------------------------------

class TagRecords:
    """A Ray actor: loads the Tagger once, then turns batches of records into output or error rows."""

    def __init__(self, model_dir: str, backend: str, batch_size: int, threads: int):
        from policy_tagger.service.predictor import Tagger

        # Ray sets OMP_NUM_THREADS for its workers, which ONNX Runtime does not read: the count is passed in.
        self.tagger = Tagger.load(Path(model_dir), backend=backend, batch_size=batch_size, threads=threads)

    def __call__(self, batch: Any) -> dict[str, list]:
        kinds, records = batch.column("kind").to_pylist(), batch.column("record").to_pylist()
        tagged = self.tag([json.loads(r) for k, r in zip(kinds, records) if k == "row"])
        errors = [r for k, r in zip(kinds, records) if k == "bad"]
        return {"kind": ["row"] * len(tagged) + ["error"] * len(errors),
                "line": [json.dumps(row, ensure_ascii=False) for row in tagged] + errors}

    def tag(self, rows: list[dict]) -> list[dict]:
        from policy_tagger.service.writers import output_row

        predictions = self.tagger.tag([r["text"] for r in rows]) if rows else []
        return [output_row(row, p.labels, p.scores, self.tagger.model_tag, self.tagger.label_ids)
                for row, p in zip(rows, predictions)]


class PartsSink:
    """Writes each write task's rows to part-NNNNN.jsonl or .parquet and its bad rows to _errors-NNNNN.jsonl
    (Parquet and Arrow readers of the folder skip names that start with '_'),
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
            self._write(f"_errors-{task_idx:05d}", errors, parquet=False)
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


def source_dataset(ray: Any, source: str) -> Any:
    """One input as a dataset of records; stdin is read here, on the driver."""
    if source == "-":
        from policy_tagger.service.readers import source_items

        return ray.data.from_items([checked_record(where, row) for where, row in source_items(source)] or
                                   [bad("stdin", "stdin: no rows")])
    if Path(source).suffix.lower() == ".parquet":
        return ray.data.read_parquet(source).map_batches(parquet_records, fn_kwargs={"source": source},
                                                         batch_format="pyarrow")
    return ray.data.read_binary_files(source).flat_map(file_records, fn_kwargs={"source": source})


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


def _processes() -> dict[int, tuple[int, bool]]:
    """pid -> (parent pid, whether it has ended and waits to be reaped) of every process, from /proc (Linux;
    empty elsewhere)."""
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        processes[int(stat.parent.name)] = (int(fields[1]), fields[0] == "Z")
    return processes


def descendants() -> dict[int, bool]:
    """The processes this one started, and theirs (the local Ray's GCS, raylet and workers): pid -> ended."""
    processes = _processes()
    found: dict[int, bool] = {}
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, (parent, _) in processes.items() if parent in frontier and pid not in found}
        found.update({pid: processes[pid][1] for pid in frontier})
    return found


def adopt_orphans(on: bool) -> None:
    """Linux: while on, a process whose parent ends (a Ray worker whose raylet ended first) becomes this
    process's child instead of pid 1's, so the command can wait for it and reap it. Without this, workers
    were seen as zombies of pid 1 after the command ended, and in a container without an init nobody reaps them."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def wait_for_exit(before: set[int]) -> None:
    """Waits for the processes started since `before` was listed (the local Ray's) to end, kills those still
    there after SHUTDOWN_WAIT_S, and reaps them, so that none is left behind, not even as a zombie. Processes
    that were there before are not touched."""
    import time

    deadline = time.monotonic() + SHUTDOWN_WAIT_S
    while True:
        started = {pid: ended for pid, ended in descendants().items() if pid not in before}
        reap([pid for pid, ended in started.items() if ended])
        alive = [pid for pid, ended in started.items() if not ended]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.1 if alive else 0)
    reap([pid for pid in descendants() if pid not in before])


def reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # a grandchild: its own parent reaps it
            pass


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
    adopt_orphans(not job.address)
    before = set(descendants())
    try:
        try:
            actors = start_ray(ray, job)
        except Exception as exc:  # Ray raises a plain Exception when its node does not start in time
            where = f"the Ray cluster at {job.address}" if job.address else "a local Ray"
            raise PolicyTaggerError(f"could not start or join {where}: {exc}") from None
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = not job.quiet
        context.target_max_block_size = BLOCK_BYTES
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
        if not job.address:
            wait_for_exit(before)
            adopt_orphans(False)
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
        print(f"policy-tagger: every bad row is in {out}/_errors-*.jsonl", file=sys.stderr)

"""Where `label --out FILE` writes, so that a run can be killed and resumed and never loses rows.

Rows go to a checkpoint (``.FILE.partial.jsonl`` beside the output, flushed after every chunk); the output
appears, complete, by one rename at the end (converted to CSV or Parquet first when FILE asks for it). A lock
beside the output (``.FILE.lock``) keeps a second run, or a second ``--resume``, from writing the same
output at the same time. A symlink is followed to its real file; a target that is not a regular file
(``/dev/null``, ``/dev/stdout``, a pipe) is written through, never replaced."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from policy_tagger.service.errors import InputError, UsageError
from policy_tagger.service.writers import write_csv, write_jsonl, write_parquet


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class OutputFile:
    def __init__(self, out: Path, inputs: list[str]):
        self.out = Path(out)
        self.target = Path(os.path.realpath(self.out))  # a symlink's real file is the one replaced
        if self.target.is_dir():
            raise UsageError(f"--out {out} is a folder; name a file")
        if any(source != "-" and _same_file(Path(source), self.target) for source in inputs):
            raise UsageError(f"--out {out} is one of the inputs; it would be replaced. Choose another file")
        self.regular = not self.target.exists() or self.target.is_file()
        if self.regular:
            self.partial = self.target.parent / f".{self.target.name}.partial.jsonl"
        else:  # nothing may be written beside /dev/null: a temporary checkpoint for this run only
            handle, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".partial.jsonl")
            os.close(handle)
            self.partial = Path(name)
        self._lock = FileLock(str(self.target.parent / f".{self.target.name}.lock")) if self.regular else None

    def __enter__(self) -> "OutputFile":
        if self._lock is not None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise UsageError(f"another policy-tagger run is writing {self.out} (it holds {self._lock.lock_file});"
                                 " wait for it to finish, or choose another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.regular:
            self.partial.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.release()
            Path(self._lock.lock_file).unlink(missing_ok=True)

    def discard(self) -> None:
        self.partial.unlink(missing_ok=True)

    def start_fresh(self) -> None:
        self.partial.write_bytes(b"")

    def done_rows(self) -> Iterator[dict]:
        """The rows a killed run left in the checkpoint, in order; a torn last line is cut off (it is redone)."""
        if not self.regular:
            raise UsageError(f"--resume needs a regular file as --out, not {self.out}")
        if not self.partial.exists():
            self.start_fresh()
            return
        keep = 0
        with open(self.partial, "rb") as partial:
            for line in partial:
                try:
                    row = json.loads(line) if line.endswith(b"\n") else None
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict):
                    break
                keep += len(line)
                yield row
        os.truncate(self.partial, keep)

    def append(self, rows: list[dict]) -> None:
        with open(self.partial, "a", encoding="utf-8") as partial:
            write_jsonl(rows, partial)
            partial.flush()
            os.fsync(partial.fileno())

    def _partial_rows(self) -> Iterable[dict]:
        with open(self.partial, "rb") as partial:
            for line in partial:  # binary lines split on \n only: U+2028 or U+0085 inside a text stays put
                yield json.loads(line)

    def finish(self, label_ids: list[str]) -> None:
        """Turn the complete checkpoint into the output: one rename, or a conversion written through."""
        kind = self.out.suffix.lower()
        if kind not in (".csv", ".parquet") and self.regular:
            os.replace(self.partial, self.target)
            return
        if not self.regular:
            self._write(kind, self.target, label_ids)
            return
        tmp = self.target.parent / f".{self.target.name}.tmp"
        self._write(kind, tmp, label_ids)
        os.replace(tmp, self.target)
        self.partial.unlink()

    def _write(self, kind: str, path: Path, label_ids: list[str]) -> None:
        if kind == ".parquet":
            with open(path, "wb") as out:
                write_parquet(self._partial_rows, label_ids, out)
        elif kind == ".csv":
            with open(path, "w", encoding="utf-8", newline="") as text:
                write_csv(self._partial_rows, label_ids, text)
        else:
            with open(path, "w", encoding="utf-8") as text:
                write_jsonl(self._partial_rows(), text)


def refuse_mismatch(index: int, done: dict, expected: dict) -> None:
    """A checkpoint row must be exactly what this input row and this model give; else the run is refused."""
    fields = sorted(k for k in {*done, *expected} - {"labels", "scores", "model", "evidence"}
                    if done.get(k) != expected.get(k))
    if fields or "labels" not in done or "scores" not in done:
        raise InputError(f"the checkpoint was written for other input (row {index + 1} differs in "
                         f"{', '.join(fields) or 'its results'}); delete it or run without --resume")
    if done.get("model") != expected["model"]:
        raise InputError(f"the checkpoint was written by model {done.get('model')}, not {expected['model']}; "
                         "run without --resume (or with the same --model)")

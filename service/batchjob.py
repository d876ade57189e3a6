"""Batch labeling that survives being killed: rows go to a checkpoint file beside the output, which becomes
the output (renamed, or converted to CSV) only when every row is done. ``--resume`` continues from it."""
from __future__ import annotations

import json
import os
from pathlib import Path

from policy_tagger.service.errors import InputError
from policy_tagger.service.writers import write_csv


class Checkpoint:
    def __init__(self, out: Path):
        self.out = out
        self.path = out.parent / f".{out.name}.partial.jsonl"

    def start(self, inputs: list[dict], resume: bool) -> list[dict]:
        """The output rows already done (empty unless resuming); a torn last line is dropped."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if not resume or not self.path.exists():
            self.path.write_bytes(b"")
            return []
        done, keep_bytes = [], 0
        with open(self.path, "rb") as partial:
            for line in partial:
                try:
                    row = json.loads(line) if line.endswith(b"\n") else None
                except json.JSONDecodeError:
                    row = None
                if row is None:
                    break  # a write cut off by the kill; everything after it is redone
                done.append(row)
                keep_bytes += len(line)
        os.truncate(self.path, keep_bytes)
        for i, row in enumerate(done):
            if i >= len(inputs) or (row.get("id"), row.get("text")) != (inputs[i].get("id"), inputs[i]["text"]):
                raise InputError(f"{self.path} was written for other input (row {i + 1} differs); "
                                 "delete it or run without --resume")
        return done

    def append(self, rows: list[dict]) -> None:
        with open(self.path, "a", encoding="utf-8") as partial:
            partial.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            partial.flush()
            os.fsync(partial.fileno())

    def finish(self, label_ids: list[str]) -> None:
        """Turn the complete checkpoint into the output file in one rename."""
        if self.out.suffix.lower() != ".csv":
            os.replace(self.path, self.out)
            return
        rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]
        tmp = self.out.parent / f".{self.out.name}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            write_csv(rows, label_ids, out)
        os.replace(tmp, self.out)
        self.path.unlink()

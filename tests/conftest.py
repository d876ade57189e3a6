"""A tiny model made from the real base encoder (its first two layers, a few training steps), built once."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from policy_tagger.service.paths import DATA_DIR

TRAIN_ROWS, DEV_ROWS, STEPS = 48, 24, 6


def _head(src: Path, dst: Path, n: int) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()[:n]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from policy_tagger.training.config import TrainConfig
    from policy_tagger.training.export import export_and_choose
    from policy_tagger.training.train import train

    work = tmp_path_factory.mktemp("tiny")
    config = TrainConfig(layers=2, epochs=1, max_steps=STEPS, batch_size=8,
                         train_file=_head(DATA_DIR / "train.jsonl", work / "train.jsonl", TRAIN_ROWS),
                         dev_file=_head(DATA_DIR / "dev.jsonl", work / "dev.jsonl", DEV_ROWS))
    train(config, work / "model")
    export_and_choose(work / "model", [config.dev_file], config.dev_file)
    return work / "model"


@pytest.fixture(scope="session")
def tagger(tiny_model):
    from policy_tagger.service.predictor import Tagger

    return Tagger.load(tiny_model)


@pytest.fixture
def write_jsonl(tmp_path):
    def write(name: str, rows: list) -> Path:
        path = tmp_path / name
        path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                                for r in rows), encoding="utf-8")
        return path
    return write


@pytest.fixture
def browser():
    """Headless Chromium (bench/headless.py), quit after the test. Where none is installed the test is skipped,
    except under .ci/run (POLICY_TAGGER_REQUIRE_BROWSER=1), where that fails it."""
    from headless import BrowserMissing, chromium

    try:
        driver = chromium()
    except BrowserMissing as exc:
        if os.environ.get("POLICY_TAGGER_REQUIRE_BROWSER"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield driver
    finally:
        driver.quit()

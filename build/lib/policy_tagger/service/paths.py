"""Where the project's files are: the label set (package data), the repository checkout if the code runs
from one, and the default model folder."""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from platformdirs import user_data_dir

from policy_tagger.service.errors import UsageError

MODEL_ENV = "POLICY_TAGGER_MODEL"
MODEL_NAME = "policy-tagger"


def _repository() -> Path | None:
    """The source checkout this package runs from (an editable install or the source tree), else None:
    an installed wheel has no repository, and no repository path may leak into site-packages."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "labels" / "data").is_dir() else None


REPO_ROOT = _repository()
LABELS_FILE = Path(str(importlib.resources.files("policy_tagger.labels") / "labels.json"))
DATA_DIR = REPO_ROOT / "labels" / "data" if REPO_ROOT else None
USER_MODELS = Path(user_data_dir("policy-tagger", appauthor=False)) / "models"
MODELS_HOME = REPO_ROOT / "models" if REPO_ROOT else USER_MODELS  # where train puts new models and the base


def model_candidates() -> list[tuple[str, Path]]:
    """Where the default model is looked for, in order: $POLICY_TAGGER_MODEL, the repository's models/,
    the per-user data folder."""
    candidates = []
    if os.environ.get(MODEL_ENV):
        candidates.append((f"${MODEL_ENV}", Path(os.environ[MODEL_ENV])))
    if REPO_ROOT:
        candidates.append(("the repository's models/", REPO_ROOT / "models" / MODEL_NAME))
    candidates.append(("the per-user data folder", USER_MODELS / MODEL_NAME))
    return candidates


def searched_places() -> str:
    """The three places, said the way a user can act on them."""
    places = [f"${MODEL_ENV}: " + (os.environ.get(MODEL_ENV) or "not set"),
              "the repository's models/: " + (str(REPO_ROOT / "models" / MODEL_NAME) if REPO_ROOT
                                              else "none (installed package, not a repository checkout)"),
              f"the per-user data folder: {USER_MODELS / MODEL_NAME}"]
    return "; ".join(places)


def default_model_dir() -> Path:
    """The first candidate that holds a model, else the first candidate (where a new model goes)."""
    candidates = model_candidates()
    for _, path in candidates:
        if (path / "policy_tagger.json").is_file():
            return path
    return candidates[0][1]


def corpus_file(split: str) -> Path:
    """labels/data/<split>.jsonl of the repository; an installed package ships no corpus."""
    if DATA_DIR is None:
        raise UsageError(f"no annotated corpus here (installed package, no repository): name the {split} "
                         f"file with --{split}-file")
    return DATA_DIR / f"{split}.jsonl"

"""The trained model folder: a Hugging Face folder plus ``policy_tagger.json`` (the model card data)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, Field

from policy_tagger.service.errors import ModelIntegrityError, ModelMissingError
from policy_tagger.service.labelset import Label, label_ids, load_label_set
from policy_tagger.service.paths import LABELS_FILE, MODEL_ENV, default_model_dir, searched_places

CARD_FILE = "policy_tagger.json"
MANIFEST_FILE = "manifest.json"
BUILD_COMMAND = "make model   (or: policy-tagger train)"


class ModelCard(BaseModel):
    name: str
    version: str
    base: str
    labels: list[Label]
    thresholds: dict[str, float] = Field(description="decision threshold per label, on calibrated scores")
    temperatures: dict[str, float] = Field(default_factory=dict,
                                           description="calibration: score = sigmoid(logit / T) per label (1 if absent)")
    max_length: int
    data: dict[str, str] = Field(default_factory=dict, description="sha256 of each training/dev file")
    training: dict = Field(default_factory=dict, description="settings and timings of the run")
    evaluation: dict = Field(default_factory=dict, description="figures measured after training")
    inference: dict = Field(default_factory=dict, description="the ONNX file to serve and its parity check")

    @property
    def label_ids(self) -> list[str]:
        return [label.id for label in self.labels]

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / CARD_FILE).write_text(self.model_dump_json(indent=2), encoding="utf-8")


def _missing_message(model_dir: Path) -> str:
    if Path(model_dir).resolve() == default_model_dir().resolve():
        return (f"no trained model found (looked in {searched_places()}); build one with: {BUILD_COMMAND}, "
                f"or point {MODEL_ENV} at a model folder")
    return (f"{model_dir} is not a policy-tagger model folder (no {CARD_FILE}); "
            f"train one with: policy-tagger train --out {model_dir}")


def load_card(model_dir: Path) -> ModelCard:
    card_path = Path(model_dir) / CARD_FILE
    if not card_path.is_file():
        raise ModelMissingError(_missing_message(model_dir))
    try:
        return ModelCard(**json.loads(card_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ModelMissingError(f"{card_path} is damaged: {exc}") from exc


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(model_dir: Path) -> None:
    """Record the sha256 of every file in the model folder."""
    files = {p.name: sha256_file(p) for p in sorted(Path(model_dir).iterdir())
             if p.is_file() and p.name != MANIFEST_FILE}
    (Path(model_dir) / MANIFEST_FILE).write_text(json.dumps({"sha256": files}, indent=2), encoding="utf-8")


def verify_model(model_dir: Path, card: ModelCard, needed: list[str], labels_file: Path = LABELS_FILE) -> None:
    """Refuse a model whose files were changed or lost, or whose label set is not the project's."""
    manifest_path = Path(model_dir) / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelIntegrityError(f"{model_dir} has no {MANIFEST_FILE}; rebuild it with: {BUILD_COMMAND}")
    recorded = json.loads(manifest_path.read_text(encoding="utf-8"))["sha256"]
    for name in needed:
        if name not in recorded:
            raise ModelIntegrityError(f"{model_dir}/{name} is not listed in {MANIFEST_FILE}")
    for name, digest in recorded.items():
        path = Path(model_dir) / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is missing (listed in {MANIFEST_FILE})")
        if sha256_file(path) != digest:
            raise ModelIntegrityError(f"{path} does not match its checksum in {MANIFEST_FILE}: "
                                      "the model was changed or damaged; rebuild or restore it")
    project_labels = label_ids(load_label_set(labels_file))
    if project_labels != card.label_ids:
        raise ModelIntegrityError(f"{model_dir} predicts {card.label_ids}, but {labels_file} defines "
                                  f"{project_labels}; retrain with: policy-tagger train")

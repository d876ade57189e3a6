"""The trained model folder: a Hugging Face folder plus ``policy_tagger.json`` (the model card data)."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from service.labelset import PROJECT_ROOT, Label

DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / "policy-tagger"
CARD_FILE = "policy_tagger.json"
BUILD_COMMAND = "make model   (or: policy-tagger train)"


class ModelMissingError(Exception):
    """The model folder does not exist or lacks the files a trained model has."""


class ModelCard(BaseModel):
    name: str
    version: str
    base: str
    labels: list[Label]
    thresholds: dict[str, float]
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
        (model_dir / CARD_FILE).write_text(self.model_dump_json(indent=2), encoding="utf-8")


def load_card(model_dir: Path) -> ModelCard:
    card_path = Path(model_dir) / CARD_FILE
    if not card_path.is_file():
        if Path(model_dir).resolve() == DEFAULT_MODEL_DIR.resolve():
            raise ModelMissingError(f"the default model has not been built yet ({model_dir}); build it with: {BUILD_COMMAND}")
        raise ModelMissingError(f"{model_dir} is not a policy-tagger model folder (no {CARD_FILE}); "
                                f"train one with: policy-tagger train --out {model_dir}")
    try:
        return ModelCard(**json.loads(card_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ModelMissingError(f"{card_path} is damaged: {exc}") from exc

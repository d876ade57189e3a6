"""Command-line options generated from the declarations they come from: the settings fields
(service/settings.py) and the training dataclass (training/config.py). Each knob is declared once."""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from policy_tagger.service.settings import ENV_PREFIX, Settings, load_settings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_options(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """One flag per settings field; unset flags stay None so that the environment and defaults apply."""
    for name in names:
        field = Settings.model_fields[name]
        default = field.get_default(call_default_factory=True)
        shown = ",".join(default) if isinstance(default, list) else default
        parser.add_argument(_flag(name), dest=name, default=None, metavar=name.upper(),
                            help=f"{field.description} (env {ENV_PREFIX}{name.upper()}; default: {shown})")


def settings_from(args: argparse.Namespace, names: tuple[str, ...]) -> Settings:
    return load_settings(**{name: getattr(args, name) for name in names})


def _plain_type(hint: Any) -> Any:
    """int for `int | None`, and so on."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per dataclass field, with the field's help text, as transformers.HfArgumentParser does."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = _plain_type(hints[field.name])
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = f"{field.metadata.get('help', '')} (default: {default})"
        if kind is bool:
            parser.add_argument(_flag(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        else:
            parser.add_argument(_flag(field.name), dest=field.name, type=Path if kind is Path else kind,
                                default=None, help=help_text, metavar=field.name.upper())


def dataclass_from(args: argparse.Namespace, cls: type) -> Any:
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name) is not None}
    return cls(**given)

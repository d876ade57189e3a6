"""Every knob of the server and of batch labeling, declared once. Each is a ``POLICY_TAGGER_*``
environment variable and a command-line flag (the CLI generates the flags from these fields); a flag
wins over the variable, the variable over the default."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policy_tagger.service.errors import UsageError

ENV_PREFIX = "POLICY_TAGGER_"
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    model: Path | None = Field(None, description="model folder (default: the repository's models/policy-tagger, "
                                                 "else the per-user data folder)")
    backend: str = Field("auto", description="inference engine: auto (the model's chosen ONNX file), torch, onnx, "
                                             "onnx-fp32, onnx-int8")
    threads: int | None = Field(None, ge=1, le=256, description="inference threads (default: one per core)")
    batch_size: int = Field(16, ge=1, le=512, description="most windows per model call")

    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8000, ge=1, le=65535, description="port the API listens on")
    max_paragraphs: int = Field(256, ge=1, le=100_000, description="paragraphs per request (413 beyond)")
    max_chars: int = Field(20_000, ge=1, le=10_000_000, description="characters per paragraph (413 beyond)")
    max_body_bytes: int = Field(2_000_000, ge=1, le=1_000_000_000, description="request body size (413 beyond)")
    max_lines: int = Field(50_000, ge=1, le=10_000_000, description="lines per document (413 beyond)")
    max_wait_ms: float = Field(1.0, ge=0, le=1000,
                               description="how long a model call waits for more requests to join it")
    max_batch: int = Field(64, ge=1, le=10_000, description="paragraphs gathered into one model call")
    max_queued: int = Field(2048, ge=1, le=1_000_000, description="paragraphs waiting at once (503 beyond)")
    api_keys: CommaList = Field(default_factory=list, description="comma-separated API keys; when set, /v1/* and "
                                                                  "/metrics need one")
    api_keys_file: Path | None = Field(None, description="a file with one API key per line (# comments)")
    cors_origins: CommaList = Field(default_factory=list, description="comma-separated origins allowed to call "
                                                                      "from a browser (default: CORS off)")

    @model_validator(mode="before")
    @classmethod
    def _keys_asked_for_exist(cls, data: dict) -> dict:
        raw = data.get("api_keys") if isinstance(data, dict) else None
        if isinstance(raw, str) and raw.strip() and not split_commas(raw):
            raise ValueError(f"{ENV_PREFIX}API_KEYS / --api-keys is set but holds no key ({raw!r}); give at least "
                             "one key, or unset it to run without keys")
        return data

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return split_commas(value) if isinstance(value, str) else value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from policy_tagger.service.predictor import BACKENDS

        if value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; choose one of {', '.join(BACKENDS)}")
        return value

    @model_validator(mode="after")
    def _requests_fit_the_queue(self) -> "Settings":
        if self.max_paragraphs > self.max_queued:
            raise ValueError(f"{ENV_PREFIX}MAX_PARAGRAPHS ({self.max_paragraphs}) is above {ENV_PREFIX}MAX_QUEUED "
                             f"({self.max_queued}): a full request could never be queued")
        return self

    @model_validator(mode="after")
    def _read_keys_file(self) -> "Settings":
        if self.api_keys_file is not None:
            self.api_keys = [*self.api_keys, *_keys_in_file(self.api_keys_file)]
        return self


def split_commas(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _keys_in_file(path: Path) -> list[str]:
    where = f"{ENV_PREFIX}API_KEYS_FILE / --api-keys-file"
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM is not part of the first key
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]  # '  # note' is a comment too
    if not keys:
        raise ValueError(f"{where}: {path} holds no key (only blank or # comment lines)")
    return keys


def load_settings(**flags: object) -> Settings:
    """Settings from the environment, overridden by the flags that were given (None: not given).
    A bad value is a UsageError naming the variable and the flag."""
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise UsageError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:  # a field's own check; whole-object checks name their setting themselves
            name = str(error["loc"][0])
            message = f"{ENV_PREFIX}{name.upper()} / --{name.replace('_', '-')}: {message} (got {error.get('input')!r})"
        problems.append(message)
    return "bad setting: " + "; ".join(problems)

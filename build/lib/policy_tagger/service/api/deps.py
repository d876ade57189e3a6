"""What routes depend on: the async tagger and the settings, both held by the app."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from policy_tagger.service.api.metrics import Metrics
from policy_tagger.service.async_tagger import AsyncTagger
from policy_tagger.service.settings import Settings


def get_tagger(request: Request) -> AsyncTagger:
    return request.app.state.tagger


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


TaggerDep = Annotated[AsyncTagger, Depends(get_tagger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

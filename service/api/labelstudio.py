"""Label Studio's ML-backend protocol under /labelstudio, so that a project connects this service as its model
(Settings → Model) and shows our pre-annotations. The routes only translate: the tagger scores, and
service/labelstudio.py builds the same predictions that `policy-tagger labelstudio export` writes."""
from __future__ import annotations

import json
import logging

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from policy_tagger.service.api.deps import MetricsDep, SettingsDep, TaggerDep
from policy_tagger.service.api.handlers import ApiError
from policy_tagger.service.api.routes import ERRORS, check_paragraphs
from policy_tagger.service.api.schemas import ParagraphIn
from policy_tagger.service.labelstudio import OBJECT, prediction

log = logging.getLogger("policy_tagger.api")
router = APIRouter(prefix="/labelstudio", tags=["Label Studio ML backend"])
MODEL_CLASS = "PolicyTagger"


class LabelStudioBody(BaseModel):
    """Label Studio sends more fields than we read (project, label_config, params, …); they are accepted."""
    model_config = ConfigDict(extra="allow")


class PredictRequest(LabelStudioBody):
    tasks: list[dict] = Field(description="Label Studio tasks; the paragraph is in data.text")


class PredictResponse(BaseModel):
    results: list[dict] = Field(description="one prediction per task, in task order")
    model_version: str


class SetupRequest(LabelStudioBody):
    model_version: str | None = None


def task_text(task: dict, index: int) -> str:
    data = task.get("data")
    text = data.get(OBJECT) if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise ApiError(422, "invalid_task", f"tasks[{index}]: data.{OBJECT} is missing or not a string")
    return text


@router.post("/predict", response_model=PredictResponse, responses=ERRORS)
async def predict(body: PredictRequest, tagger: TaggerDep, settings: SettingsDep,
                  metrics: MetricsDep) -> PredictResponse:
    texts = [task_text(task, i) for i, task in enumerate(body.tasks)]
    check_paragraphs([ParagraphIn(text=t) for t in texts], settings, "task")
    predictions = await tagger.classify(texts)
    metrics.paragraphs.inc(len(texts))
    label_ids, thresholds = tagger.tagger.label_ids, tagger.tagger.thresholds
    results = [prediction(p.labels, np.array([p.scores[label] for label in label_ids]), thresholds,
                          tagger.model_tag) for p in predictions]
    return PredictResponse(results=results, model_version=tagger.model_tag)


@router.post("/setup")
async def setup(body: SetupRequest, tagger: TaggerDep) -> dict:
    return {"model_version": tagger.model_tag}


@router.get("/health")
async def health(tagger: TaggerDep) -> dict:
    return {"status": "UP", "model_class": MODEL_CLASS, "model_version": tagger.model_tag}


@router.get("/versions")
async def versions(tagger: TaggerDep) -> dict:
    return {"versions": [tagger.model_tag]}


@router.post("/webhook")
async def webhook(body: LabelStudioBody) -> dict:
    """Annotation events (ANNOTATION_CREATED, ANNOTATION_UPDATED, …) are logged; retraining is `train --add`."""
    event = body.model_dump()
    action = event.get("action", "unknown")
    task = event.get("task")
    log.info(json.dumps({"labelstudio_event": action, "task": task.get("id") if isinstance(task, dict) else None}))
    return {"status": "ok", "action": action}

"""The one object that owns the model and its queue for the API: routes hand it texts and get
predictions back; it gathers concurrent requests into model calls and keeps CPU work off the event loop."""
from __future__ import annotations

import asyncio

from policy_tagger.service.batching import MicroBatcher
from policy_tagger.service.documents import document_rows
from policy_tagger.service.predictor import Prediction, Tagger
from policy_tagger.service.settings import Settings


class AsyncTagger:
    def __init__(self, tagger: Tagger, settings: Settings, batcher: MicroBatcher | None = None):
        self.tagger = tagger
        self.batcher = batcher or MicroBatcher(tagger.probabilities, max_batch=settings.max_batch,
                                               max_wait_ms=settings.max_wait_ms, max_queued=settings.max_queued,
                                               in_flight=tagger.backend.parallel)

    @property
    def model_tag(self) -> str:
        return self.tagger.model_tag

    async def start(self) -> None:
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()

    async def classify(self, texts: list[str]) -> list[Prediction]:
        """Raises batching.Overloaded (retry later) or batching.NeverFits."""
        probs = await self.batcher.submit(texts)
        return self.tagger.predictions(texts, probs)

    async def evidence(self, texts: list[str], predictions: list[Prediction]) -> list[dict]:
        """Clause evidence per paragraph, computed on a worker thread (one model call per paragraph)."""
        from policy_tagger.service.evidence import explain_all

        return await asyncio.to_thread(explain_all, self.tagger, texts, [p.labels for p in predictions])

    async def split_document(self, text: str, doc: str) -> list[dict]:
        """Paragraph rows of a document, split on a worker thread: a large document must not hold up
        other requests."""
        return await asyncio.to_thread(document_rows, text, doc)

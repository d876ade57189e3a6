"""The FastAPI app: settings, the async tagger, middleware, error handlers and routes put together."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from policy_tagger.service import __version__
from policy_tagger.service.api import labelstudio
from policy_tagger.service.api.handlers import add_handlers
from policy_tagger.service.api.metrics import Metrics
from policy_tagger.service.api.middleware import RequestContext
from policy_tagger.service.api.page import add_page
from policy_tagger.service.api.routes import router
from policy_tagger.service.async_tagger import AsyncTagger
from policy_tagger.service.batching import MicroBatcher
from policy_tagger.service.predictor import Tagger
from policy_tagger.service.settings import Settings


def create_app(tagger: Tagger, settings: Settings | None = None, batcher: MicroBatcher | None = None) -> FastAPI:
    settings = settings or Settings()
    async_tagger = AsyncTagger(tagger, settings, batcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await async_tagger.start()
        yield
        await async_tagger.stop()

    app = FastAPI(title="policy-tagger", version=__version__, lifespan=lifespan,
                  description="Tags paragraphs of Chinese poverty-alleviation documents by intervention type.")
    app.state.tagger, app.state.settings, app.state.metrics = async_tagger, settings, Metrics()
    app.add_middleware(RequestContext, settings=settings, metrics=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"])
    add_handlers(app)
    app.include_router(router)
    add_page(app)
    app.include_router(labelstudio.router)
    return app

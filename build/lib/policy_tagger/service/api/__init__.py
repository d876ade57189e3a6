"""The REST API (FastAPI): schemas, routes, dependencies, middleware and error handlers."""
from policy_tagger.service.api.app import create_app

__all__ = ["create_app"]

"""`policy-tagger serve`: the REST API."""
from __future__ import annotations

import argparse

from policy_tagger.cli.options import add_settings_options, settings_from
from policy_tagger.service.settings import Settings

KNOBS = tuple(Settings.model_fields)  # every knob applies to the server


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the REST API")
    add_settings_options(p, KNOBS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    import logging

    import uvicorn

    from policy_tagger.cli.label import model_dir
    from policy_tagger.service.api import create_app
    from policy_tagger.service.predictor import Tagger

    settings = settings_from(args, KNOBS)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one JSON line per request, with its id
    tagger = Tagger.load(model_dir(settings), backend=settings.backend, batch_size=settings.batch_size,
                         threads=settings.threads)
    app = create_app(tagger, settings)
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to 30 s), then exits.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=30)

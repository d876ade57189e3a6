"""Prometheus metrics of one app (its own registry, so several apps in one process do not clash)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("policy_tagger_requests_total", "HTTP requests", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("policy_tagger_request_seconds", "request latency", ["path"],
                                 registry=self.registry)
        self.paragraphs = Counter("policy_tagger_paragraphs_total", "paragraphs classified", registry=self.registry)

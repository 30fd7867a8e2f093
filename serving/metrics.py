"""Prometheus metrics in the server's own CollectorRegistry (served at /monitoring/prometheus/metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("model", "version", "api")
        self.requests = Counter("serving_requests", "Model API requests handled, by outcome (canonical code).",
                                (*labels, "code"), registry=self.registry)
        self.errors = Counter("serving_request_errors", "Model API requests that failed.", (*labels, "code"),
                              registry=self.registry)
        self.latency = Histogram("serving_request_latency_seconds", "Time to answer a model API request.",
                                 labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.versions = Gauge("serving_model_versions", "Model versions known to the server, by state.",
                              ("model", "state"), registry=self.registry)

    def observe(self, *, model: str, version: str, api: str, code: str, seconds: float) -> None:
        self.requests.labels(model, version, api, code).inc()
        if code != "OK":
            self.errors.labels(model, version, api, code).inc()
        self.latency.labels(model, version, api).observe(seconds)

    def set_version_states(self, summary: dict[str, dict[int, str]]) -> None:
        self.versions.clear()
        for model, versions in summary.items():
            for state in ("START", "LOADING", "AVAILABLE", "UNLOADING", "END"):
                self.versions.labels(model, state).set(sum(1 for s in versions.values() if s == state))

    def render(self) -> bytes:
        return generate_latest(self.registry)

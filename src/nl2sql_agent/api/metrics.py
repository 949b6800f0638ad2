"""Prometheus metrics, in a registry per app so several apps (tests, replicas in one process) never clash."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class Metrics:
    """The service's counters and histograms."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    answers: Counter
    errors: Counter
    cache: Counter
    tokens: Counter
    cost: Counter
    steps: Counter


def make_metrics() -> Metrics:
    """A fresh registry with every metric registered."""
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter(
            "nl2sql_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "nl2sql_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        ),
        answers=Counter("nl2sql_answers", "Answers by status", ["status"], registry=registry),
        errors=Counter("nl2sql_errors", "Error responses by code", ["code"], registry=registry),
        cache=Counter("nl2sql_answer_cache", "Answer cache lookups by result", ["result"], registry=registry),
        tokens=Counter("nl2sql_model_tokens", "Model tokens spent", ["direction"], registry=registry),
        cost=Counter("nl2sql_cost_usd", "Dollars spent on model calls", registry=registry),
        steps=Counter("nl2sql_graph_steps", "Graph steps streamed, by node", ["node"], registry=registry),
    )

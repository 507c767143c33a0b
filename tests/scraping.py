"""Scrape a Prometheus endpoint and look up samples, for the metrics tests."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families


def parse_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of a Prometheus text page, keyed by name and sorted labels."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return parse_samples(httpx.get(url, timeout=10).text)


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def has_sample(samples, name: str, **labels: str) -> bool:
    return (name, tuple(sorted(labels.items()))) in samples


def redis_node_label(redis_url: str) -> str:
    """Return the "host:port" that the pool metrics name a Redis server by."""
    parts = urlsplit(redis_url)
    return f"{parts.hostname}:{parts.port or 6379}"

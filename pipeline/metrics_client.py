"""Read a worker's /metrics: how the embedded supervisor and tests see inside a worker."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> Samples:
    """Every sample as {(name, sorted labels): value}; empty if the endpoint is not up."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of `name` over samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def histogram_buckets(samples: Samples, name: str, **labels: str) -> dict[float, float]:
    """A histogram's cumulative counts by upper bound, summed over series whose labels
    include `labels`."""
    wanted = set(labels.items())
    buckets: dict[float, float] = {}
    for (n, ls), value in samples.items():
        if n == f"{name}_bucket" and wanted <= set(ls):
            bound = float(dict(ls)["le"])
            buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, ls), v in samples.items():
        if n == name:
            key = dict(ls).get(label, "")
            out[key] = out.get(key, 0.0) + v
    return out

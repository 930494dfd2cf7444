"""Prometheus metrics in the text exposition format (version 0.0.4), written here so that serving needs no
prometheus_client: requests by endpoint, method and status, their latency, batch sizes per model, errors.

One `Metrics` object per app; every method takes a lock, so the event loop and the model threads may
record at once. Endpoint labels are route paths (`/translate`), never raw URLs, so a client probing random
paths adds one `other` series, not one per path.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Mapping

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; request latency ranges from a fraction of a millisecond (detect) to seconds (translation)."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Texts per model call."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


class _Histogram:
    """Cumulative bucket counts, sum and count of one labelled series."""

    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1


class Metrics:
    """The server's counters and histograms; `render` returns them as Prometheus text."""

    def __init__(self, prefix: str = "xling"):
        self.prefix = prefix
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[str, dict[Labels, _Histogram]] = {}
        self._gauges: dict[str, dict[Labels, float]] = {}
        self._help: dict[str, str] = {}

    def request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency (a method outside HTTP's usual ones as `other`: the
        HTTP parser accepts any token, and one series each would grow without bound)."""
        method = method if method in HTTP_METHODS else "other"
        self.count("requests_total", "HTTP requests by endpoint, method and status.",
                   endpoint=endpoint, method=method, status=str(status))  # fmt: skip
        self.observe("request_duration_seconds", "HTTP request latency in seconds.", LATENCY_BUCKETS, seconds,
                     endpoint=endpoint)  # fmt: skip

    def error(self, endpoint: str, kind: str) -> None:
        """Count one error answer: `kind` is what went wrong (validation, auth, rate_limit, model_unavailable,
        XlingError subclass names, internal)."""
        self.count("errors_total", "Error answers by endpoint and kind.", endpoint=endpoint, kind=kind)

    def batch(self, model: str, texts: int, requests: int, seconds: float) -> None:
        """Record one model call of a batcher: texts in it, requests it served, seconds it took."""
        self.observe("batch_size_texts", "Texts per model call.", BATCH_BUCKETS, texts, model=model)
        self.observe("batch_size_requests", "Requests served per model call.", BATCH_BUCKETS, requests,
                     model=model)  # fmt: skip
        self.observe(
            "batch_duration_seconds", "Seconds per model call.", LATENCY_BUCKETS, seconds, model=model
        )

    def set_gauge(self, name: str, help: str, value: float, **labels: str) -> None:
        """Set a gauge (models loaded, requests in flight)."""
        with self._lock:
            self._help.setdefault(name, help)
            self._gauges.setdefault(name, {})[_labels(labels)] = value

    def add_gauge(self, name: str, help: str, delta: float, **labels: str) -> None:
        """Add `delta` to a gauge."""
        with self._lock:
            self._help.setdefault(name, help)
            series = self._gauges.setdefault(name, {})
            key = _labels(labels)
            series[key] = series.get(key, 0.0) + delta

    def count(self, name: str, help: str, value: float = 1.0, **labels: str) -> None:
        """Add `value` to a counter."""
        with self._lock:
            self._help.setdefault(name, help)
            series = self._counters.setdefault(name, {})
            key = _labels(labels)
            series[key] = series.get(key, 0.0) + value

    def observe(self, name: str, help: str, buckets: tuple[float, ...], value: float, **labels: str) -> None:
        """Add one observation to a histogram."""
        with self._lock:
            self._help.setdefault(name, help)
            series = self._histograms.setdefault(name, {})
            key = _labels(labels)
            if key not in series:
                series[key] = _Histogram(buckets)
            series[key].observe(value)

    def counter_value(self, name: str, **labels: str) -> float:
        """Return a counter's value (0 when never counted); for tests and the health page."""
        with self._lock:
            return self._counters.get(name, {}).get(_labels(labels), 0.0)

    def render(self) -> str:
        """Return every metric in the Prometheus text format."""
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self._counters.items()):
                lines += _header(self.prefix, name, self._help[name], "counter")
                lines += [
                    f"{self.prefix}_{name}{_format(labels)} {_number(v)}"
                    for labels, v in sorted(series.items())
                ]
            for name, series in sorted(self._gauges.items()):
                lines += _header(self.prefix, name, self._help[name], "gauge")
                lines += [
                    f"{self.prefix}_{name}{_format(labels)} {_number(v)}"
                    for labels, v in sorted(series.items())
                ]
            for name, hists in sorted(self._histograms.items()):
                lines += _header(self.prefix, name, self._help[name], "histogram")
                for labels, hist in sorted(hists.items()):
                    lines += _histogram_lines(f"{self.prefix}_{name}", labels, hist)
        return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((key, str(value)) for key, value in labels.items()))


def _header(prefix: str, name: str, help: str, kind: str) -> list[str]:
    return [f"# HELP {prefix}_{name} {help}", f"# TYPE {prefix}_{name} {kind}"]


def _histogram_lines(name: str, labels: Labels, hist: _Histogram) -> Iterable[str]:
    running = 0
    for bound, count in zip((*hist.buckets, math.inf), hist.counts, strict=True):
        running += count
        le = "+Inf" if bound == math.inf else _number(bound)
        yield f"{name}_bucket{_format((*labels, ('le', le)))} {running}"
    yield f"{name}_sum{_format(labels)} {_number(hist.sum)}"
    yield f"{name}_count{_format(labels)} {hist.count}"


def _format(labels: Labels) -> str:
    """Return `{a="1",b="x"}` with the values escaped as the format requires (or "" without labels)."""
    if not labels:
        return ""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, value in labels)
    return "{" + ",".join(f'{key}="{value}"' for (key, _), value in zip(labels, escaped, strict=True)) + "}"


def _number(value: float) -> str:
    """Return a sample value as Prometheus writes it (integers without a decimal point)."""
    if value == math.inf:
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))

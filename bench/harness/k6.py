"""Run k6 scripts and read their summaries and per-request time series."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
K6_SCRIPTS = REPO_ROOT / "bench" / "k6"


@dataclass
class K6Result:
    name: str
    summary: dict
    # Per second since the start: requests, p50, p95, p99 (ms).
    timeline: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    exit_code: int = 0

    def metric(self, name: str) -> dict:
        return self.summary["metrics"].get(name, {})

    @property
    def requests(self) -> int:
        return int(self.metric("http_reqs").get("count", 0) or self.metric("grpc_req_duration").get("count", 0))

    @property
    def rate(self) -> float:
        reqs = self.metric("http_reqs")
        if reqs:
            return reqs["rate"]
        iterations = self.metric("iterations")
        return iterations.get("rate", 0.0)

    def latency(self, stat: str, metric: str | None = None) -> float:
        name = metric or ("http_req_duration" if self.metric("http_req_duration") else "grpc_req_duration")
        return float(self.metric(name).get(stat, float("nan")))

    @property
    def error_rate(self) -> float:
        for name in ("business_errors", "rpc_errors"):
            if self.metric(name):
                return float(self.metric(name).get("value", 0.0))
        return 0.0

    @property
    def failed_connections(self) -> int:
        """Requests that got no HTTP status at all (refused, reset or timed out)."""
        return int(self.metric("failed_connections").get("count", 0))


def run(
    name: str,
    script: str,
    env: dict[str, str],
    k6_path: str,
    workdir: Path,
    *,
    timeline: bool = True,
) -> K6Result:
    summary_path = workdir / f"{name}-summary.json"
    samples_path = workdir / f"{name}-samples.json.gz"
    command = [k6_path, "run", "--quiet", "--summary-export", str(summary_path)]
    if timeline:
        command += ["--out", f"json={samples_path}"]
    command.append(str(K6_SCRIPTS / script))
    log_path = workdir / f"{name}-k6.log"
    with open(log_path, "w") as log:
        completed = subprocess.run(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    if not summary_path.exists():
        raise RuntimeError(f"k6 wrote no summary for {name}; see {log_path}")
    result = K6Result(name, json.loads(summary_path.read_text()), exit_code=completed.returncode)
    if timeline and samples_path.exists():
        result.timeline = read_timeline(samples_path)
        samples_path.unlink()
    return result


def read_timeline(path: Path) -> list[tuple[int, int, float, float, float]]:
    """Bucket the request durations of a k6 JSON output file per second."""
    points: list[tuple[float, float]] = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            if '"http_req_duration"' not in line and '"grpc_req_duration"' not in line:
                continue
            sample = json.loads(line)
            if sample.get("type") != "Point":
                continue
            points.append((datetime.fromisoformat(sample["data"]["time"]).timestamp(), sample["data"]["value"]))
    if not points:
        return []
    # Samples from many virtual users arrive slightly out of order.
    start = min(moment for moment, _ in points)
    buckets: dict[int, list[float]] = defaultdict(list)
    for moment, value in points:
        buckets[int(moment - start)].append(value)
    timeline = []
    for second in sorted(buckets):
        values = np.array(buckets[second])
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        timeline.append((second, len(values), float(p50), float(p95), float(p99)))
    return timeline

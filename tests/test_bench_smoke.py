"""A short run of the benchmark harness: every scenario runs and every audit passes.

This checks the harness works; it measures nothing (benchmarks are not
timed tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_bench_smoke_runs_and_audits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}

    result = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    for scenario in ("shim-floor-20", "seed-20", "seed-50", "durable-20", "grpc-noop", "grpc-reserve", "grpc-book", "grpc-get-event", "lever-no-group-commit-20"):
        assert f"| {scenario} |" in report, f"{scenario} missing from the report"
    assert "FAILED" not in report
    assert (tmp_path / "seed-20.png").stat().st_size > 1000

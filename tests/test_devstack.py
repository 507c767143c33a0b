"""`python -m devstack up` / `down`, as `make up` and `make down` run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_devstack(command: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "devstack", command, "--run-dir", str(run_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still has a process id until its parent reaps it.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_up_writes_addresses_and_down_stops_all(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    up = run_devstack("up", run_dir)
    assert up.returncode == 0, up.stderr
    try:
        env_lines = dict(line.split("=", 1) for line in (run_dir / "stack.env").read_text().splitlines())
        assert set(env_lines) == {
            "REST_URL", "BOOKING_GRPC", "INVENTORY_GRPC", "DATABASE_URL", "REDIS_URL",
            "INVENTORY_METRICS_URL", "BOOKING_METRICS_URL", "REST_METRICS_URL",
        }
        for key in ("DATABASE_URL", "REDIS_URL", "REST_URL"):
            assert "127.0.0.1" in env_lines[key], f"{key} is not on loopback: {env_lines[key]}"
        assert ":5432/" not in env_lines["DATABASE_URL"]
        assert ":6379/" not in env_lines["REDIS_URL"]
        assert httpx.get(f"{env_lines['REST_URL']}/readyz", timeout=10).status_code == 200
        for key in ("INVENTORY_METRICS_URL", "BOOKING_METRICS_URL", "REST_METRICS_URL"):
            scrape = httpx.get(env_lines[key], timeout=10)
            assert scrape.status_code == 200, key
            assert "# TYPE" in scrape.text, key
        pids = json.loads((run_dir / "stack.json").read_text())["processes"]
        assert set(pids) == {"postgres", "redis", "inventory", "booking", "rest"}
    finally:
        down = run_devstack("down", run_dir)

    assert down.returncode == 0, down.stderr
    still_running = [name for name, pid in pids.items() if process_exists(pid)]
    assert still_running == []
    assert not (run_dir / "stack.json").exists()
    assert not (run_dir / "stack.env").exists()


def test_down_without_stack_is_harmless(tmp_path: Path) -> None:
    result = run_devstack("down", tmp_path)
    assert result.returncode == 0
    assert "no running stack" in result.stdout

"""`python -m devstack up` / `down`, as `make up` and `make down` run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def env_lines(run_dir: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (run_dir / "stack.env").read_text().splitlines())


def test_status_reports_stopped_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_devstack("up", run_dir).returncode == 0
    try:
        healthy = run_devstack("status", run_dir)
        assert healthy.returncode == 0, healthy.stderr
        assert json.loads(healthy.stdout)["running"]["rest"] is True

        rest_pid = json.loads((run_dir / "stack.json").read_text())["processes"]["rest"]
        os.kill(rest_pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while process_exists(rest_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        broken = run_devstack("status", run_dir)

        assert broken.returncode == 1
        assert json.loads(broken.stdout)["running"]["rest"] is False
        assert "not running: rest" in broken.stderr
    finally:
        down = run_devstack("down", run_dir)
    assert "not running before `down`: rest" in down.stdout


def test_restart_keeps_stock_counters(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_devstack("up", run_dir).returncode == 0
    try:
        rest_url = env_lines(run_dir)["REST_URL"]
        event = httpx.post(f"{rest_url}/api/v1/events", json={"name": "restart", "total_tickets": 10}, timeout=10).json()
        first = httpx.post(f"{rest_url}/api/v1/book", json={"user_id": 1, "event_id": event["id"], "quantity": 3}, timeout=10)
        assert first.status_code == 200, first.text
    finally:
        assert run_devstack("down", run_dir).returncode == 0

    assert run_devstack("up", run_dir).returncode == 0
    try:
        rest_url = env_lines(run_dir)["REST_URL"]
        # Without the Redis data, this Book would get 503 for one hold lifetime.
        second = httpx.post(f"{rest_url}/api/v1/book", json={"user_id": 2, "event_id": event["id"], "quantity": 3}, timeout=10)
        after = httpx.get(f"{rest_url}/api/v1/events/{event['id']}", timeout=10).json()
    finally:
        run_devstack("down", run_dir)

    assert second.status_code == 200, second.text
    assert after["available_tickets"] == 4

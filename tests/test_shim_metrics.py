"""Metrics of the REST shim with several worker processes (prometheus_client multiprocess mode).

Each test starts its own `python -m rest_shim` in front of the session
stack's booking service, on a free loopback port, and stops it by its
process id.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from clients import BookingClient
from common import config_file
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess
from devstack.stack import REPO_ROOT, Stack
from rest_shim.config import SETTINGS as SHIM_SETTINGS
from tests.scraping import parse_samples, value

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Every variable the shim reads, and the multiprocess directory, so each test sets exactly what it needs.
SHIM_VARIABLES = {setting.env for setting in SHIM_SETTINGS} | {
    config_file.CONFIG_FILE_ENV, MULTIPROC_DIR_ENV, "prometheus_multiproc_dir",
}
LIVENESS_REQUESTS = 200
TICKETS = 30
BOOK_REQUESTS = 40
SCRAPES = 6
# Requests sent at once, each on a new connection, so that both workers accept some.
CONCURRENCY = 16
# Metric files are named <type>_<pid>.db, and gauges <type>_<mode>_<pid>.db.
METRIC_FILE = re.compile(r"^[a-z]+(?:_[a-z]+)?_(\d+)\.db$")

def writer_pids(directory: Path) -> set[int]:
    """Return the process ids that wrote metric files in directory."""
    pids = set()
    for path in directory.iterdir():
        match = METRIC_FILE.match(path.name)
        if match:
            pids.add(int(match.group(1)))
    return pids


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    """Shim processes that a test started, each stopped by its process id afterwards."""
    started: list[ManagedProcess] = []
    yield started
    for process in started:
        process.stop()


def start_shim(processes: list[ManagedProcess], stack: Stack, tmp_path: Path, workers: int,
               **extra: str) -> tuple[ManagedProcess, str]:
    """Start python -m rest_shim with TMPDIR=tmp_path/tmp, and return the process and its base URL."""
    port = free_port()
    temp_root = tmp_path / "tmp"
    temp_root.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in SHIM_VARIABLES}
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(temp_root),
        "LOG_LEVEL": "info",
        "REST_HOST": "127.0.0.1",
        "REST_PORT": str(port),
        "REST_WORKERS": str(workers),
        "BOOKING_TARGET": stack.booking_target,
    })
    env.update(extra)
    process = ManagedProcess(f"shim with {workers} workers", [sys.executable, "-m", "rest_shim"],
                             log_path=tmp_path / "rest.log", env=env, cwd=REPO_ROOT)
    process.start()
    processes.append(process)
    try:
        wait_for_port("127.0.0.1", port, 30, alive=process.alive)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"{process.name}: {exc}\n{process.log_path.read_text(errors='replace')}")
    return process, f"http://127.0.0.1:{port}"


def created_dirs(tmp_path: Path) -> list[Path]:
    """Return the directories that the shim created in its TMPDIR."""
    return sorted((tmp_path / "tmp").glob("rest-shim-metrics-*"))


async def send_requests(url: str, requests: list[tuple[str, str, dict | None]]) -> list[int]:
    """Send (method, path, JSON body) requests, CONCURRENCY at a time and each on a new connection.

    Returns the status codes in the order of the requests.
    """
    limit = asyncio.Semaphore(CONCURRENCY)
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=no_keep_alive) as client:

        async def send(method: str, path: str, body: dict | None) -> int:
            async with limit:
                response = await client.request(method, path, json=body)
                return response.status_code

        return await asyncio.gather(*(send(method, path, body) for method, path, body in requests))


def scrape_each(url: str, times: int) -> list[dict]:
    """Scrape url/metrics `times` times, each on a new connection."""
    return [parse_samples(httpx.get(f"{url}/metrics", timeout=10).text) for _ in range(times)]


# granian 2.8 forks its workers from the main process, so they keep the
# prometheus_client that the main process imported, while uvicorn starts
# new interpreters that import it again.
@pytest.mark.parametrize("server", ["uvicorn", "granian"])
async def test_two_workers_scrapes_show_all_requests(
    stack: Stack, booking: BookingClient, tmp_path: Path, processes: list[ManagedProcess], event_name: str,
    server: str,
) -> None:
    if server == "granian":
        pytest.importorskip("granian", reason="granian is an optional server, installed with the dev extras")
    event = await booking.create_event(event_name, TICKETS)
    process, url = start_shim(processes, stack, tmp_path, workers=2, REST_SERVER=server)
    [metrics_dir] = created_dirs(tmp_path)

    liveness = await send_requests(url, [("GET", "/healthz", None)] * LIVENESS_REQUESTS)
    book = await send_requests(url, [
        ("POST", "/api/v1/book", {"user_id": 1000 + i, "event_id": event.id, "quantity": 1})
        for i in range(BOOK_REQUESTS)
    ])
    scrapes = scrape_each(url, SCRAPES)

    assert liveness == [200] * LIVENESS_REQUESTS
    assert sorted(book) == [200] * TICKETS + [409] * (BOOK_REQUESTS - TICKETS)
    pids = writer_pids(metrics_dir)
    assert len(pids) == 2, f"metric files {sorted(p.name for p in metrics_dir.iterdir())}"
    assert process.pid not in pids, "the main process imported prometheus_client and wrote metrics"
    for samples in scrapes:
        assert value(samples, "rest_requests_total", route="liveness", status="200") == LIVENESS_REQUESTS
        assert value(samples, "rest_request_seconds_count", route="liveness") == LIVENESS_REQUESTS
        assert value(samples, "rest_requests_total", route="book", status="200") == TICKETS
        assert value(samples, "rest_requests_total", route="book", status="409") == BOOK_REQUESTS - TICKETS
        assert value(samples, "rest_request_seconds_count", route="book") == BOOK_REQUESTS
    # Each worker configures logging itself, also a uvicorn worker, which is a new interpreter.
    assert process.log_path.read_text().count("REST shim ready") == 2


async def test_created_dir_removed_after_stop(stack: Stack, tmp_path: Path, processes: list[ManagedProcess]) -> None:
    process, url = start_shim(processes, stack, tmp_path, workers=2)
    [metrics_dir] = created_dirs(tmp_path)
    statuses = await send_requests(url, [("GET", "/healthz", None)] * 20)
    files_while_running = sorted(p.name for p in metrics_dir.iterdir())
    mode_while_running = metrics_dir.stat().st_mode & 0o777

    code = process.stop(signal.SIGTERM)

    assert statuses == [200] * 20
    assert files_while_running, "no worker wrote a metric file"
    assert mode_while_running == 0o700
    assert code == 0, process.log_path.read_text(errors="replace")
    assert not metrics_dir.exists()
    assert created_dirs(tmp_path) == []


def write_stale_counter(directory: Path, pid: int, count: float) -> Path:
    """Write a metric file as a worker of an earlier run would have left it."""
    path = directory / f"counter_{pid}.db"
    stale = MmapedDict(str(path))
    key = mmap_key("rest_requests", "rest_requests_total", ["route", "status"], ["liveness", "200"],
                   "HTTP requests by route and status")
    stale.write_value(key, count, 0.0)
    stale.close()
    return path


async def test_given_dir_cleared_and_kept(stack: Stack, tmp_path: Path, processes: list[ManagedProcess]) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = write_stale_counter(metrics_dir, pid=1, count=1000)
    other_file = metrics_dir / "notes.txt"
    other_file.write_text("not a metric file")
    [stale_family] = MultiProcessCollector.merge([str(stale)])
    process, url = start_shim(processes, stack, tmp_path, workers=2, **{MULTIPROC_DIR_ENV: str(metrics_dir)})

    statuses = await send_requests(url, [("GET", "/healthz", None)] * 50)
    scrapes = scrape_each(url, SCRAPES)
    pids = writer_pids(metrics_dir)
    code = process.stop(signal.SIGTERM)

    assert [s.value for s in stale_family.samples] == [1000]
    assert statuses == [200] * 50
    assert len(pids) == 2, f"metric files {sorted(p.name for p in metrics_dir.iterdir())}"
    assert 1 not in pids
    for samples in scrapes:
        assert value(samples, "rest_requests_total", route="liveness", status="200") == 50
    assert code == 0
    assert metrics_dir.is_dir()
    assert other_file.read_text() == "not a metric file"
    assert created_dirs(tmp_path) == []


async def test_one_worker_keeps_metrics_in_memory(
    stack: Stack, tmp_path: Path, processes: list[ManagedProcess]
) -> None:
    _, url = start_shim(processes, stack, tmp_path, workers=1)

    statuses = await send_requests(url, [("GET", "/healthz", None)] * 10)
    [samples] = scrape_each(url, 1)

    assert statuses == [200] * 10
    assert created_dirs(tmp_path) == []
    assert value(samples, "rest_requests_total", route="liveness", status="200") == 10
    # The process collector of the default registry, which multiprocess mode leaves out.
    assert ("process_cpu_seconds_total", ()) in samples


def test_main_module_imports_no_prometheus_client() -> None:
    script = (
        "import sys, rest_shim.__main__, uvicorn\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'prometheus_client'))\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_unusable_given_dir_exits_with_message(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "metrics"
    not_a_directory.write_text("a file")
    env = {key: value for key, value in os.environ.items() if key not in SHIM_VARIABLES}
    env.update({"PYTHONPATH": str(REPO_ROOT), "REST_WORKERS": "2", "BOOKING_TARGET": "127.0.0.1:1",
                MULTIPROC_DIR_ENV: str(not_a_directory / "sub")})

    result = subprocess.run([sys.executable, "-m", "rest_shim"], capture_output=True, text=True, timeout=60,
                            cwd=REPO_ROOT, env=env)

    assert result.returncode == 2
    assert "failed to prepare the metrics directory" in result.stderr
    assert str(not_a_directory / "sub") in result.stderr
    assert f"Set {MULTIPROC_DIR_ENV} to a writable directory, or unset it." in result.stderr

"""Start and stop the whole stack: PostgreSQL, Redis, inventory, booking and the REST shim."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_for_port
from devstack.postgres import PostgresServer
from devstack.process import ManagedProcess
from devstack.redis import RedisServer

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = "stack.json"
ENV_FILE = "stack.env"


@dataclass
class ServiceSpec:
    name: str
    module: str
    port: int
    env: dict[str, str]


@dataclass
class Stack:
    """One run of the stack in run_dir. Servers named by DATABASE_URL / REDIS_URL are used, not started."""

    run_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Keep the private Redis' data across restarts (see RedisServer).
    persist_redis: bool = False
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    specs: dict[str, ServiceSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir.resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        inventory_port, booking_port, rest_port = free_port(), free_port(), free_port()
        self.metrics_ports = {"inventory": free_port(), "booking": free_port()}
        self.specs = {
            "inventory": ServiceSpec("inventory", "inventory_service", inventory_port, {
                "INVENTORY_HOST": "127.0.0.1", "INVENTORY_PORT": str(inventory_port),
                "INVENTORY_METRICS_PORT": str(self.metrics_ports["inventory"]),
            }),
            "booking": ServiceSpec("booking", "booking_service", booking_port, {
                "BOOKING_HOST": "127.0.0.1", "BOOKING_PORT": str(booking_port),
                "BOOKING_METRICS_PORT": str(self.metrics_ports["booking"]),
                "INVENTORY_TARGET": f"127.0.0.1:{inventory_port}",
            }),
            "rest": ServiceSpec("rest", "rest_shim", rest_port, {
                "REST_HOST": "127.0.0.1", "REST_PORT": str(rest_port),
                "BOOKING_TARGET": f"127.0.0.1:{booking_port}",
            }),
        }

    # -- addresses ---------------------------------------------------------

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        assert self.postgres is not None
        return self.postgres.url

    @property
    def cache_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        assert self.redis is not None
        return self.redis.url

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.specs['rest'].port}"

    @property
    def booking_target(self) -> str:
        return f"127.0.0.1:{self.specs['booking'].port}"

    @property
    def inventory_target(self) -> str:
        return f"127.0.0.1:{self.specs['inventory'].port}"

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def addresses(self) -> dict[str, str]:
        return {
            "REST_URL": self.rest_url,
            "BOOKING_GRPC": self.booking_target,
            "INVENTORY_GRPC": self.inventory_target,
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.cache_url,
            "INVENTORY_METRICS_URL": self.metrics_url("inventory"),
            "BOOKING_METRICS_URL": self.metrics_url("booking"),
            "REST_METRICS_URL": f"{self.rest_url}/metrics",
        }

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        if not self.database_url:
            self.postgres = PostgresServer(self.run_dir)
            self.postgres.start()
        if not self.redis_url:
            self.redis = RedisServer(self.run_dir, persist=self.persist_redis)
            self.redis.start()
        for name in ("inventory", "booking", "rest"):
            self.start_service(name)
        logger.info("stack up in %.1f s: %s", time.monotonic() - started, self.rest_url)

    def service_env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"DATABASE_URL": self.db_url, "REDIS_URL": self.cache_url})
        env.update(self.specs[name].env)
        env.update(self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start_service(self, name: str, timeout: float = 30.0) -> None:
        spec = self.specs[name]
        process = ManagedProcess(
            name,
            [sys.executable, "-m", spec.module],
            log_path=self.run_dir / "logs" / f"{name}.log",
            env=self.service_env(name),
            cwd=REPO_ROOT,
        )
        process.start()
        self.services[name] = process
        try:
            wait_for_port("127.0.0.1", spec.port, timeout, alive=process.alive)
        except (RuntimeError, TimeoutError) as exc:
            tail = _tail(process.log_path)
            raise RuntimeError(f"{name} did not start: {exc}\n--- last lines of {process.log_path} ---\n{tail}") from None

    def stop_service(self, name: str, sig: signal.Signals = signal.SIGTERM) -> int | None:
        process = self.services.get(name)
        return process.stop(sig, timeout=20) if process else None

    def stop(self) -> None:
        for name in ("rest", "booking", "inventory"):
            self.stop_service(name)
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()

    # -- state shared between `make up` and `make down` ----------------------

    def write_state(self) -> None:
        processes = {name: p.pid for name, p in self.services.items()}
        if self.postgres and self.postgres.process:
            processes["postgres"] = self.postgres.process.pid
        if self.redis and self.redis.process:
            processes["redis"] = self.redis.process.pid
        state = {
            "addresses": self.addresses(),
            "processes": processes,
            "postgres_data": str(self.postgres.data_dir) if self.postgres else None,
        }
        (self.run_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        lines = [f"{key}={value}" for key, value in self.addresses().items()]
        (self.run_dir / ENV_FILE).write_text("\n".join(lines) + "\n")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Stop order for `make down`: services first so none loses its database mid-call.
STOP_ORDER = ["rest", "booking", "inventory", "redis", "postgres"]
STOP_SIGNALS = {"postgres": signal.SIGINT}
COMMAND_MARKERS = {
    "rest": "rest_shim", "booking": "booking_service", "inventory": "inventory_service",
    "redis": "redis-server", "postgres": "postgres",
}


def process_running(name: str, pid: int) -> bool:
    """Return whether pid runs and its command line is the one devstack started for name.

    A process id reused by another program counts as not running.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # The process exists but belongs to another user.
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "State:\tZ" in status:
        return False
    return COMMAND_MARKERS.get(name, name) in command_line


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_from_state(run_dir: Path, timeout: float = 20.0) -> list[str]:
    """Stop the processes recorded by write_state, each by its recorded process id.

    A process id whose command line no longer matches what was started is
    left alone: the process ended and the id was reused.
    """
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        return []
    state = json.loads(state_path.read_text())
    stopped = []
    for name in STOP_ORDER:
        pid = state["processes"].get(name)
        if not pid or not process_running(name, pid):
            continue
        try:
            os.killpg(pid, STOP_SIGNALS.get(name, signal.SIGTERM))
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _running(pid):
            logger.warning("%s (pid %d) still running after %.0f s; sending SIGKILL", name, pid, timeout)
            os.killpg(pid, signal.SIGKILL)
        stopped.append(name)
    state_path.unlink()
    return stopped

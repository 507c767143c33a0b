"""A private Redis server on a loopback port, with or without an append-only file."""

from __future__ import annotations

import signal
from pathlib import Path

from devstack.binaries import redis_binary
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess


class RedisServer:
    """A redis-server process whose files live in run_dir/redis.

    With persist=False (tests) it keeps nothing on disk, so a restart starts
    empty and the stock counters are rebuilt from PostgreSQL. With
    persist=True (`make up`) it keeps an append-only file, written every
    second and on shutdown, so a stopped stack restarts with its counters
    as it restarts with its PostgreSQL data.
    """

    def __init__(self, run_dir: Path, *, port: int | None = None, persist: bool = False) -> None:
        self.run_dir = run_dir
        self.port = port or free_port()
        self.persist = persist
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        data_dir = self.run_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        if self.persist:
            storage = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            storage = ["--save", "", "--appendonly", "no"]
        argv = [
            redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            *storage, "--dir", str(data_dir),
            "--protected-mode", "yes", "--maxclients", "10000",
        ]
        self.process = ManagedProcess("redis", argv, log_path=self.run_dir / "logs" / "redis.log")
        self.process.start()
        wait_for_port("127.0.0.1", self.port, timeout, alive=self.process.alive)

    def stop(self) -> None:
        if self.process:
            self.process.stop(signal.SIGTERM, timeout=15)

    def kill(self) -> None:
        if self.process:
            self.process.kill()

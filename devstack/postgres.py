"""A private PostgreSQL server in a folder of its own, on a loopback port."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from devstack.binaries import postgres_binary
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess, as_user

logger = logging.getLogger(__name__)

DATABASE = "booking"
SUPERUSER = "booking"
# PostgreSQL refuses to run as root; as root the server runs as this account.
UNPRIVILEGED_USER = "postgres"


def _world_traversable(path: Path) -> bool:
    """Return whether every folder from / down to path lets other users pass through."""
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


class PostgresServer:
    """initdb once, then start, stop, kill and restart one postgres process."""

    def __init__(self, run_dir: Path, *, port: int | None = None) -> None:
        self.run_dir = run_dir
        self.port = port or free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = UNPRIVILEGED_USER
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                raise RuntimeError(
                    "running as root, PostgreSQL needs an unprivileged account to run as, and "
                    f"there is no user {self.user!r}; create one or run as a normal user"
                ) from None
        self.data_dir = self._choose_data_dir()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _choose_data_dir(self) -> Path:
        wanted = self.run_dir / "postgres"
        if self.user is None or _world_traversable(self.run_dir):
            return wanted
        # The account the server runs as cannot reach the run folder, so the
        # data lives in a private temporary folder, linked from the run folder.
        if wanted.is_symlink():
            return wanted.resolve()
        temporary = Path(tempfile.mkdtemp(prefix="booking-monitor-pg-"))
        wanted.parent.mkdir(parents=True, exist_ok=True)
        wanted.symlink_to(temporary)
        return temporary

    def _own(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.data_dir)
        os.chmod(self.data_dir, 0o700)
        command = [
            postgres_binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions",
        ]
        started = time.monotonic()
        result = subprocess.run(as_user(command, self.user), capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed with status {result.returncode}: {result.stderr.strip()}")
        logger.info("initdb of %s took %.1f s", self.data_dir, time.monotonic() - started)

    def start(self, timeout: float = 30.0) -> None:
        self.initdb()
        argv = [
            postgres_binary("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "shared_buffers=256MB",
            "-c", "logging_collector=off",
        ]
        self.process = ManagedProcess("postgres", argv, log_path=self.run_dir / "logs" / "postgres.log",
                                      user=self.user, cwd=Path("/"))
        self.process.start()
        wait_for_port("127.0.0.1", self.port, timeout, alive=self.process.alive)
        self._wait_ready(timeout)
        self._create_database()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                # Accepting TCP while still starting up or recovering.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _create_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions and stop."""
        if self.process:
            self.process.stop(signal.SIGINT, timeout=30)

    def kill(self) -> None:
        """SIGKILL the server and all its backends, as a crash would."""
        if self.process:
            self.process.kill()

    def remove(self) -> None:
        target = self.data_dir
        link = self.run_dir / "postgres"
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(target, ignore_errors=True)

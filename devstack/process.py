"""A child process in its own session, so it and its children stop together."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def as_user(argv: list[str], user: str | None) -> list[str]:
    """Prefix argv so the command runs as `user`, through setpriv.

    Popen(user=...) would switch users between fork and exec, which makes
    Python fork instead of vfork; forking a process whose gRPC threads are
    busy occasionally crashed the child before exec. setpriv switches after
    exec, so the usual fast spawn path stays in use.
    """
    if user is None:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError(f"running {argv[0]} as {user} needs setpriv (Debian package util-linux)")
    return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", "--reset-env", "--", *argv]


class ManagedProcess:
    """Start a command with its output in a log file; stop it by its process group id."""

    def __init__(self, name: str, argv: list[str], *, log_path: Path, env: dict[str, str] | None = None,
                 user: str | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = as_user(argv, user)
        self.log_path = log_path
        self.env = env
        self.user = user
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        logger.info("started %s (pid %d), log %s", self.name, self.proc.pid, self.log_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: signal.Signals) -> None:
        """Send sig to the whole process group started for this process."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Send sig, wait up to timeout seconds, then SIGKILL; return the exit status."""
        if self.proc is None:
            return None
        if self.alive():
            self.send_signal(sig)
            started = time.monotonic()
            code = self.wait(timeout)
            if code is None:
                logger.warning("%s (pid %d) did not stop within %.0f s after %s; killing it",
                               self.name, self.proc.pid, timeout, sig.name)
                self.kill()
            else:
                logger.info("%s (pid %d) stopped in %.2f s with status %d", self.name, self.proc.pid,
                            time.monotonic() - started, code)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the process group and reap the process."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

"""Find the PostgreSQL and Redis server binaries, or say which package provides them."""

from __future__ import annotations

import glob
import os
import shutil


class MissingBinary(RuntimeError):
    pass


def _postgres_bin_dirs() -> list[str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    return found + ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]


def postgres_binary(name: str) -> str:
    """Return the path of initdb or postgres, preferring the one on PATH."""
    path = shutil.which(name)
    if path:
        return path
    for folder in _postgres_bin_dirs():
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise MissingBinary(
        f"PostgreSQL's {name} was not found on PATH or in /usr/lib/postgresql/*/bin; "
        "install the server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) "
        "or set DATABASE_URL to a server you run yourself"
    )


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    raise MissingBinary(
        "redis-server was not found on PATH; install it (Debian/Ubuntu: apt-get install redis-server; "
        "macOS: brew install redis) or set REDIS_URL to a server you run yourself"
    )

"""Describe the machine and the tool versions a report was measured with."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "not found"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def describe(k6_path: str) -> dict[str, str]:
    from devstack.binaries import postgres_binary, redis_binary

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return {
        "cpu": f"{os.cpu_count()} cores, {cpu_model()}",
        "memory": f"{memory_gib():.0f} GiB",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "k6": _first_line([k6_path, "version"]),
        "nginx": _first_line([nginx, "-v"]),
        "postgres": _first_line([postgres_binary("postgres"), "--version"]),
        "redis": _first_line([redis_binary(), "--version"]),
    }

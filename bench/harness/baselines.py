"""Baselines measured in the same run: nginx answering a constant, and a
no-op grpc.aio server."""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess

NGINX_CONFIG = """\
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (str(Path("/usr/sbin/nginx")) if Path("/usr/sbin/nginx").exists() else None)


class NginxBaseline:
    """nginx returning {"status":"ok"} on every path: the load generator's ceiling on this machine."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir / "nginx"
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx not found; install it (Debian: apt-get install nginx-light)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "nginx.conf"
        config.write_text(NGINX_CONFIG.format(prefix=self.workdir, port=self.port))
        self.process = ManagedProcess(
            "nginx",
            [binary, "-c", str(config), "-p", str(self.workdir), "-g", "daemon off;"],
            log_path=self.workdir / "stdout.log",
        )
        self.process.start()
        wait_for_port("127.0.0.1", self.port, 15, alive=self.process.alive)

    def stop(self) -> None:
        if self.process:
            self.process.stop(signal.SIGQUIT, timeout=10)


class NoopGrpcBaseline:
    """A grpc.aio server whose GetStock returns a constant: the gRPC floor cost per call."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = ManagedProcess(
            "noop-grpc",
            [sys.executable, "-m", "bench.harness.noop_server", str(self.port)],
            log_path=self.workdir / "noop-grpc.log",
            cwd=Path(__file__).resolve().parents[2],
        )
        self.process.start()
        wait_for_port("127.0.0.1", self.port, 15, alive=self.process.alive)

    def stop(self) -> None:
        if self.process:
            self.process.stop(signal.SIGTERM, timeout=10)

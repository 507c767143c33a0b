"""A private three-node Redis Cluster on loopback ports, keeping nothing on disk.

Each node is a primary without replicas, so the cluster tests slot routing
and cross-node batches, not failover.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from devstack.binaries import MissingBinary, redis_binary
from devstack.ports import free_port, wait_for_port
from devstack.process import ManagedProcess

NODE_COUNT = 3
# Each node also listens on its port plus this offset for the cluster bus.
BUS_PORT_OFFSET = 10_000


def redis_cli_binary() -> str:
    path = shutil.which("redis-cli")
    if path:
        return path
    raise MissingBinary(
        "redis-cli was not found on PATH; install it (Debian/Ubuntu: apt-get install redis-tools; "
        "macOS: brew install redis)"
    )


class LocalRedisCluster:
    """Three cluster-enabled redis-server processes joined into one cluster."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.ports = _node_ports(NODE_COUNT)
        self.processes: list[ManagedProcess] = []

    @property
    def url(self) -> str:
        """URL of the first node; a cluster client finds the other nodes from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout: float = 30.0) -> None:
        for port in self.ports:
            self._start_node(port, timeout)
        self._create_cluster(timeout)
        self._wait_until_ok(timeout)

    def stop(self) -> None:
        for process in self.processes:
            process.stop(signal.SIGTERM, timeout=15)

    def cli(self, port: int, *args: str, timeout: float = 10.0) -> str:
        """Run redis-cli against one node and return its output."""
        argv = [redis_cli_binary(), "-h", "127.0.0.1", "-p", str(port), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True)
        return done.stdout

    def _start_node(self, port: int, timeout: float) -> None:
        # Each node writes its own nodes.conf, so every node needs its own folder.
        node_dir = self.run_dir / "redis-cluster" / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--save", "", "--appendonly", "no", "--dir", str(node_dir),
            "--protected-mode", "yes", "--maxclients", "10000",
        ]
        process = ManagedProcess(
            f"redis-cluster-{port}", argv, log_path=self.run_dir / "logs" / f"redis-cluster-{port}.log"
        )
        process.start()
        self.processes.append(process)
        wait_for_port("127.0.0.1", port, timeout, alive=process.alive)

    def _create_cluster(self, timeout: float) -> None:
        argv = [
            redis_cli_binary(), "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas", "0", "--cluster-yes",
        ]
        log_path = self.run_dir / "logs" / "redis-cluster-create.log"
        with open(log_path, "ab") as log:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed with status {done.returncode}; see {log_path}")

    def _wait_until_ok(self, timeout: float) -> None:
        """Block until every node reports cluster_state:ok, because slots spread by gossip."""
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending:
            pending = [port for port in pending if "cluster_state:ok" not in self.cli(port, "CLUSTER", "INFO")]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Redis Cluster nodes on ports {pending} did not reach cluster_state:ok within {timeout:.0f} s")
            time.sleep(0.1)


def _node_ports(count: int) -> list[int]:
    """Pick distinct free ports whose cluster bus ports are free and at most 65535."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port in ports or port + BUS_PORT_OFFSET > 65535 or not _is_free(port + BUS_PORT_OFFSET):
            continue
        ports.append(port)
    return ports


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

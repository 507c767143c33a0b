"""Entry point: python -m rest_shim [--config PATH] [--help]. Serves the shim with uvicorn (or granian)."""

from __future__ import annotations

import argparse
import glob
import logging
import os
import shutil
import signal
import sys
import tempfile

from common import config_file, logs, settings
from rest_shim.config import CONFIG_TABLE, SETTINGS, ShimConfig

# This module must not import prometheus_client, directly or through
# rest_shim.app, rest_shim.limits or common.metrics, because
# prepare_metrics_dir must set PROMETHEUS_MULTIPROC_DIR first.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The older spelling, which prometheus_client 0.26 still reads, with a DeprecationWarning.
LEGACY_MULTIPROC_DIR_ENV = "prometheus_multiproc_dir"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rest_shim",
        description="Serve the booking REST API (JSON over HTTP) in front of the booking gRPC service.",
        epilog=config_file.describe(SETTINGS, CONFIG_TABLE),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help=config_file.OPTION_HELP)
    args = parser.parse_args(argv)
    config_path = config_file.resolve_path(args.config)
    try:
        config = ShimConfig.from_env(config_path)
    except settings.SettingsError as exc:
        print(f"REST shim: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    if config_path is not None:
        logging.getLogger("rest_shim").info("read settings from configuration file %s", config_path)
        # The app factory and rest_shim.protocol call ShimConfig.from_env()
        # again, in this process or in each worker process, and it finds the
        # file through CONFIG_FILE.
        # NOTE: each of those calls reads the file again, so a worker process
        # that uvicorn restarts after the file was edited gets the edited values.
        os.environ[config_file.CONFIG_FILE_ENV] = os.path.abspath(config_path)
    try:
        created_dir = prepare_metrics_dir(config.workers)
    except OSError as exc:
        print(f"REST shim: failed to prepare the metrics directory: {exc}. "
              f"Set {MULTIPROC_DIR_ENV} to a writable directory, or unset it.", file=sys.stderr)
        return 2
    owner_pid = os.getpid()
    try:
        if config.server == "uvicorn":
            serve_with_uvicorn(config)
        else:
            serve_with_granian(config)
    finally:
        # A worker forked from this process (granian) must not remove the
        # directory that the other workers still write to.
        if created_dir is not None and os.getpid() == owner_pid:
            remove_metrics_dir(created_dir)
    return 0


def remove_metrics_dir(path: str) -> None:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        logging.getLogger("rest_shim").warning("failed to remove the metrics directory %s: %s", path, exc)


def prepare_metrics_dir(workers: int) -> str | None:
    """Set up the directory of prometheus_client's multiprocess mode and export PROMETHEUS_MULTIPROC_DIR.

    Each worker process counts its own requests, so with several workers a
    scrape would see only the worker that serves it. In multiprocess mode
    each worker writes its values to files named <type>_<pid>.db in this
    directory, and GET /metrics returns their sums (Routes.metrics).

    - Several workers, variable unset: a new private directory (mode 0700)
      in the temporary directory, which main() removes when the shim stops.
    - Variable set: that directory, created if missing and never removed.
      Its *.db files of an earlier run are deleted first, as the
      prometheus_client documentation (client_python/multiprocess)
      requires. Otherwise the sums would include old counts, and a new
      worker that gets an old pid would continue from that pid's values.
    - One worker, variable unset: no directory, and the metrics stay in memory.

    Returns the directory that main() must remove, or None.

    prometheus_client chooses the mode once, when it is first imported
    (values.ValueClass in 0.26), and uvicorn's workers inherit the
    environment of this process. So the variable is set here, before any
    worker starts and before this process imports prometheus_client.
    granian forks its workers from this process, so an earlier import
    here would leave them all counting in memory.

    The files of a worker that exits stay, so its counts remain in the sums
    after uvicorn replaces it. The sums leave out the process_* metrics
    (CPU, memory, open files), which describe a single process.
    NOTE: uvicorn 0.55 has no hook for a worker's exit, so nothing calls
    prometheus_client.multiprocess.mark_process_dead. Only gauges in a
    live* mode need it, and the shim has no Gauge. A live gauge added later
    would keep the values of exited workers.
    """
    log = logging.getLogger("rest_shim")
    configured_dir = os.environ.get(MULTIPROC_DIR_ENV) or os.environ.get(LEGACY_MULTIPROC_DIR_ENV)
    if configured_dir:
        os.makedirs(configured_dir, exist_ok=True)
        stale_files = glob.glob(os.path.join(configured_dir, "*.db"))
        for path in stale_files:
            os.remove(path)
        os.environ[MULTIPROC_DIR_ENV] = configured_dir
        log.info("prometheus_client writes metric files to %s (deleted %d stale *.db files)",
                 configured_dir, len(stale_files))
        return None
    if workers == 1:
        return None
    created_dir = tempfile.mkdtemp(prefix="rest-shim-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = created_dir
    log.info("the %d worker processes write metric files to %s, removed when the shim stops", workers, created_dir)
    return created_dir


def _note_stop_signal(sig: int, frame: object) -> None:
    logging.getLogger("rest_shim").info("REST shim stopped after %s", signal.Signals(sig).name)


def serve_with_granian(config: ShimConfig) -> None:
    # granian is an optional alternative, installed with the dev extras.
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.server import Server

    Server(
        "rest_shim.app:create_app",
        address=config.host,
        port=config.port,
        interface=Interfaces.ASGI,
        workers=config.workers,
        loop=Loops.uvloop,
        backlog=config.backlog,
        factory=True,
        log_access=False,
        http1_settings=HTTP1Settings(header_read_timeout=config.header_timeout_ms),
    ).serve()


def serve_with_uvicorn(config: ShimConfig) -> None:
    import uvicorn

    # uvicorn shuts down gracefully on SIGTERM or SIGINT, then raises the
    # signal again under the handler that was installed before it started.
    # With these handlers that second delivery is logged and the process
    # exits 0 after a clean stop instead of dying from the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _note_stop_signal)

    uvicorn.run(
        "rest_shim.app:create_app",
        host=config.host,
        port=config.port,
        workers=config.workers,
        loop="uvloop",
        # httptools, with a deadline and a size limit for request headers.
        http="rest_shim.protocol:GuardedHttpToolsProtocol",
        timeout_keep_alive=config.keep_alive_s,
        backlog=config.backlog,
        factory=True,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    sys.exit(main())

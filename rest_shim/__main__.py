"""Entry point: python -m rest_shim [--config PATH] [--help]. Serves the shim with uvicorn (or granian)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from common import config_file, logs, settings
from rest_shim.config import CONFIG_TABLE, SETTINGS, ShimConfig


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
    if config.server == "uvicorn":
        serve_with_uvicorn(config)
    else:
        serve_with_granian(config)
    return 0


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

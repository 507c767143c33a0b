"""bookingctl stack up|down|status: the local stack of devstack, as `make up` runs it.

The run folder (default .run) contains stack.json with the process ids and
stack.env with the addresses, so `bookingctl stack down` or `make down`
can stop a stack that either of them started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import psycopg

from bookingctl import output
from bookingctl.environment import CommandError
from common.settings import redact_url
from devstack.binaries import MissingBinary
from devstack.stack import ENV_FILE, STATE_FILE, STOP_ORDER, Stack, process_running, stop_from_state


class ProgressFormatter(logging.Formatter):
    """Format devstack's log records as progress lines; warnings and errors keep their level."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"  {record.levelname.lower()}: {message}"
        return f"  {message}"


def show_devstack_progress() -> None:
    """Print devstack's log records (each process started, initdb, stops) to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ProgressFormatter())
    logger = logging.getLogger("devstack")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def stack_up(options: argparse.Namespace) -> int:
    run_dir: Path = options.run_dir
    if (run_dir / STATE_FILE).exists():
        raise CommandError(f"a stack is already recorded in {run_dir / STATE_FILE}; stop it with `bookingctl stack down`")
    stack = Stack(
        run_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        persist_redis=True,
    )
    print(f"starting the stack in {stack.run_dir}", file=sys.stderr)
    show_devstack_progress()
    try:
        stack.start()
    except KeyboardInterrupt:
        stack.stop()
        raise
    except (MissingBinary, RuntimeError, TimeoutError, OSError, psycopg.Error) as exc:
        stack.stop()
        # A service that did not start adds the tail of its log on further lines.
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(f"{first_line}; logs in {stack.run_dir / 'logs'}") from None
    stack.write_state()

    if options.json:
        output.print_json(json.loads((stack.run_dir / STATE_FILE).read_text()))
        return 0
    print(f"stack is up; addresses in {stack.run_dir / ENV_FILE}:")
    print((stack.run_dir / ENV_FILE).read_text(), end="")
    print(f"logs in {stack.run_dir / 'logs'}; stop it with `bookingctl stack down`")
    return 0


def stack_down(options: argparse.Namespace) -> int:
    run_dir: Path = options.run_dir
    recorded = (run_dir / STATE_FILE).exists()
    if recorded:
        print(f"stopping the stack recorded in {run_dir / STATE_FILE}", file=sys.stderr)
        show_devstack_progress()
    stopped = stop_from_state(run_dir)
    (run_dir / ENV_FILE).unlink(missing_ok=True)

    if options.json:
        output.print_json({"stopped": stopped})
    elif stopped:
        print(f"stopped: {', '.join(stopped)}")
    else:
        print(f"no running stack recorded in {run_dir}")
    return 0


def stack_status(options: argparse.Namespace) -> int:
    """Print what is recorded in the run folder; exit 1 unless every recorded process runs."""
    run_dir: Path = options.run_dir
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        raise CommandError(f"no stack recorded in {run_dir}; start one with `bookingctl stack up`")
    state = json.loads(state_path.read_text())
    processes = {
        name: {"pid": pid, "running": process_running(name, pid)}
        for name, pid in sorted(state["processes"].items(), key=lambda item: stop_position(item[0]))
    }
    stopped = [name for name, process in processes.items() if not process["running"]]
    # Passwords stay in stack.env, which only its owner should read.
    addresses = {key: redact_url(value) if key.endswith("_URL") else value for key, value in state["addresses"].items()}

    if options.json:
        output.print_json({"addresses": addresses, "processes": processes, "ok": not stopped})
    else:
        print(f"stack recorded in {state_path}")
        width = max(len(name) for name in processes)
        for name, process in processes.items():
            print(f"  {name:<{width}}  pid {process['pid']:<8}  {'running' if process['running'] else 'not running'}")
        print("addresses:")
        for key, value in addresses.items():
            print(f"  {key}={value}")
    if stopped:
        raise CommandError(
            f"not running: {', '.join(stopped)}; see {run_dir / 'logs'}, then `bookingctl stack down` and `bookingctl stack up`"
        )
    return 0


def stop_position(name: str) -> int:
    """Sort key that lists the backends first and the REST shim last, the order of starting."""
    return -STOP_ORDER.index(name) if name in STOP_ORDER else 0

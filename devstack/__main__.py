"""python -m devstack up|down|status|demo: run the embedded stack in the background.

`up` starts PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set),
the inventory service, the booking service and the REST shim, writes their
addresses to RUN_DIR/stack.env and returns. `down` stops what `up` started,
by process id, and nothing else. `demo` runs the main job: a private stack,
the k6 flash-sale scenario against it, an invariant audit and a report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from devstack.binaries import MissingBinary
from devstack.stack import ENV_FILE, STATE_FILE, Stack, process_running, stop_from_state

DEFAULT_RUN_DIR = Path(".run")


def up(run_dir: Path) -> int:
    if (run_dir / STATE_FILE).exists():
        print(f"a stack is already recorded in {run_dir / STATE_FILE}; run `make down` first", file=sys.stderr)
        return 1
    stack = Stack(
        run_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        persist_redis=True,
    )
    try:
        stack.start()
    except MissingBinary as exc:
        print(f"cannot start the stack: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    except Exception:
        stack.stop()
        raise
    stack.write_state()
    print(f"stack is up; addresses in {run_dir / ENV_FILE}:")
    print((run_dir / ENV_FILE).read_text(), end="")
    print(f"logs in {run_dir / 'logs'}; stop it with `make down`")
    return 0


def down(run_dir: Path) -> int:
    state_path = run_dir / STATE_FILE
    recorded = list(json.loads(state_path.read_text())["processes"]) if state_path.exists() else []
    stopped = stop_from_state(run_dir)
    if stopped:
        print(f"stopped: {', '.join(stopped)}")
    else:
        print("no running stack recorded in", run_dir)
    ended_before = [name for name in recorded if name not in stopped]
    if ended_before:
        print(f"not running before `down`: {', '.join(ended_before)}")
    (run_dir / ENV_FILE).unlink(missing_ok=True)
    return 0


def status(run_dir: Path) -> int:
    """Print the recorded stack with whether each process runs; exit 1 unless all do."""
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        print("no stack recorded in", run_dir)
        return 1
    state = json.loads(state_path.read_text())
    state["running"] = {name: process_running(name, pid) for name, pid in state["processes"].items()}
    print(json.dumps(state, indent=2))
    stopped = [name for name, running in state["running"].items() if not running]
    if stopped:
        print(f"not running: {', '.join(stopped)}; see {run_dir / 'logs'}, then `make down` and `make up`", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "demo"])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="run folder (default: .run)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if options.command == "demo":
        from devstack import demo

        return demo.main()
    command = {"up": up, "down": down, "status": status}[options.command]
    return command(options.run_dir)


if __name__ == "__main__":
    sys.exit(main())

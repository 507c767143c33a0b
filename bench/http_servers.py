"""Compare HTTP servers for the REST shim under k6 at a fixed number of virtual users.

For each server (granian, uvicorn) this starts a fresh embedded stack with
REST_SERVER set, runs bench/k6/floor.js (GET /healthz, no backend call) and
bench/k6/booking.js (the seed scenario), and prints a Markdown table.

Usage: python bench/http_servers.py [--vus 500] [--duration 20s] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devstack.demo import find_k6  # noqa: E402
from devstack.stack import Stack  # noqa: E402

SERVERS = ["granian", "uvicorn"]
SCENARIOS = {"floor (GET /healthz)": "floor.js", "booking (POST /api/v1/book)": "booking.js"}


def run_scenario(stack: Stack, script: str, vus: int, duration: str, summary: Path) -> dict:
    env = dict(os.environ, BASE_URL=stack.rest_url, VUS=str(vus), DURATION=duration, TICKETS="50000")
    subprocess.run(
        [find_k6(), "run", "--quiet", "--summary-export", str(summary), str(REPO_ROOT / "bench" / "k6" / script)],
        env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    metrics = json.loads(summary.read_text())["metrics"]
    return {
        "rps": metrics["http_reqs"]["rate"],
        "p50": metrics["http_req_duration"]["med"],
        "p95": metrics["http_req_duration"]["p(95)"],
        "p99": metrics["http_req_duration"]["p(99)"],
        "errors": metrics.get("business_errors", {}).get("value", 0.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vus", type=int, default=500)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="http-servers-") as scratch:
        for server in SERVERS:
            for label, script in SCENARIOS.items():
                stack = Stack(Path(scratch) / f"{server}-{script}", extra_env={"REST_SERVER": server})
                try:
                    stack.start()
                    result = run_scenario(stack, script, options.vus, options.duration, Path(scratch) / "summary.json")
                finally:
                    stack.stop()
                rows.append((server, label, result))
                print(f"{server:8s} {label:30s} {result['rps']:7.0f} req/s  p95 {result['p95']:7.1f} ms", flush=True)

    lines = [
        f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, k6 at {options.vus} looping virtual users for {options.duration} per row, "
        "k6 and the whole stack on the same machine.",
        "",
        f"Command: `python bench/http_servers.py --vus {options.vus} --duration {options.duration}`",
        "",
        "| server | scenario | requests/s | p50 ms | p95 ms | p99 ms | error rate |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for server, label, r in rows:
        lines.append(
            f"| {server} | {label} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['errors'] * 100:.2f}% |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if options.out:
        options.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m bench.harness [--smoke]: run every benchmark and write the dated report.

Full run (about 12 minutes on 2 cores): nginx and the shim's /healthz as
baselines, the seed scenario at 500 and 5,000 virtual users, a scenario that
never sells out, the no-op gRPC baseline and gRPC Reserve, Book and GetEvent.
`--smoke` runs each scenario for a few seconds with few users, to check the
harness and the audits. Its report goes to a temporary folder unless --out
is given.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import signal
import sys
import tempfile
from pathlib import Path

from bench.harness import machine, report, scenarios
from bench.harness.baselines import NginxBaseline, NoopGrpcBaseline, nginx_binary
from bench.harness.scenarios import ScenarioResult
from devstack.demo import find_k6
from devstack.stack import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "bench" / "results"

logger = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds per scenario, few users")
    parser.add_argument("--duration", default="60s", help="length of each REST scenario (default 60s)")
    parser.add_argument("--grpc-duration", default="20s", help="length of each gRPC scenario (default 20s)")
    parser.add_argument("--vus", default="500,5000", help="virtual users of the two seed runs (default 500,5000)")
    parser.add_argument("--grpc-concurrency", type=int, default=50, help="gRPC calls in flight (default 50)")
    parser.add_argument("--out", type=Path, help="report folder (default bench/results/YYYY-MM-DD)")
    parser.add_argument(
        "--no-levers", action="store_true", help="skip the lever runs (the seed scenario once per setting changed)"
    )
    options = parser.parse_args(argv)
    if options.smoke:
        options.duration, options.grpc_duration, options.vus, options.grpc_concurrency = "3s", "3s", "20,50", 10
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C, so the stacks and baselines started
    # here are stopped by their finally blocks instead of being orphaned.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    k6_path = find_k6()
    low_vus, high_vus = (int(v) for v in options.vus.split(","))
    today = datetime.date.today().isoformat()
    if options.out:
        out_dir = options.out
    elif options.smoke:
        out_dir = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    else:
        out_dir = RESULTS / today
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-work-"))
    results: list[ScenarioResult] = []
    notes: list[str] = []

    def step(message: str) -> None:
        logger.info("== %s", message)

    nginx = NginxBaseline(workdir)
    if nginx_binary():
        nginx.start()
        try:
            for vus in (low_vus, high_vus):
                step(f"nginx baseline, {vus} users")
                results.append(scenarios.floor(f"nginx-{vus}", nginx.url, vus, options.duration, k6_path, workdir))
        finally:
            nginx.stop()
    else:
        notes.append("nginx is not installed (Debian: apt-get install nginx-light), so its baseline was not measured.")

    stack = Stack(workdir / "stack")
    stack.start()
    try:
        step(f"shim floor (GET /healthz), {low_vus} users")
        results.append(scenarios.floor(f"shim-floor-{low_vus}", stack.rest_url, low_vus, options.duration, k6_path, workdir))
        for vus in (low_vus, high_vus):
            step(f"seed scenario, {vus} users, 50,000 tickets")
            results.append(scenarios.seed(f"seed-{vus}", stack, vus, options.duration, 50_000, k6_path, workdir))
        step(f"never sold out, {low_vus} users")
        results.append(
            scenarios.seed(
                f"durable-{low_vus}", stack, low_vus, options.duration, scenarios.NEVER_SOLD_OUT_TICKETS, k6_path, workdir
            )
        )
        results += grpc_scenarios(stack, options, k6_path, workdir, step)
    finally:
        stack.stop()

    lever_results = [] if options.no_levers else lever_runs(low_vus, options.duration, k6_path, workdir, step)

    by_name = {r.name: r for r in results}
    targets = evaluate_targets(by_name, low_vus, high_vus)
    settings = {
        "duration": options.duration,
        "gRPC duration": options.grpc_duration,
        "gRPC concurrency": str(options.grpc_concurrency),
        "virtual users": options.vus,
        "gRPC tool": scenarios.grpc_tool(),
    }
    notes.append(
        "ghz is not installed on this machine; the gRPC scenarios ran the same bench/ghz/*.json configurations "
        "through k6's gRPC client (bench/k6/grpc.js)." if scenarios.grpc_tool() == "k6" else "gRPC scenarios ran with ghz."
    )
    command = "make bench" if not options.smoke else "python -m bench.harness --smoke"
    notes += lever_notes(by_name.get(f"seed-{low_vus}"), lever_results)
    results += [lever for lever, _ in lever_results]
    text = report.render(
        title=f"Benchmark report, {today}",
        command=command,
        machine=machine.describe(k6_path),
        settings=settings,
        targets=targets,
        results=results,
        chart_dir=out_dir,
        report_path=out_dir / "report.md",
        notes=notes,
    )
    print(text)
    print(f"report written to {out_dir / 'report.md'}")
    failed_audits = [r.name for r in results if r.audit and not r.audit_ok]
    if failed_audits:
        print(f"FAILED: the audit found drift or oversell after {', '.join(failed_audits)}", file=sys.stderr)
        return 1
    return 0


# Each lever run changes one setting of the default stack and repeats the
# seed scenario at the lower user count, so its effect shows against seed-N.
LEVERS = {
    "no-group-commit": ({"GROUP_COMMIT_MAX_BATCH": "1"}, "one booking per INSERT transaction"),
    "no-sold-out-memory": ({"SOLD_OUT_MEMORY_MS": "0"}, "every sold-out request asks the inventory"),
    "two-shim-workers": ({"REST_WORKERS": "2"}, "two uvicorn worker processes for the shim"),
}


def lever_runs(vus: int, duration: str, k6_path: str, workdir: Path, step) -> list[tuple[ScenarioResult, str]]:
    runs = []
    for name, (env, description) in LEVERS.items():
        stack = Stack(workdir / f"lever-{name}", extra_env=env)
        stack.start()
        try:
            step(f"lever {name}: {description}")
            result = scenarios.seed(f"lever-{name}-{vus}", stack, vus, duration, 50_000, k6_path, workdir)
        finally:
            stack.stop()
        runs.append((result, description))
    return runs


def lever_notes(baseline: ScenarioResult | None, runs: list[tuple[ScenarioResult, str]]) -> list[str]:
    if baseline is None or baseline.k6 is None:
        return []
    notes = []
    for result, description in runs:
        if result.k6 is None:
            continue
        ratio = result.k6.rate / baseline.k6.rate if baseline.k6.rate else 0.0
        notes.append(
            f"Lever {result.name} ({description}): {result.k6.rate:.0f} requests/s, p95 "
            f"{result.k6.latency('p(95)'):.1f} ms, {ratio:.2f}x the requests/s of {baseline.name} "
            f"(p95 {baseline.k6.latency('p(95)'):.1f} ms) with the default settings."
        )
    return notes


def grpc_scenarios(stack: Stack, options: argparse.Namespace, k6_path: str, workdir: Path, step) -> list[ScenarioResult]:
    results = []
    noop = NoopGrpcBaseline(workdir)
    noop.start()
    try:
        step("no-op gRPC baseline")
        results.append(
            scenarios.grpc_scenario(
                "grpc-noop", "noop", noop.target, 1, options.grpc_concurrency, options.grpc_duration, k6_path, workdir
            )
        )
    finally:
        noop.stop()

    reserve_event = scenarios.create_event(stack, "bench gRPC Reserve", scenarios.NEVER_SOLD_OUT_TICKETS)
    step("gRPC Reserve (inventory service)")
    reserve = scenarios.grpc_scenario(
        "grpc-reserve", "reserve", stack.inventory_target, reserve_event,
        options.grpc_concurrency, options.grpc_duration, k6_path, workdir,
    )
    reserve.audit = scenarios.settled_audit(stack, [reserve_event])
    results.append(reserve)

    book_event = scenarios.create_event(stack, "bench gRPC Book", scenarios.NEVER_SOLD_OUT_TICKETS)
    step("gRPC Book (booking service, durable)")
    book = scenarios.grpc_scenario(
        "grpc-book", "book", stack.booking_target, book_event,
        options.grpc_concurrency, options.grpc_duration, k6_path, workdir,
    )
    book.audit = scenarios.settled_audit(stack, [book_event])
    book.notes.update(scenarios.write_statistics(stack, book_event))
    results.append(book)

    step("gRPC GetEvent (booking service, PostgreSQL read)")
    results.append(
        scenarios.grpc_scenario(
            "grpc-get-event", "get_event", stack.booking_target, book_event,
            options.grpc_concurrency, options.grpc_duration, k6_path, workdir,
        )
    )
    return results


def evaluate_targets(by_name: dict[str, ScenarioResult], low: int, high: int) -> list[report.Target]:
    targets = []
    seed_low, seed_high = by_name.get(f"seed-{low}"), by_name.get(f"seed-{high}")
    nginx_low, nginx_high = by_name.get(f"nginx-{low}"), by_name.get(f"nginx-{high}")
    if seed_low and seed_low.k6:
        run = seed_low.k6
        p95 = run.latency("p(95)")
        targets.append(report.Target(f"seed at {low} users: p95 under 200 ms", f"{p95:.1f} ms", p95 < 200))
        targets.append(report.Target(
            f"seed at {low} users: zero business errors", f"{run.error_rate * 100:.2f}%", run.error_rate == 0
        ))
        oversold = sum(e.oversold for e in seed_low.audit)
        targets.append(report.Target(f"seed at {low} users: zero oversold", str(oversold), oversold == 0 and seed_low.audit_ok))
        if nginx_low and nginx_low.k6:
            ratio = run.rate / nginx_low.k6.rate
            targets.append(report.Target(
                f"seed at {low} users: at least 0.5x nginx requests/s",
                f"{run.rate:.0f} / {nginx_low.k6.rate:.0f} = {ratio:.2f}x", ratio >= 0.5,
            ))
    if seed_high and seed_high.k6:
        run = seed_high.k6
        targets.append(report.Target(
            f"seed at {high} users: zero business errors", f"{run.error_rate * 100:.2f}%", run.error_rate == 0
        ))
        targets.append(report.Target(
            f"seed at {high} users: zero failed connections", str(run.failed_connections), run.failed_connections == 0
        ))
        if nginx_high and nginx_high.k6:
            ratio = run.latency("p(95)") / nginx_high.k6.latency("p(95)")
            targets.append(report.Target(
                f"seed at {high} users: p95 within 1.5x of nginx's p95",
                f"{run.latency('p(95)'):.1f} / {nginx_high.k6.latency('p(95)'):.1f} ms = {ratio:.2f}x", ratio <= 1.5,
            ))
    noop = by_name.get("grpc-noop")
    for name, share in (("grpc-reserve", 0.8), ("grpc-book", 0.4)):
        measured = by_name.get(name)
        if noop and noop.k6 and measured and measured.k6 and noop.k6.rate:
            ratio = measured.k6.rate / noop.k6.rate
            targets.append(report.Target(
                f"{name}: at least {share}x the no-op server's calls/s",
                f"{measured.k6.rate:.0f} / {noop.k6.rate:.0f} = {ratio:.2f}x", ratio >= share,
            ))
    durable = by_name.get(f"durable-{low}")
    if durable and durable.k6:
        bookings_rate = durable.k6.metric("bookings_confirmed").get("rate", 0.0)
        per_tx = durable.notes.get("bookings_per_transaction", 0.0)
        targets.append(report.Target(
            f"never sold out at {low} users: durable bookings/s (report only)",
            f"{bookings_rate:.0f} bookings/s, {per_tx:.1f} per transaction", True,
        ))
    return targets


if __name__ == "__main__":
    sys.exit(main())

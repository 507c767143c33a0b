"""Render the benchmark results as Markdown with PNG charts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.harness.scenarios import ScenarioResult  # noqa: E402


@dataclass(frozen=True)
class Target:
    description: str
    measured: str
    met: bool


def chart(result: ScenarioResult, path: Path) -> bool:
    """Draw throughput and latency percentiles per second; return False when there is no timeline."""
    if result.k6 is None or not result.k6.timeline:
        return False
    seconds = [row[0] for row in result.k6.timeline]
    figure, (throughput, latency) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    throughput.plot(seconds, [row[1] for row in result.k6.timeline], color="tab:blue")
    throughput.set_ylabel("requests/s")
    throughput.set_title(result.name)
    throughput.grid(alpha=0.3)
    for index, label in ((2, "p50"), (3, "p95"), (4, "p99")):
        latency.plot(seconds, [row[index] for row in result.k6.timeline], label=label)
    latency.set_ylabel("latency (ms)")
    latency.set_xlabel("seconds since start")
    latency.set_yscale("log")
    latency.legend()
    latency.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def scenario_row(result: ScenarioResult) -> str:
    run = result.k6
    if run is None:
        return f"| {result.name} | not run | | | | | | |"
    audit = "ok" if result.audit_ok else "FAILED"
    if not result.audit:
        audit = "n/a"
    return (
        f"| {result.name} | {result.tool} | {run.rate:.0f} | {_ms(run.latency('med'))} | {_ms(run.latency('p(95)'))} "
        f"| {_ms(run.latency('p(99)'))} | {run.error_rate * 100:.2f}% | {audit} |"
    )


def render(
    *,
    title: str,
    command: str,
    machine: dict[str, str],
    settings: dict[str, str],
    targets: list[Target],
    results: list[ScenarioResult],
    chart_dir: Path,
    report_path: Path,
    notes: list[str],
) -> str:
    lines = [f"# {title}", "", f"Command: `{command}`", ""]
    lines += ["## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), ""]
    lines += [
        "Every figure below comes from this one run; k6 (or the gRPC tool), the stack and the baselines",
        "share the same cores, so absolute numbers drift between runs and the ratios are the headline.",
        "",
        "## Targets",
        "",
        "| target | measured | result |",
        "|---|---|---|",
    ]
    lines += [f"| {t.description} | {t.measured} | {'met' if t.met else 'NOT MET'} |" for t in targets]
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | tool | requests/s | p50 ms | p95 ms | p99 ms | error rate | audit |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [scenario_row(r) for r in results]
    lines.append("")

    for result in results:
        if result.k6 is None:
            continue
        details = phase_lines(result) + note_lines(result)
        drawn = chart(result, chart_dir / f"{result.name}.png")
        if not details and not drawn:
            continue
        lines += [f"### {result.name}", ""]
        lines += details
        if drawn:
            relative = (chart_dir / f"{result.name}.png").relative_to(report_path.parent)
            lines += ["", f"![{result.name}]({relative.as_posix()})"]
        lines.append("")

    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    text = "\n".join(lines)
    report_path.write_text(text)
    return text


def phase_lines(result: ScenarioResult) -> list[str]:
    run = result.k6
    assert run is not None
    confirmed = run.metric("latency_confirmed")
    sold_out = run.metric("latency_sold_out")
    lines = []
    if confirmed:
        lines.append(
            f"- selling phase (200): {int(run.metric('bookings_confirmed').get('count', 0))} bookings, "
            f"p50 {_ms(confirmed.get('med'))} ms, p95 {_ms(confirmed.get('p(95)'))} ms, p99 {_ms(confirmed.get('p(99)'))} ms"
        )
    if sold_out:
        lines.append(
            f"- sold-out phase (409): {int(run.metric('bookings_sold_out').get('count', 0))} answers, "
            f"p50 {_ms(sold_out.get('med'))} ms, p95 {_ms(sold_out.get('p(95)'))} ms, p99 {_ms(sold_out.get('p(99)'))} ms"
        )
    if run.metric("failed_connections") or run.metric("http_reqs"):
        lines.append(f"- requests without an HTTP status (failed connections): {run.failed_connections}")
    return lines


def note_lines(result: ScenarioResult) -> list[str]:
    lines = []
    notes = result.notes
    if "bookings_per_transaction" in notes:
        lines.append(
            f"- PostgreSQL: {notes['bookings']} bookings in {notes['transactions']} transactions, "
            f"{notes['bookings_per_transaction']:.1f} bookings per transaction (group commit)"
        )
    if "cpu_seconds_per_1000_bookings" in notes:
        per = notes["cpu_seconds_per_1000_bookings"]
        lines.append("- CPU seconds per 1,000 bookings: " + ", ".join(f"{name} {value:.2f}" for name, value in per.items()))
    if result.audit:
        for event in result.audit:
            lines.append(
                f"- audit of event {event.event_id}: total {event.total}, sold {event.sold}, available "
                f"{event.available}, held {event.held}, drift {event.drift}, oversold {event.oversold}"
            )
    return lines

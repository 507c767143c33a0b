"""The benchmark scenarios: each one runs against a live stack and ends with an audit."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench.harness import cpu, k6
from bookingctl.audit import EventAudit, audit_events
from devstack.stack import Stack

GHZ_CONFIGS = Path(__file__).resolve().parents[1] / "ghz"
SETTLE_TIMEOUT_S = 60.0
# total_tickets allowed per event; enough never to sell out within a minute.
NEVER_SOLD_OUT_TICKETS = 10_000_000


@dataclass
class ScenarioResult:
    name: str
    k6: k6.K6Result | None = None
    audit: list[EventAudit] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)
    tool: str = "k6"

    @property
    def audit_ok(self) -> bool:
        return all(event.ok for event in self.audit)


def create_event(stack: Stack, name: str, tickets: int) -> int:
    response = httpx.post(f"{stack.rest_url}/api/v1/events", json={"name": name, "total_tickets": tickets}, timeout=30)
    response.raise_for_status()
    return int(response.json()["id"])


def settled_audit(stack: Stack, event_ids: list[int]) -> list[EventAudit]:
    """Audit the events once no tickets are in open holds (or after SETTLE_TIMEOUT_S)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        audits = audit_events(stack.db_url, stack.cache_url, event_ids)
        if all(not a.held for a in audits) or time.monotonic() > deadline:
            return audits
        time.sleep(0.5)


def event_of_run(stack: Stack, summary: k6.K6Result) -> int | None:
    """Return the id of the newest event (the one k6's setup created)."""
    with psycopg.connect(stack.db_url) as conn:
        row = conn.execute("SELECT max(id) FROM events").fetchone()
    return row[0] if row else None


def floor(name: str, base_url: str, vus: int, duration: str, k6_path: str, workdir: Path) -> ScenarioResult:
    env = {"BASE_URL": base_url, "VUS": str(vus), "DURATION": duration}
    return ScenarioResult(name, k6.run(name, "floor.js", env, k6_path, workdir))


def seed(
    name: str, stack: Stack, vus: int, duration: str, tickets: int, k6_path: str, workdir: Path
) -> ScenarioResult:
    env = {"BASE_URL": stack.rest_url, "VUS": str(vus), "DURATION": duration, "TICKETS": str(tickets)}
    groups = stack_process_groups(stack)
    before = cpu.snapshot(groups)
    result = k6.run(name, "booking.js", env, k6_path, workdir)
    used = cpu.difference(before, cpu.snapshot(groups))
    event_id = event_of_run(stack, result)
    scenario = ScenarioResult(name, result)
    if event_id is not None:
        scenario.audit = settled_audit(stack, [event_id])
        scenario.notes.update(write_statistics(stack, event_id))
    confirmed = result.metric("bookings_confirmed").get("count", 0)
    scenario.notes["cpu_seconds"] = used
    if confirmed:
        scenario.notes["cpu_seconds_per_1000_bookings"] = {p: s / confirmed * 1000 for p, s in used.items()}
    return scenario


def write_statistics(stack: Stack, event_id: int) -> dict[str, object]:
    """Count bookings and the transactions that wrote them (one xmin per transaction)."""
    with psycopg.connect(stack.db_url) as conn:
        bookings, transactions = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM bookings WHERE event_id = %s", (event_id,)
        ).fetchone()
    per_transaction = bookings / transactions if transactions else 0.0
    return {"bookings": bookings, "transactions": transactions, "bookings_per_transaction": per_transaction}


def stack_process_groups(stack: Stack) -> dict[str, int]:
    groups = {name: process.pid for name, process in stack.services.items() if process.pid}
    if stack.postgres and stack.postgres.process and stack.postgres.process.pid:
        groups["postgres"] = stack.postgres.process.pid
    if stack.redis and stack.redis.process and stack.redis.process.pid:
        groups["redis"] = stack.redis.process.pid
    return groups


def grpc_tool() -> str:
    return "ghz" if shutil.which("ghz") else "k6"


def grpc_scenario(
    name: str,
    config: str,
    target: str,
    event_id: int,
    vus: int,
    duration: str,
    k6_path: str,
    workdir: Path,
) -> ScenarioResult:
    """Run bench/ghz/<config>.json with ghz when it is installed, otherwise with k6's gRPC client."""
    config_path = GHZ_CONFIGS / f"{config}.json"
    if shutil.which("ghz"):
        return ScenarioResult(name, ghz_run(name, config_path, target, event_id, vus, duration, workdir), tool="ghz")
    env = {
        "CONFIG": str(config_path),
        "TARGET": target,
        "EVENT_ID": str(event_id),
        "VUS": str(vus),
        "DURATION": duration,
    }
    return ScenarioResult(name, k6.run(name, "grpc.js", env, k6_path, workdir), tool="k6 gRPC")


def ghz_run(
    name: str, config_path: Path, target: str, event_id: int, vus: int, duration: str, workdir: Path
) -> k6.K6Result:
    """Run ghz and present its JSON output in the shape of a k6 summary."""
    config = json.loads(config_path.read_text())
    data = json.dumps(config["data"]).replace("{{event_id}}", str(event_id))
    output = workdir / f"{name}-ghz.json"
    command = [
        "ghz", "--insecure", "--proto", str((config_path.parent / config["proto"]).resolve()),
        *[arg for path in config["import-paths"] for arg in ("--import-paths", str((config_path.parent / path).resolve()))],
        "--call", config["call"], "--data", data, "--concurrency", str(vus), "--duration", duration,
        "--format", "json", "--output", str(output), target,
    ]
    subprocess.run(command, check=False, capture_output=True)
    report = json.loads(output.read_text())
    latency = {d["percentage"]: d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    errors = sum(report.get("statusCodeDistribution", {}).get(code, 0) for code in report.get("statusCodeDistribution", {}) if code != "OK")
    summary = {
        "metrics": {
            "iterations": {"count": report["count"], "rate": report["rps"]},
            "grpc_req_duration": {
                "count": report["count"],
                "med": latency.get(50, float("nan")),
                "p(95)": latency.get(95, float("nan")),
                "p(99)": latency.get(99, float("nan")),
            },
            "rpc_errors": {"value": errors / report["count"] if report["count"] else 0.0},
        }
    }
    return k6.K6Result(name, summary)

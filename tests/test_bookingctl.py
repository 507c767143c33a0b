"""bookingctl run as a subprocess against the session stack, as an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

from clients import BookingClient
from devstack.ports import free_port
from devstack.stack import Stack
from inventory_service import keys

REPO_ROOT = Path(__file__).resolve().parent.parent
# Variables that would point the command at another stack than the test's.
ADDRESS_VARIABLES = ("BOOKING_GRPC", "DATABASE_URL", "REDIS_URL")

BOOKING_KEYS = {"id", "event_id", "user_id", "quantity", "status", "reservation_id", "created_at", "cancelled_at"}
EVENT_KEYS = {"id", "name", "total_tickets", "available_tickets", "created_at"}

# Each subcommand and texts its --help must contain: options, units and ranges.
HELP_CASES = [
    (["event", "create"], ["--idempotency-key", "1 to 10,000,000", "in seconds", "--json"]),
    (["event", "show"], ["--booking-target", "--env-file", "--json"]),
    (["book"], ["--quantity", "1 to 10", "--idempotency-key", "in seconds"]),
    (["cancel"], ["BOOKING_ID", "--json"]),
    (["booking", "show"], ["--json"]),
    (["history"], ["--page", "--size", "1 to 100", "--status", "--user", "--event"]),
    (["audit"], ["--repair", "--env-file", "--event", "--json"]),
    (["stack", "up"], ["--run-dir", "--json", "stack.env"]),
    (["stack", "down"], ["--run-dir", "--json"]),
    (["stack", "status"], ["--run-dir", "--json"]),
]


def run_ctl(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m bookingctl ARGS` with no stack addresses in its environment except those in env."""
    clean = {key: value for key, value in os.environ.items() if key not in ADDRESS_VARIABLES}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bookingctl", *args],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(*args: str, env: dict[str, str] | None = None) -> dict:
    result = run_ctl(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the single stderr line of a failed command."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert lines[0].startswith("bookingctl: "), lines[0]
    return lines[0]


@pytest.fixture
def target(stack: Stack) -> list[str]:
    return ["--booking-target", stack.booking_target]


@pytest.fixture
def env_file(stack: Stack, tmp_path: Path) -> Path:
    path = tmp_path / "stack.env"
    path.write_text("\n".join(f"{key}={value}" for key, value in stack.addresses().items()) + "\n")
    return path


def create_event(target: list[str], name: str, total: int) -> dict:
    return run_json("event", "create", name, str(total), *target)


def event_row(db: psycopg.Connection, event_id: int) -> tuple[str, int, int] | None:
    return db.execute("SELECT name, total_tickets, sold_tickets FROM events WHERE id = %s", (event_id,)).fetchone()


def booking_rows(db: psycopg.Connection, event_id: int) -> list[tuple[int, int, int, str, bool]]:
    return db.execute(
        "SELECT id, user_id, quantity, status, cancelled_at IS NOT NULL FROM bookings WHERE event_id = %s ORDER BY id",
        (event_id,),
    ).fetchall()


# -- help and usage --------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = run_ctl("--help")

    assert result.returncode == 0, result.stderr
    for command in ("event", "book", "cancel", "booking", "history", "audit", "stack"):
        assert f"    {command} " in result.stdout, f"{command} missing from --help"
    assert "exit status:" in result.stdout


@pytest.mark.parametrize(("command", "expected"), HELP_CASES, ids=[" ".join(command) for command, _ in HELP_CASES])
def test_subcommand_help(command: list[str], expected: list[str]) -> None:
    result = run_ctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout, f"{' '.join(command)} --help does not mention {text!r}"


def test_console_script_entry_point() -> None:
    scripts = {entry.name: entry for entry in metadata.entry_points(group="console_scripts")}
    assert "bookingctl" in scripts, "the bookingctl console script is not installed; run pip install -e ."
    main = scripts["bookingctl"].load()

    with pytest.raises(SystemExit) as exited:
        main(["event", "show", "--help"])

    assert exited.value.code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["book", "--user", "x", "--event", "1", "--quantity", "1"],
        ["book", "--user", "1", "--event", "1"],
        ["history", "--status", "pending"],
        ["event", "create", "only-a-name"],
        ["history", "--timeout", "0"],
        ["nonsense"],
    ],
    ids=["non-integer", "missing-option", "bad-choice", "missing-argument", "zero-timeout", "unknown-command"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run_ctl(*args)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage: bookingctl" in result.stderr
    assert result.stdout == ""


# -- events ----------------------------------------------------------------


def test_event_create_inserts_row(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 25)

    assert set(event) == EVENT_KEYS
    assert event["name"] == event_name
    assert event["total_tickets"] == 25
    assert event["available_tickets"] == 25
    assert event_row(db, event["id"]) == (event_name, 25, 0)


def test_event_create_prints_text(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    result = run_ctl("event", "create", event_name, "7", *target)

    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith("event "), first_line
    assert first_line.endswith(" created"), first_line
    event_id = int(first_line.split()[1])
    assert f"name               {event_name}" in result.stdout
    assert "total tickets      7" in result.stdout
    assert event_row(db, event_id) == (event_name, 7, 0)


def test_event_create_idempotency_key(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    key = f"ctl-create-{uuid.uuid4()}"

    first = run_json("event", "create", event_name, "5", "--idempotency-key", key, *target)
    second = run_json("event", "create", event_name, "5", "--idempotency-key", key, *target)
    conflict = run_ctl("event", "create", event_name, "6", "--idempotency-key", key, *target)

    assert second["id"] == first["id"]
    count = db.execute("SELECT count(*) FROM events WHERE name = %s", (event_name,)).fetchone()[0]
    assert count == 1
    assert conflict.returncode == 1
    assert key in one_error_line(conflict)


def test_event_show_text_and_json(target: list[str], event_name: str) -> None:
    created = create_event(target, event_name, 12)

    from_show = run_json("event", "show", str(created["id"]), *target)
    text = run_ctl("event", "show", str(created["id"]), *target)

    assert from_show == created
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == f"event {created['id']}"
    assert "available tickets  12" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["event", "create", "", "5"], "event create failed: NAME: must be 1 to 255 characters, got 0"),
        (["event", "create", "x", "0"], "event create failed: TOTAL: must be from 1 to 10000000, got 0"),
        (["event", "show", "0"], "event show failed: event ID: must be a positive 64-bit integer, got 0"),
        (["event", "show", str(2**63)], "event show failed: event ID: must be a positive 64-bit integer"),
    ],
    ids=["empty-name", "zero-total", "zero-id", "id-beyond-int64"],
)
def test_event_invalid_input_exits_2(target: list[str], args: list[str], message: str) -> None:
    result = run_ctl(*args, *target)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in one_error_line(result)
    assert result.stdout == ""


def test_event_show_unknown_exits_1(target: list[str]) -> None:
    unknown = 2**62

    result = run_ctl("event", "show", str(unknown), *target)

    assert result.returncode == 1
    assert one_error_line(result) == f"bookingctl: event show failed: event {unknown} not found"


# -- book, cancel, show ----------------------------------------------------


def test_book_and_cancel_change_postgres(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 10)

    booked = run_json("book", "--user", "41", "--event", str(event["id"]), "--quantity", "3", *target)
    after_book = (booking_rows(db, event["id"]), event_row(db, event["id"]))
    cancelled = run_json("cancel", str(booked["booking"]["id"]), *target)
    after_cancel = (booking_rows(db, event["id"]), event_row(db, event["id"]))

    assert booked["outcome"] == "confirmed"
    assert booked["available_tickets"] is None
    assert set(booked["booking"]) == BOOKING_KEYS
    booking_id = booked["booking"]["id"]
    assert after_book == ([(booking_id, 41, 3, "confirmed", False)], (event_name, 10, 3))
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert after_cancel == ([(booking_id, 41, 3, "cancelled", True)], (event_name, 10, 0))


def test_book_prints_text(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 10)

    result = run_ctl("book", "--user", "42", "--event", str(event["id"]), "--quantity", "1", *target)

    assert result.returncode == 0, result.stderr
    [(booking_id, *_)] = booking_rows(db, event["id"])
    assert result.stdout.splitlines()[0] == f"booking {booking_id} confirmed"
    assert "quantity        1 ticket\n" in result.stdout
    assert f"event           {event['id']}\n" in result.stdout


def test_book_sold_out_exits_1(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 2)

    text = run_ctl("book", "--user", "43", "--event", str(event["id"]), "--quantity", "3", *target)
    as_json = run_ctl("book", "--user", "43", "--event", str(event["id"]), "--quantity", "3", "--json", *target)

    assert text.returncode == 1
    assert text.stdout == ""
    assert one_error_line(text) == (
        f"bookingctl: book failed: sold out: event {event['id']} has 2 tickets left, 3 requested"
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {"outcome": "sold_out", "booking": None, "available_tickets": 2}
    assert booking_rows(db, event["id"]) == []


def test_book_quantity_zero_exits_2(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 5)

    result = run_ctl("book", "--user", "44", "--event", str(event["id"]), "--quantity", "0", *target)

    assert result.returncode == 2
    assert one_error_line(result) == "bookingctl: book failed: --quantity: must be from 1 to 10, got 0"
    assert result.stdout == ""
    assert booking_rows(db, event["id"]) == []
    assert event_row(db, event["id"]) == (event_name, 5, 0)


def test_book_unknown_event_exits_1(target: list[str]) -> None:
    unknown = 2**62 + 1

    result = run_ctl("book", "--user", "45", "--event", str(unknown), "--quantity", "1", *target)

    assert result.returncode == 1
    assert one_error_line(result) == f"bookingctl: book failed: event {unknown} not found"


def test_book_idempotency_key_books_once(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 10)
    args = ["book", "--user", "46", "--event", str(event["id"]), "--quantity", "2", "--idempotency-key", f"ctl-book-{uuid.uuid4()}"]

    first = run_json(*args, *target)
    second = run_json(*args, *target)

    assert second["booking"]["id"] == first["booking"]["id"]
    assert len(booking_rows(db, event["id"])) == 1
    assert event_row(db, event["id"]) == (event_name, 10, 2)


def test_cancel_twice_returns_tickets_once(target: list[str], db: psycopg.Connection, event_name: str) -> None:
    event = create_event(target, event_name, 10)
    booked = run_json("book", "--user", "47", "--event", str(event["id"]), "--quantity", "4", *target)
    booking_id = str(booked["booking"]["id"])

    first = run_ctl("cancel", booking_id, *target)
    second = run_ctl("cancel", booking_id, *target)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"booking {booking_id} cancelled"
    assert "cancelled at" in first.stdout
    assert second.returncode == 0, second.stderr
    assert event_row(db, event["id"]) == (event_name, 10, 0)


def test_booking_show_text_and_json(target: list[str], event_name: str) -> None:
    event = create_event(target, event_name, 10)
    booked = run_json("book", "--user", "48", "--event", str(event["id"]), "--quantity", "2", *target)
    booking_id = booked["booking"]["id"]

    from_show = run_json("booking", "show", str(booking_id), *target)
    text = run_ctl("booking", "show", str(booking_id), *target)

    assert from_show == booked["booking"]
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == f"booking {booking_id}"
    assert "status          confirmed" in text.stdout
    assert "cancelled at" not in text.stdout


@pytest.mark.parametrize("command", [["cancel"], ["booking", "show"]], ids=["cancel", "booking-show"])
def test_unknown_booking_exits_1(target: list[str], command: list[str]) -> None:
    unknown = 2**62 + 2

    result = run_ctl(*command, str(unknown), *target)

    assert result.returncode == 1
    assert one_error_line(result) == f"bookingctl: {' '.join(command)} failed: booking {unknown} not found"


# -- history ---------------------------------------------------------------


def test_history_filters_and_pages(target: list[str], event_name: str) -> None:
    event = create_event(target, event_name, 20)
    event_id = str(event["id"])
    booking_ids = [
        run_json("book", "--user", str(user), "--event", event_id, "--quantity", "1", *target)["booking"]["id"]
        for user in (51, 52, 53)
    ]
    run_json("cancel", str(booking_ids[0]), *target)

    everything = run_json("history", "--event", event_id, *target)
    second_page = run_json("history", "--event", event_id, "--size", "2", "--page", "2", *target)
    cancelled = run_json("history", "--event", event_id, "--status", "cancelled", *target)
    one_user = run_json("history", "--event", event_id, "--user", "52", *target)

    assert set(everything) == {"data", "meta"}
    assert everything["meta"] == {"total": 3, "page": 1, "size": 20}
    assert sorted(b["id"] for b in everything["data"]) == sorted(booking_ids)
    assert all(set(b) == BOOKING_KEYS for b in everything["data"])
    assert second_page["meta"] == {"total": 3, "page": 2, "size": 2}
    assert len(second_page["data"]) == 1
    assert [b["id"] for b in cancelled["data"]] == [booking_ids[0]]
    assert [b["user_id"] for b in one_user["data"]] == [52]


def test_history_prints_table(target: list[str], event_name: str) -> None:
    event = create_event(target, event_name, 5)
    booked = run_json("book", "--user", "54", "--event", str(event["id"]), "--quantity", "2", *target)

    result = run_ctl("history", "--event", str(event["id"]), *target)
    empty = run_ctl("history", "--event", str(event["id"]), "--status", "cancelled", *target)

    assert result.returncode == 0, result.stderr
    header, row, summary = result.stdout.splitlines()
    assert header.split() == ["ID", "EVENT", "USER", "QUANTITY", "STATUS", "CREATED", "AT"]
    assert row.split()[:5] == [str(booked["booking"]["id"]), str(event["id"]), "54", "2", "confirmed"]
    assert summary == "page 1 of 1 (20 per page), 1 booking in total"
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines()[0] == "no bookings on this page"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--page", "0"], "--page: must be from 1 to"),
        (["--size", "101"], "--size: must be from 1 to 100, got 101"),
        (["--size", "0"], "--size: must be from 1 to 100, got 0"),
        (["--user", "0"], "--user: must be a positive 64-bit integer, got 0"),
    ],
    ids=["page-0", "size-101", "size-0", "user-0"],
)
def test_history_invalid_filter_exits_2(target: list[str], args: list[str], message: str) -> None:
    result = run_ctl("history", *args, *target)

    assert result.returncode == 2
    assert message in one_error_line(result)


# -- where the booking service address comes from ---------------------------


def test_target_from_env_file(env_file: Path, event_name: str) -> None:
    event = run_json("event", "create", event_name, "3", "--env-file", str(env_file))

    assert event["name"] == event_name


def test_target_from_environment(stack: Stack, event_name: str) -> None:
    event = run_json("event", "create", event_name, "3", env={"BOOKING_GRPC": stack.booking_target})

    assert event["name"] == event_name


def test_option_overrides_env_file(target: list[str], tmp_path: Path, event_name: str) -> None:
    wrong = tmp_path / "wrong.env"
    wrong.write_text(f"BOOKING_GRPC=127.0.0.1:{free_port()}\n")

    event = run_json("event", "create", event_name, "3", "--env-file", str(wrong), *target)

    assert event["name"] == event_name


def test_missing_target_exits_1() -> None:
    result = run_ctl("event", "show", "1")

    assert result.returncode == 1
    line = one_error_line(result)
    assert "booking service address not set" in line
    assert "--booking-target" in line
    assert "BOOKING_GRPC" in line


def test_missing_env_file_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "absent.env"

    result = run_ctl("event", "show", "1", "--env-file", str(missing))

    assert result.returncode == 1
    assert f"cannot read env file {missing}" in one_error_line(result)


def test_invalid_target_exits_1() -> None:
    result = run_ctl("event", "show", "1", "--booking-target", "no-port")

    assert result.returncode == 1
    assert "--booking-target='no-port' is invalid: expected HOST:PORT" in one_error_line(result)


def test_unreachable_service_exits_1() -> None:
    address = f"127.0.0.1:{free_port()}"

    result = run_ctl("event", "show", "1", "--booking-target", address, "--timeout", "2")

    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"bookingctl: event show failed: booking service at {address} ")
    assert "unavailable" in line or "did not reply within 2 s" in line


# -- audit -----------------------------------------------------------------


def test_audit_reports_event(env_file: Path, target: list[str], event_name: str) -> None:
    event = create_event(target, event_name, 8)
    run_json("book", "--user", "61", "--event", str(event["id"]), "--quantity", "3", *target)

    report = run_json("audit", "--env-file", str(env_file), "--event", str(event["id"]))
    text = run_ctl("audit", "--env-file", str(env_file), "--event", str(event["id"]))

    assert report["ok"] is True
    [audit] = report["events"]
    assert (audit["event_id"], audit["total"], audit["sold"], audit["available"], audit["held"]) == (event["id"], 8, 3, 5, 0)
    assert text.returncode == 0, text.stderr
    assert "1 events audited, 0 with drift or oversell" in text.stdout


def test_audit_names_missing_counter(env_file: Path, target: list[str], cache, event_name: str) -> None:
    event = create_event(target, event_name, 8)
    cache.delete(keys.stock_key(event["id"]))

    text = run_ctl("audit", "--env-file", str(env_file), "--event", str(event["id"]))

    assert text.returncode == 0, text.stderr
    assert "no counter" in text.stdout
    assert "1 events have no stock counter in Redis" in text.stdout


def test_audit_without_urls_exits_1() -> None:
    result = run_ctl("audit")

    assert result.returncode == 1
    assert "DATABASE_URL and REDIS_URL not set" in one_error_line(result)


async def test_audit_repair_prints_progress(stack: Stack, env_file: Path, event_name: str) -> None:
    async with BookingClient(stack.booking_target) as client:
        events = await asyncio.gather(*(client.create_event(f"{event_name} {i}", 2) for i in range(130)))
    event_args = [argument for event in events for argument in ("--event", str(event.id))]

    result = await asyncio.to_thread(run_ctl, "audit", "--repair", "--json", "--env-file", str(env_file), *event_args)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "checked 100 of 130 events, 0 repaired",
        "checked 130 of 130 events, 0 repaired",
    ]
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [e["event_id"] for e in report["events"]] == [event.id for event in events]


# -- stack -----------------------------------------------------------------


def test_stack_up_status_down(stack: Stack, tmp_path: Path, event_name: str) -> None:
    """Start a second set of services on the session stack's PostgreSQL and Redis, then stop it."""
    run_dir = tmp_path / "run"
    backends = {"DATABASE_URL": stack.db_url, "REDIS_URL": stack.cache_url}
    stack_args = ["--run-dir", str(run_dir)]

    up = run_ctl("stack", "up", "--json", *stack_args, env=backends, timeout=180)
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        assert set(state["processes"]) == {"inventory", "booking", "rest"}
        for name in ("inventory", "booking", "rest"):
            assert f"started {name} (pid {state['processes'][name]})" in up.stderr
        again = run_ctl("stack", "up", *stack_args, env=backends)
        status = run_ctl("stack", "status", "--json", *stack_args)
        status_text = run_ctl("stack", "status", *stack_args)
        created = run_json("event", "create", event_name, "4", "--env-file", str(run_dir / "stack.env"))
    finally:
        down = run_ctl("stack", "down", "--json", *stack_args, timeout=120)

    assert again.returncode == 1
    assert "a stack is already recorded" in one_error_line(again)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["ok"] is True
    assert {name: p["running"] for name, p in report["processes"].items()} == dict.fromkeys(state["processes"], True)
    assert status_text.returncode == 0, status_text.stderr
    assert f"booking    pid {state['processes']['booking']}" in status_text.stdout
    assert created["total_tickets"] == 4
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout) == {"stopped": ["rest", "booking", "inventory"]}
    assert not (run_dir / "stack.env").exists()
    after = run_ctl("stack", "status", *stack_args)
    assert after.returncode == 1
    assert "no stack recorded" in one_error_line(after)


def test_stack_down_without_stack(tmp_path: Path) -> None:
    result = run_ctl("stack", "down", "--run-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"no running stack recorded in {tmp_path}\n"


def test_closed_stdout_exits_quietly(target: list[str], event_name: str) -> None:
    event = create_event(target, event_name, 5)
    for user in range(1, 4):
        assert run_ctl("book", *target, "--user", str(user), "--event", str(event["id"]), "--quantity", "1").returncode == 0
    clean = {key: value for key, value in os.environ.items() if key not in ADDRESS_VARIABLES}

    # true exits at once, so bookingctl writes its JSON into a closed pipe.
    result = subprocess.run(
        f"{sys.executable} -m bookingctl history {' '.join(target)} --event {event['id']} --json | true; "
        "exit ${PIPESTATUS[0]}",
        shell=True, executable="/bin/bash", cwd=REPO_ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )

    assert result.stderr == ""
    assert result.returncode == 141

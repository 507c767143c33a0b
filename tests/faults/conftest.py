"""A private stack for the fault tests, and the results table printed after the run.

These tests kill and restart PostgreSQL, Redis and the services, so they
never use the session-wide `stack` fixture that the other tests share.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.stack import Stack
from tests.faults.report import RESULTS, RUN_DIRS, format_notes, format_table
from tests.faults.scenario import FAULT_ENV, start_postgres


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, always with private PostgreSQL and Redis, even when DATABASE_URL / REDIS_URL are set."""
    run_dir = tmp_path_factory.mktemp("fault-stack")
    RUN_DIRS.append(str(run_dir))
    stack = Stack(run_dir, database_url=None, redis_url=None, extra_env=dict(FAULT_ENV))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def restored_stack(fault_stack: Stack) -> Iterator[Stack]:
    """The fault stack. After the test, whatever the test left stopped is started again."""
    yield fault_stack
    restart_stopped(fault_stack)


def restart_stopped(stack: Stack) -> None:
    assert stack.postgres is not None and stack.redis is not None
    if stack.postgres.process is None or not stack.postgres.process.alive():
        start_postgres(stack.postgres)
    if stack.redis.process is None or not stack.redis.process.alive():
        stack.redis.start()
    for name in ("inventory", "booking", "rest"):
        process = stack.services.get(name)
        if process is None or not process.alive():
            stack.start_service(name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.write_sep("=", "fault injection results")
    for line in format_table(RESULTS):
        terminalreporter.write_line(line)
    terminalreporter.write_line("")
    for line in format_notes(RESULTS):
        terminalreporter.write_line(line)
    for run_dir in RUN_DIRS:
        terminalreporter.write_line(f"service logs: {run_dir}/logs")

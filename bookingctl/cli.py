"""Argument parsing and dispatch of the bookingctl commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
from pathlib import Path

from bookingctl.environment import CommandError, UsageError
from clients.booking import DEFAULT_TIMEOUT_S
from common import rules

EXIT_STATUS_HELP = """\
exit status:
  0    success
  1    {failure}
  2    invalid command line
  141  standard output was closed before all output was written; the
       command itself ran, so a book or cancel took effect"""
COMMAND_FAILED = "the command failed; the reason is printed on stderr"
# 128 + SIGPIPE, the status shells report for a writer whose reader exited.
EXIT_BROKEN_PIPE = 141

SERVICE_ADDRESS_HELP = """\
The booking service's gRPC address comes from --booking-target, else from
BOOKING_GRPC in the --env-file, else from BOOKING_GRPC in the environment.
`make up` and `bookingctl stack up` write it to .run/stack.env."""


def paragraphs(*texts: str) -> str:
    """Wrap each text at 79 columns, with a blank line between texts.

    The parsers print descriptions as given (RawDescriptionHelpFormatter),
    so that the blank lines and the exit status table survive.
    """
    return "\n\n".join(textwrap.fill(" ".join(text.split()), width=79) for text in texts)


def positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {raw}")
    return value


def output_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--json", action="store_true", help="print the result as JSON on stdout instead of text")
    return options


def service_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("booking service")
    group.add_argument(
        "--booking-target", metavar="HOST:PORT", help="gRPC address of the booking service (default: BOOKING_GRPC)"
    )
    group.add_argument(
        "--env-file", type=Path, metavar="PATH", help="read BOOKING_GRPC from this KEY=value file, e.g. .run/stack.env"
    )
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"deadline of the call, retries included, in seconds (default: {DEFAULT_TIMEOUT_S:g})",
    )
    return options


def idempotency_key_option(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help=f"up to {rules.MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters; repeating the command with the same "
        f"key returns the first result and {verb} nothing new, while the service keeps the key "
        "(IDEMPOTENCY_KEY_TTL_S, 24 hours by default)",
    )


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    handler: str,
    *,
    help: str,
    parents: list[argparse.ArgumentParser],
    description: list[str] | None = None,
    failure: str = COMMAND_FAILED,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=help,
        description=paragraphs(*(description or [help[0].upper() + help[1:] + "."])),
        parents=parents,
        epilog=EXIT_STATUS_HELP.format(failure=failure),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, label=parser.prog.removeprefix("bookingctl "))
    return parser


def add_event_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    event = commands.add_parser("event", help="create or show an event", description="Create or show an event.")
    event_commands = event.add_subparsers(dest="event_command", required=True, metavar="{create,show}")

    create = add_command(
        event_commands, "create", "booking_commands.event_create", parents=parents,
        help="create an event with a number of tickets and print it",
        description=["Create an event with TOTAL tickets and print it.", SERVICE_ADDRESS_HELP],
    )
    create.add_argument("name", metavar="NAME", help=f"event name, 1 to {rules.MAX_NAME_LENGTH} characters")
    create.add_argument("total", metavar="TOTAL", type=int, help=f"number of tickets, 1 to {rules.MAX_TOTAL_TICKETS:,}")
    idempotency_key_option(create, "creates")

    show = add_command(
        event_commands, "show", "booking_commands.event_show", parents=parents,
        help="print an event with its available tickets (from PostgreSQL)",
        description=["Print an event with its available tickets, as PostgreSQL counts them.", SERVICE_ADDRESS_HELP],
    )
    show.add_argument("event_id", metavar="ID", type=int, help="event id")


def add_booking_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    book = add_command(
        commands, "book", "booking_commands.book", parents=parents,
        help="book tickets for a user; exit 1 when sold out",
        description=[
            "Book tickets for a user and print the booking. When fewer tickets are left than requested, "
            "nothing is booked, the number of tickets left is printed and the exit status is 1.",
            SERVICE_ADDRESS_HELP,
        ],
        failure="sold out, or the command failed; the reason is printed on stderr",
    )
    book.add_argument("--user", type=int, required=True, metavar="ID", help="user id, a positive integer")
    book.add_argument("--event", type=int, required=True, metavar="ID", help="event id")
    book.add_argument(
        "--quantity", type=int, required=True, metavar="N",
        help=f"tickets to book, {rules.MIN_QUANTITY} to {rules.MAX_QUANTITY}",
    )
    idempotency_key_option(book, "books")

    cancel = add_command(
        commands, "cancel", "booking_commands.cancel", parents=parents,
        help="cancel a booking and return its tickets to stock",
        description=[
            "Cancel a confirmed booking and return its tickets to stock. Cancelling a cancelled booking "
            "changes nothing and prints it again.",
            SERVICE_ADDRESS_HELP,
        ],
    )
    cancel.add_argument("booking_id", metavar="BOOKING_ID", type=int, help="booking id")

    booking = commands.add_parser("booking", help="show a booking", description="Show a booking.")
    booking_subcommands = booking.add_subparsers(dest="booking_command", required=True, metavar="{show}")
    show = add_command(
        booking_subcommands, "show", "booking_commands.booking_show", parents=parents,
        help="print a booking",
        description=["Print a booking.", SERVICE_ADDRESS_HELP],
    )
    show.add_argument("booking_id", metavar="ID", type=int, help="booking id")

    history = add_command(
        commands, "history", "booking_commands.history", parents=parents,
        help="list bookings, newest first, one page at a time",
        description=["List bookings, newest first, one page at a time, with optional filters.", SERVICE_ADDRESS_HELP],
    )
    history.add_argument("--page", type=int, default=1, metavar="N", help=f"page number, 1 to {rules.MAX_PAGE:,} (default: 1)")
    history.add_argument(
        "--size", type=int, metavar="N",
        help=f"bookings per page, 1 to {rules.MAX_PAGE_SIZE} (default: the service's, 20)",
    )
    history.add_argument("--status", choices=["confirmed", "cancelled"], help="only bookings with this status")
    history.add_argument("--user", type=int, metavar="ID", help="only bookings of this user id")
    history.add_argument("--event", type=int, metavar="ID", help="only bookings of this event id")


def add_audit_command(commands: argparse._SubParsersAction, output: argparse.ArgumentParser) -> None:
    audit = add_command(
        commands, "audit", "audit_command.command_audit", parents=[output],
        help="check sold + available + held == total and no oversell for every event; exit 1 on any failure",
        description=[
            "Compare each event's bookings in PostgreSQL with its stock counter in Redis. An event fails when "
            "sold + available + held differs from total (drift), when sold exceeds total (oversell), or when "
            "events.sold_tickets differs from its confirmed bookings.",
            "DATABASE_URL and REDIS_URL come from the --env-file, else from the environment.",
        ],
        failure="an event failed the audit or stays inconsistent after --repair, or the command failed",
    )
    audit.add_argument("--env-file", type=Path, metavar="PATH", help="read DATABASE_URL and REDIS_URL from this file (e.g. .run/stack.env)")
    audit.add_argument("--event", type=int, action="append", metavar="ID", help="audit or repair only this event id (repeatable)")
    audit.add_argument(
        "--repair",
        action="store_true",
        help="set each event's Redis stock from PostgreSQL (safe while bookings run) and print what changed; "
        "prints a count to stderr during runs over many events; "
        "exit 1 if an event stays inconsistent (oversell, sold_tickets mismatch, not found)",
    )


def add_stack_commands(commands: argparse._SubParsersAction, output: argparse.ArgumentParser) -> None:
    stack = commands.add_parser(
        "stack",
        help="start, stop or inspect the local stack (what `make up` runs)",
        description=paragraphs(
            "Start, stop or inspect the local stack: PostgreSQL, Redis, the inventory and booking "
            "services and the REST shim, as background processes on loopback ports."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stack_subcommands = stack.add_subparsers(dest="stack_command", required=True, metavar="{up,down,status}")
    run_dir = argparse.ArgumentParser(add_help=False)
    run_dir.add_argument(
        "--run-dir", type=Path, default=Path(".run"), metavar="PATH",
        help="folder for the stack's state, addresses (stack.env), data and logs (default: .run)",
    )
    parents = [output, run_dir]

    add_command(
        stack_subcommands, "up", "stack_commands.stack_up", parents=parents,
        help="start the stack in the background and write its addresses to RUN_DIR/stack.env",
        description=[
            "Start the stack in the background, printing each component to stderr as it starts, and write "
            "its addresses to RUN_DIR/stack.env. With DATABASE_URL or REDIS_URL set in the environment, that "
            "server is used instead of starting one.",
        ],
    )
    add_command(
        stack_subcommands, "down", "stack_commands.stack_down", parents=parents,
        help="stop the processes recorded in RUN_DIR, by process id, and nothing else",
    )
    add_command(
        stack_subcommands, "status", "stack_commands.stack_status", parents=parents,
        help="print the recorded processes and addresses; exit 1 unless all of them run",
        failure="no stack is recorded, or a recorded process is not running",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bookingctl",
        description=paragraphs(
            "Operate the booking system: create events, book and cancel tickets, list bookings, audit and "
            "repair the stock counters, and run the local stack. Every command takes --json and --help."
        ),
        epilog=EXIT_STATUS_HELP.format(failure=COMMAND_FAILED),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    output = output_options()
    booking_parents = [output, service_options()]

    add_event_commands(commands, booking_parents)
    add_booking_commands(commands, booking_parents)
    add_audit_command(commands, output)
    add_stack_commands(commands, output)
    return parser


def run_handler(options: argparse.Namespace) -> int:
    """Import the command's module on first use, so that each command loads only the libraries it needs."""
    module_name, function_name = options.handler.rsplit(".", 1)
    module = importlib.import_module(f"bookingctl.{module_name}")
    return getattr(module, function_name)(options)


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        status = run_handler(options)
        # Flushed here, so that a closed pipe raises BrokenPipeError below
        # and not at interpreter exit.
        sys.stdout.flush()
        return status
    except CommandError as exc:
        print(f"bookingctl: {options.label} failed: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        print(f"bookingctl: {options.label} interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout exited first, e.g. `bookingctl history | head -1`,
        # after the command itself ran. The rest of the output goes to
        # /dev/null, so that Python's flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE

"""Commands that call the booking service over gRPC: events, bookings and history.

Each input is checked with the rules the services apply (common.rules)
before any call, so a bad value fails without a round trip. The message
contains the service's rule text and names the argument as typed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from bookingctl import environment, output
from bookingctl.environment import CommandError, UsageError
from clients import BookingClient
from common import rules
from rest_shim.views import STATUS_VALUES, booking_json, event_json

T = TypeVar("T")


def check(name: str, check_value: Callable[[], T]) -> T:
    """Run one common.rules check. A failure raises UsageError naming the argument as typed, such as --quantity."""
    try:
        return check_value()
    except rules.InvalidInput as exc:
        raise UsageError(f"{name}: {exc.rule}") from None


def call_service(
    options: argparse.Namespace,
    request: Callable[[BookingClient], Awaitable[T]],
    *,
    creates: bool = False,
) -> T:
    """Run one request against the booking service and map gRPC errors to CommandError.

    creates marks a request whose outcome is unknown after a timeout, such
    as Book and CreateEvent, so that the error message tells how to check it.
    """
    target = environment.booking_target(options.booking_target, options.env_file)

    async def run() -> T:
        async with BookingClient(target, timeout=options.timeout) as client:
            return await request(client)

    try:
        return asyncio.run(run())
    except grpc.aio.AioRpcError as exc:
        raise CommandError(describe_rpc_error(exc, target, options, creates)) from None


def describe_rpc_error(exc: grpc.aio.AioRpcError, target: str, options: argparse.Namespace, creates: bool) -> str:
    code = exc.code()
    details = exc.details() or code.name
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
        return details
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"booking service at {target} did not reply within {options.timeout:g} s"
        if creates and getattr(options, "idempotency_key", None):
            return message + ". It may have succeeded, so repeat the command with the same --idempotency-key to get the result"
        if creates:
            return message + ". It may have succeeded, so check `bookingctl history` before trying again"
        return message + ". Try again or raise --timeout"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"booking service at {target} unavailable: {details}"
    return f"booking service at {target} returned {code.name}: {details}"


# -- events ------------------------------------------------------------------


def event_create(options: argparse.Namespace) -> int:
    name = check("NAME", lambda: rules.event_name(options.name))
    total = check("TOTAL", lambda: rules.total_tickets(options.total))
    idempotency_key = check("--idempotency-key", lambda: rules.idempotency_key(options.idempotency_key or ""))

    event = call_service(options, lambda client: client.create_event(name, total, idempotency_key=idempotency_key), creates=True)
    if options.json:
        output.print_json(event_json(event))
    else:
        print(output.format_event(event, title=f"event {event.id} created"))
    return 0


def event_show(options: argparse.Namespace) -> int:
    event_id = check("event ID", lambda: rules.positive_id("event_id", options.event_id))

    event = call_service(options, lambda client: client.get_event(event_id))
    if options.json:
        output.print_json(event_json(event))
    else:
        print(output.format_event(event))
    return 0


# -- bookings ----------------------------------------------------------------


def book(options: argparse.Namespace) -> int:
    """Book tickets. Sold out prints the tickets left and exits 1, since nothing was booked."""
    user_id = check("--user", lambda: rules.positive_id("user_id", options.user))
    event_id = check("--event", lambda: rules.positive_id("event_id", options.event))
    quantity = check("--quantity", lambda: rules.quantity(options.quantity))
    idempotency_key = check("--idempotency-key", lambda: rules.idempotency_key(options.idempotency_key or ""))

    reply = call_service(
        options,
        lambda client: client.book(user_id=user_id, event_id=event_id, quantity=quantity, idempotency_key=idempotency_key),
        creates=True,
    )
    confirmed = reply.outcome == pb.BOOK_OUTCOME_CONFIRMED
    limited = reply.outcome == pb.BOOK_OUTCOME_USER_LIMIT_REACHED
    outcome = "sold_out"
    if confirmed:
        outcome = "confirmed"
    elif limited:
        outcome = "user_limit_reached"
    if options.json:
        output.print_json({
            "outcome": outcome,
            "booking": booking_json(reply.booking) if confirmed else None,
            "available_tickets": None if confirmed else reply.available_tickets,
        })
    elif confirmed:
        print(output.format_booking(reply.booking, title=f"booking {reply.booking.id} confirmed"))
    if limited:
        raise CommandError(f"user {user_id} reached the per-user ticket limit of event {event_id}")
    if not confirmed:
        raise CommandError(
            f"sold out: event {event_id} has {output.tickets(reply.available_tickets)} left, {quantity} requested"
        )
    return 0


def cancel(options: argparse.Namespace) -> int:
    booking_id = check("booking ID", lambda: rules.positive_id("booking_id", options.booking_id))

    booking = call_service(options, lambda client: client.cancel_booking(booking_id))
    if options.json:
        output.print_json(booking_json(booking))
    else:
        print(output.format_booking(booking, title=f"booking {booking.id} cancelled"))
    return 0


def booking_show(options: argparse.Namespace) -> int:
    booking_id = check("booking ID", lambda: rules.positive_id("booking_id", options.booking_id))

    booking = call_service(options, lambda client: client.get_booking(booking_id))
    if options.json:
        output.print_json(booking_json(booking))
    else:
        print(output.format_booking(booking))
    return 0


def history(options: argparse.Namespace) -> int:
    # common.rules reads 0 as "unset", which the command line has no use for.
    if options.page < 1:
        raise UsageError(f"--page: must be from 1 to {rules.MAX_PAGE}, got {options.page}")
    if options.size is not None and options.size < 1:
        raise UsageError(f"--size: must be from 1 to {rules.MAX_PAGE_SIZE}, got {options.size}")
    page = check("--page", lambda: rules.page(options.page))
    size = check("--size", lambda: rules.page_size(options.size or 0, 0))
    user_id = 0  # 0 matches every user
    if options.user is not None:
        user_id = check("--user", lambda: rules.positive_id("user_id", options.user))
    event_id = 0  # 0 matches every event
    if options.event is not None:
        event_id = check("--event", lambda: rules.positive_id("event_id", options.event))
    status = STATUS_VALUES[options.status] if options.status else pb.BOOKING_STATUS_UNSPECIFIED

    reply = call_service(
        options,
        lambda client: client.list_bookings(page=page, size=size, status=status, user_id=user_id, event_id=event_id),
    )
    if options.json:
        output.print_json(output.history_json(reply))
    else:
        print(output.format_history(reply))
    return 0

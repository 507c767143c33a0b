"""The REST routes, translating JSON requests into booking service calls.

Status codes: 200/201 success, 400 invalid input, 404 unknown event or
booking, 409 sold out, 422 an Idempotency-Key reused with a different body,
503 a dependency is down or timed out. Errors are JSON objects
{"error": "..."}.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from booking_monitor_pb.booking.v1 import booking_pb2 as pb
from clients.booking import BookingClient
from common import rules
from common.rules import InvalidInput
from rest_shim import body as parse
from rest_shim.config import ShimConfig
from rest_shim.views import STATUS_VALUES, booking_json, event_json

logger = logging.getLogger(__name__)

REQUESTS = Counter("rest_requests_total", "HTTP requests by route and status", ["route", "status"])
LATENCY = Histogram(
    "rest_request_seconds", "HTTP request latency by route", ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5),
)

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 422,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 503,
    grpc.StatusCode.CANCELLED: 503,
}
IDEMPOTENCY_HEADER = "idempotency-key"
CREATE_EVENT_FIELDS = frozenset({"name", "total_tickets"})
BOOK_FIELDS = frozenset({"user_id", "event_id", "quantity"})


def idempotency_key(request: Request) -> str:
    """Return the Idempotency-Key header, or "" when absent."""
    value = request.headers.get(IDEMPOTENCY_HEADER, "")
    try:
        return rules.request_id(value)
    except InvalidInput as exc:
        raise InvalidInput("Idempotency-Key", exc.rule) from None


def json_response(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def error_response(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


Handler = Callable[[Request], Awaitable[Response]]


def instrumented(route: str, handler: Handler) -> Handler:
    """Count and time the handler, and turn invalid input and gRPC errors into JSON errors."""

    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except InvalidInput as exc:
            response = error_response(str(exc), 400)
        except grpc.aio.AioRpcError as exc:
            status = GRPC_TO_HTTP.get(exc.code(), 500)
            if status >= 500:
                logger.warning("%s %s failed: %s: %s", request.method, request.url.path, exc.code().name, exc.details())
            response = error_response(exc.details() or exc.code().name, status)
        REQUESTS.labels(route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(time.perf_counter() - started)
        return response

    return wrapper


class Routes:
    def __init__(self, config: ShimConfig) -> None:
        self.config = config
        self.booking: BookingClient | None = None

    @property
    def client(self) -> BookingClient:
        assert self.booking is not None, "the lifespan opens the client before any request"
        return self.booking

    async def create_event(self, request: Request) -> Response:
        payload = parse.parse_object(await request.body())
        parse.reject_unknown_fields(payload, CREATE_EVENT_FIELDS)
        name = parse.string_field(payload, "name")
        total = parse.integer_field(payload, "total_tickets")
        event = await self.client.create_event(name, total, request_id=idempotency_key(request))
        return json_response(event_json(event), 201)

    async def get_event(self, request: Request) -> Response:
        event_id = parse.path_id(request.path_params["event_id"], "event_id")
        return json_response(event_json(await self.client.get_event(event_id)))

    async def book(self, request: Request) -> Response:
        payload = parse.parse_object(await request.body())
        parse.reject_unknown_fields(payload, BOOK_FIELDS)
        user_id = parse.integer_field(payload, "user_id")
        event_id = parse.integer_field(payload, "event_id")
        quantity = parse.integer_field(payload, "quantity")
        reply = await self.client.book(
            user_id=user_id, event_id=event_id, quantity=quantity, request_id=idempotency_key(request)
        )
        if reply.outcome == pb.BOOK_OUTCOME_SOLD_OUT:
            return error_response("sold out", 409)
        return json_response(booking_json(reply.booking))

    async def get_booking(self, request: Request) -> Response:
        booking_id = parse.path_id(request.path_params["booking_id"], "booking_id")
        return json_response(booking_json(await self.client.get_booking(booking_id)))

    async def cancel_booking(self, request: Request) -> Response:
        booking_id = parse.path_id(request.path_params["booking_id"], "booking_id")
        return json_response(booking_json(await self.client.cancel_booking(booking_id)))

    async def history(self, request: Request) -> Response:
        params = request.query_params
        status_name = params.get("status", "")
        if status_name and status_name not in STATUS_VALUES:
            raise InvalidInput("status", f"must be confirmed or cancelled, got {status_name[:32]!r}")
        reply = await self.client.list_bookings(
            page=parse.query_integer(params, "page", default=1),
            size=parse.query_integer(params, "size", default=20),
            status=STATUS_VALUES.get(status_name, pb.BOOKING_STATUS_UNSPECIFIED),
            user_id=parse.query_integer(params, "user_id", default=0),
            event_id=parse.query_integer(params, "event_id", default=0),
        )
        return json_response({
            "data": [booking_json(b) for b in reply.bookings],
            "meta": {"total": reply.total, "page": reply.page, "size": reply.size},
        })

    async def liveness(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readiness(self, request: Request) -> Response:
        """Ready when the booking service reports SERVING (it tracks PostgreSQL)."""
        stub = health_pb2_grpc.HealthStub(self.client._channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.aio.AioRpcError as exc:
            return error_response(f"booking service unavailable: {exc.code().name}", 503)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return error_response("booking service not serving", 503)
        return json_response({"status": "ready"})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(config: ShimConfig | None = None) -> Starlette:
    config = config or ShimConfig.from_env()
    routes = Routes(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        routes.booking = BookingClient(config.booking_target, timeout=config.booking_timeout_ms / 1000)
        logger.info("REST shim ready, booking service at %s", config.booking_target)
        yield
        await routes.booking.close()
        logger.info("REST shim stopped")

    def route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, instrumented(name, handler), methods=methods)

    return Starlette(
        routes=[
            route("/api/v1/events", "create_event", routes.create_event, ["POST"]),
            route("/api/v1/events/{event_id}", "get_event", routes.get_event, ["GET"]),
            route("/api/v1/book", "book", routes.book, ["POST"]),
            route("/api/v1/bookings/{booking_id}", "get_booking", routes.get_booking, ["GET"]),
            route("/api/v1/bookings/{booking_id}", "cancel_booking", routes.cancel_booking, ["DELETE"]),
            route("/api/v1/bookings/{booking_id}/cancel", "cancel_booking", routes.cancel_booking, ["POST"]),
            route("/api/v1/history", "history", routes.history, ["GET"]),
            route("/healthz", "liveness", routes.liveness, ["GET"]),
            route("/readyz", "readiness", routes.readiness, ["GET"]),
            route("/api/v1/health", "readiness", routes.readiness, ["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

"""A base for gRPC server interceptors that wrap each unary-unary handler once per method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc


class UnaryHandlerInterceptor(grpc.aio.ServerInterceptor):
    """Wrap the behavior of every unary-unary method with wrap(); other kinds pass through untouched.

    The wrapped handler of a method is built on its first call and reused,
    so a wrapper must read anything that differs per call (metadata, the
    status code) from the call's context.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def wrap(self, method: str, behavior):
        """Return the coroutine function that runs in place of behavior for calls of method (its short name)."""
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self.wrap(method.rsplit("/", 1)[-1], handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = wrapped
        return wrapped

"""What every vendor's HTTP layer shares: the base class that maps routes onto a backend, and request helpers.

A vendor's ``routes.py`` reads the request (path, query, headers, body), checks its credentials with
the helpers here, calls its backend and writes the answer. A :class:`~airflow_provider_dialer.emulator.state.Refused`
raised by the backend becomes its status, body and headers in one place, :meth:`VendorAPI.endpoint`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from airflow_provider_dialer.emulator.state import Refused, VendorBackend

Backend = TypeVar("Backend", bound=VendorBackend)
Handler = Callable[[Request], Awaitable[Response]]


class VendorAPI(Generic[Backend]):
    """One vendor API's HTTP layer over its backend. Subclasses name the backend class and define ``routes()``."""

    backend_class: type[Backend]

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.name

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    @staticmethod
    def endpoint(handler: Handler) -> Handler:
        """Wrap a handler so a :class:`Refused` from the backend (or the handler) becomes the vendor's error answer."""

        @functools.wraps(handler)
        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as refused:
                return json_response(refused.body, refused.status, refused.headers)

        return answer


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def read_json(request: Request) -> tuple[Any, str | None]:
    """The request's JSON body, or (None, reason) when it is not valid JSON."""
    raw = await request.body()
    if not raw:
        return None, "empty body"
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


def media_type(request: Request) -> str:
    """The request's ``Content-Type`` without parameters, lower case (``""`` when it has none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def scheme_token(request: Request, scheme: str) -> str | None:
    """The token of an ``Authorization: <scheme> <token>`` header (scheme in any case), or None when there is none."""
    given, _, token = request.headers.get("authorization", "").partition(" ")
    if given.lower() != scheme or not token.strip():
        return None
    return token.strip()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, or None when it is absent, not base64 of UTF-8,
    or holds no ``:``."""
    token = scheme_token(request, "basic")
    if token is None:
        return None
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None

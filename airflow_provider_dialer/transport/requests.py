"""What a vendor flow yields and how it becomes a hook method: :class:`Request`, ``Flow``, :func:`api_call`.

A vendor hook describes each endpoint as a *flow*: a generator that yields :class:`Request` objects
and receives ``httpx.Response`` objects, then returns the parsed result. :func:`api_call` turns it
into a sync method and an async twin; only the transport call differs between the two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast

import httpx

if TYPE_CHECKING:
    pass


T = TypeVar("T")
P = ParamSpec("P")

#: A flow yields requests, receives responses, and returns its result.
Flow = Generator["Request", httpx.Response, T]


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------------------------
# Requests and flows
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request as a vendor flow describes it (path relative to the connection's base URL)."""

    method: str
    path: str
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    content: bytes | str | None = None
    files: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: send the vendor's auth headers (False for the token endpoints themselves)
    authenticated: bool = True
    #: which of the vendor's auth schemes applies (uContact has two APIs with two schemes)
    auth: str = "default"
    #: safe to resend when its fate is unknown; defaults to True for GET/HEAD/OPTIONS only
    idempotent: bool | None = None
    #: absolute URL overriding base URL + path (Voipex's token host)
    url: str | None = None
    #: statuses handed to the flow instead of raising (e.g. 404 for "does it exist?")
    accept_statuses: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.idempotent is None:
            self.idempotent = self.method in IDEMPOTENT_METHODS


class FlowRunner(Protocol):
    """What the methods :func:`api_call` makes need of the hook they are called on (``DialerHook``)."""

    def run_flow(self, flow: Flow[T]) -> T: ...

    async def arun_flow(self, flow: Flow[T]) -> T: ...


class ApiCall(Generic[P, T]):
    """What :func:`api_call` makes of a flow method, as type checkers see it: the sync method (called
    on an instance, without ``self``), and the flow behind it as ``.flow`` (called with the hook).

    The async twin ``a<name>`` is made at class creation under a computed name, which type checkers
    cannot follow; a hook that calls one declares it as an :data:`AsyncTwin` attribute.
    """

    flow: Callable[Concatenate[Any, P], Flow[T]]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        raise NotImplementedError  # never called: __set_name__ puts the real functions on the class


#: the async twin of an :func:`api_call` method, as a hook declares it for type checkers
AsyncTwin = Callable[P, Coroutine[Any, Any, T]]


def api_call(fn: Callable[Concatenate[Any, P], Flow[T]]) -> ApiCall[P, T]:
    """Turn a flow method into a sync method of the same name and an async twin named ``a<name>``."""

    class _Twin:
        def __set_name__(self, owner: type, name: str) -> None:
            @functools.wraps(fn)
            def sync(self_: FlowRunner, *args: Any, **kwargs: Any) -> T:
                return self_.run_flow(fn(self_, *args, **kwargs))

            @functools.wraps(fn)
            async def asynchronous(self_: FlowRunner, *args: Any, **kwargs: Any) -> T:
                return await self_.arun_flow(fn(self_, *args, **kwargs))

            asynchronous.__name__ = asynchronous.__qualname__ = f"a{name}"
            asynchronous.__doc__ = f"Async twin of :meth:`{name}` (same request, same parsing)."
            sync.flow = fn  # type: ignore[attr-defined]  # a function takes the attribute; ApiCall declares it
            setattr(owner, name, sync)
            setattr(owner, f"a{name}", asynchronous)

    # the descriptor replaces itself with the functions above when the class is made (__set_name__)
    return cast("ApiCall[P, T]", _Twin())


def json_array(encoded: Iterable[bytes]) -> bytes:
    """A JSON array of items each already encoded on its own (``pydantic_core.to_json``).

    The list paths encode each contact as soon as it is mapped, so its dict dies at once: a list of
    thousands of nested dicts kept alive for one big encode costs the garbage collector two to three
    times what the mapping itself costs (bytes are not tracked by the collector).
    """
    return b"[" + b",".join(encoded) + b"]"


def json_object(head: Mapping[str, Any], key: str, encoded: Iterable[bytes]) -> bytes:
    """``{**head, key: [items]}`` as JSON bytes, the items already encoded (see :func:`json_array`)."""
    from pydantic_core import to_json

    parts = [to_json(name) + b":" + to_json(value) for name, value in head.items()]
    parts.append(to_json(key) + b":" + json_array(encoded))
    return b"{" + b",".join(parts) + b"}"

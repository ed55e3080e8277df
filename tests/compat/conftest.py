"""Replay, request by request, what public clients of the dialer APIs send, against the emulator.

Each sequence is written from a reading of a public client (or, where none was found, of the vendor
document), not from its code: the method, path, query, headers and body shape it sends, and the status
and answer shape it relies on. A step whose answer the client could not read is a gap in the emulator,
and so a gap in every DAG test run against it.

A *shape* is matched structurally: a type (``int``, ``str``, ``bool``, ``list``, ``dict``, ``type(None)``
or a tuple of them) matches an instance; a dict matches a dict holding at least those keys with values
of those shapes; a one-element list matches a list whose every item has that shape; a callable returning
bool is a predicate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


def shape_problems(value: Any, shape: Any, where: str = "$") -> list[str]:
    """What in ``value`` does not match ``shape`` (empty when it matches)."""
    if isinstance(shape, type) or (isinstance(shape, tuple) and all(isinstance(s, type) for s in shape)):
        kinds = shape if isinstance(shape, tuple) else (shape,)
        if bool not in kinds and isinstance(value, bool):  # JSON true is not an integer id
            return [f"{where}: {value!r} is a bool, wanted {shape}"]
        return [] if isinstance(value, kinds) else [f"{where}: {value!r} is not {shape}"]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        out = []
        for key, sub in shape.items():
            if key not in value:
                out.append(f"{where}.{key}: missing")
            else:
                out += shape_problems(value[key], sub, f"{where}.{key}")
        return out
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not an array"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape[0], f"{where}[{i}]")]
    if callable(shape):
        return [] if shape(value) else [f"{where}: {value!r} fails {getattr(shape, '__name__', 'the check')}"]
    return [] if value == shape else [f"{where}: {value!r} != {shape!r}"]


@dataclass
class Step:
    """One request of a client's sequence and what the client needs of its answer.

    ``path``, query values and bodies may be callables of the replay's context (the values earlier
    steps saved), since ids come from earlier answers. ``save`` takes the response and returns what to
    add to the context.
    """

    what: str
    method: str
    path: str | Callable[[dict[str, Any]], str]
    status: int | tuple[int, ...] = 200
    params: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    data: Any = None
    files: Any = None
    content: Any = None
    #: the answer's JSON shape (see the module doc); "text:<exact>" compares the plain-text body
    answer: Any = None
    save: Callable[[httpx.Response, dict[str, Any]], Mapping[str, Any]] | None = None


def _resolve(value: Any, ctx: dict[str, Any]) -> Any:
    return value(ctx) if callable(value) else value


def replay(client: httpx.Client, steps: list[Step], ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send each step in order; fail at the first answer the client could not have used, naming the step."""
    ctx = {} if ctx is None else ctx
    for n, step in enumerate(steps, 1):
        kwargs: dict[str, Any] = {"headers": dict(step.headers)}
        for name in ("params", "json", "data", "files", "content"):
            value = _resolve(getattr(step, name), ctx)
            if value is not None:
                kwargs[name] = value
        path = _resolve(step.path, ctx)
        response = client.request(step.method, path, **kwargs)
        label = f"step {n} ({step.what}): {step.method} {path}"
        wanted = step.status if isinstance(step.status, tuple) else (step.status,)
        assert response.status_code in wanted, f"{label} -> HTTP {response.status_code}: {response.text[:300]}"
        if isinstance(step.answer, str) and step.answer.startswith("text:"):
            assert response.text == step.answer[5:], f"{label}: answered {response.text[:100]!r}"
        elif step.answer is not None:
            problems = shape_problems(response.json(), step.answer)
            assert not problems, f"{label}: the client cannot read the answer: {problems[:5]}"
        if step.save is not None:
            ctx.update(step.save(response, ctx))
    return ctx

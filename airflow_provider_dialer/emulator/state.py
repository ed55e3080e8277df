"""What every emulated vendor shares, without HTTP: settings, credentials, lock, the record of what it received, and
the base of each vendor's backend (its state and rules).

A backend is plain Python: methods that take parsed values and answer data or raise :class:`Refused`
with the vendor's own error body. The HTTP layer (``emulator/http.py`` and each ``<vendor>/routes.py``)
reads requests, calls a backend and writes the answer.
"""

from __future__ import annotations

import asyncio
import ctypes
import hmac
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


@dataclass
class EmulatorConfig:
    """Tunable behaviour, changed at runtime with ``PATCH /_emulator/config``."""

    #: Voipex access-token lifetime in seconds (vendor: 3000) and refresh-token lifetime (vendor: 7200)
    voipex_token_lifetime: float = 3000.0
    voipex_refresh_lifetime: float = 7200.0
    #: seconds a uContact Automation list stays ``loading`` before it turns ``inactive``
    ucontact_list_load_seconds: float = 0.3
    #: seconds a UJET import job stays ``in_progress``
    ujet_job_seconds: float = 0.3
    #: UJET requests per second per customer before 429 (vendor: 10); 0 turns the limit off
    ujet_rate_limit: float = 10.0
    #: also send a ``Link`` header on UJET import answers, besides ``Location``
    #: (docs/vendors/ujet.md#decision-import-job-id-discovery)
    ujet_link_header: bool = True
    #: XCALLY CSV import: contacts made visible per second after step 2 (they appear progressively)
    xcally_import_rate: float = 200_000.0
    #: XCALLY global custom fields (``cf_1``, ``cf_2``, .. in this order) the fields endpoint lists: names
    #: separated by commas, or a JSON list; set your CSV's extra headers here so a binding by alias works
    xcally_custom_fields: str = "customer_code,segment,notes"
    #: timezone the uContact Integra instance reads ``calldate`` in
    ucontact_instance_timezone: str = "America/Montevideo"

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise KeyError(key)
            current = getattr(self, key)
            if isinstance(current, bool):
                value = value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
            elif isinstance(current, float):
                value = float(value)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Credentials:
    """The credentials the emulator accepts. Test values only: never a real tenant's."""

    ucontact_user: str = "supervisor"
    ucontact_password: str = "emu-ucontact-pass-7c1f"
    ucontact_api_token: str = "emu-ucontact-api-token-51d0a9"
    xcally_user: str = "admin"
    xcally_password: str = "emu-xcally-pass-93ab"
    xcally_api_key: str = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWRtaW4iLCJlbXUiOnRydWV9.emu-xcally-apikey-sig"
    )
    voipex_user: str = "api-user@example.com"
    voipex_password: str = "emu-voipex-pass-2f6e"
    ujet_user: str = "emulator"
    ujet_token: str = "emu-ujet-token-0b7d44"


class Recorder:
    """What one vendor API received: requests (compact) and each lead, so tests can count it exactly once.

    Leads are counted per endpoint and per *scope*: the campaign, list or hub that received them. A lead
    is a duplicate only when one scope received it twice; the same phone in two campaigns is two leads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        #: endpoint -> scope -> key -> times received
        self.leads: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))

    def request(self, method: str, path: str, status: int, **info: Any) -> None:
        with self._lock:
            self.requests.append({"ts": time.time(), "method": method, "path": path, "status": status, **info})

    def leads_received(self, endpoint: str, keys: Iterable[str], scope: Any = None) -> None:
        """Count each lead (by phone, or email for email hubs) that an endpoint accepted and stored.

        ``scope`` names where it went (``"campaign 6"``, ``"list 12"``, ``"hub sales"``); None is the
        endpoint's single, shared scope.
        """
        with self._lock:
            self.leads[endpoint]["" if scope is None else str(scope)].update(keys)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.leads.clear()

    def leads_summary(self, with_keys: bool = False) -> dict[str, Any]:
        """Per endpoint: ``total`` received, ``distinct`` keys, and ``duplicates``: each key some scope
        received more than once, with how many times the scopes that repeated it received it.

        ``with_keys`` adds ``counts`` (key -> times received, all scopes together), ``scopes`` (scope ->
        the same three figures for that scope alone) and ``cross_scope`` (key -> number of scopes, for
        the keys more than one scope received: allowed, but worth a look).
        """
        with self._lock:
            out: dict[str, Any] = {}
            for endpoint, scopes in self.leads.items():
                counts: Counter[str] = Counter()
                duplicates: Counter[str] = Counter()
                spread: Counter[str] = Counter()
                for counter in scopes.values():
                    counts.update(counter)
                    spread.update(counter.keys())
                    duplicates.update({k: c for k, c in counter.items() if c > 1})
                entry: dict[str, Any] = {
                    "total": sum(counts.values()),
                    "distinct": len(counts),
                    "duplicates": dict(duplicates),
                }
                if with_keys:
                    entry["counts"] = dict(counts)
                    entry["scopes"] = {
                        scope: {
                            "total": sum(c.values()),
                            "distinct": len(c),
                            "duplicates": {k: n for k, n in c.items() if n > 1},
                        }
                        for scope, c in scopes.items()
                    }
                    entry["cross_scope"] = {k: n for k, n in spread.items() if n > 1}
                out[endpoint] = entry
            return out


@dataclass
class EmulatorContext:
    """Handed to every vendor API: shared config and credentials, and that vendor's own recorder and lock."""

    config: EmulatorConfig
    credentials: Credentials
    recorder: Recorder = field(default_factory=Recorder)
    lock: threading.RLock = field(default_factory=threading.RLock)


class Refused(Exception):
    """A request the vendor refuses: the HTTP status and the body it answers, in that vendor's error shape.

    Backends raise it from plain methods; the HTTP layer turns it into the answer (as moto's models
    raise errors that carry their status code).
    """

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers


class VendorBackend:
    """One emulated vendor API's state and rules: what it stores, validates and answers; no HTTP in it.

    Subclasses define ``name``, ``reset()`` and ``dump()``. Methods hold ``self.ctx.lock`` while touching
    state and record accepted leads with ``self.ctx.recorder.leads_received(...)``. They never import
    the provider's hooks: the emulator reads the vendor documents on its own.
    """

    name: str = "vendor"

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.reset()

    @property
    def config(self) -> EmulatorConfig:
        return self.ctx.config

    @property
    def credentials(self) -> Credentials:
        return self.ctx.credentials

    def reset(self) -> None:
        raise NotImplementedError

    def dump(self) -> dict[str, Any]:
        raise NotImplementedError


def same_text(given: str, expected: str) -> bool:
    """Constant-time comparison of two texts of any script (compared as UTF-8 bytes).

    ``hmac.compare_digest`` refuses a non-ASCII ``str``; as bytes a non-ASCII secret is checked like any other.
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def now_iso_millis() -> str:
    """Now in UTC as ``2024-08-01T12:00:00.123Z`` (the timestamps UJET and Voipex answer)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def release_memory() -> None:
    """Hand a parser's freed buffers back to the OS after a big body (glibc only; best effort)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def call_later(delay: float, callback: Callable[[], None]) -> bool:
    """Run ``callback`` on the server's event loop ``delay`` seconds from now, as a vendor finishes work in the
    background; False when no loop runs here (then only a read settles the work)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    loop.call_later(delay, callback)
    return True

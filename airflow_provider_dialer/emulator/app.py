"""Assembles the emulator: one Starlette app per vendor port (vendor routes, admin API, faults) and the servers that run them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

try:
    # starlette imports the multipart parser only when a form arrives: checked here so a missing one fails
    # now, not as a 500 on the first upload
    import python_multipart  # noqa: F401 - imported only to check it is there
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ModuleNotFoundError as missing:  # a worker installs the provider without the `emulator` extra
    raise ModuleNotFoundError(
        f"the dialer emulator's server needs {missing.name}: pip install 'airflow-provider-dialer[emulator]'",
        name=missing.name,
    ) from missing

from airflow_provider_dialer.emulator.faults import FaultInjector, FaultMiddleware, droppable_protocol
from airflow_provider_dialer.emulator.http import VendorAPI
from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig, EmulatorContext, VendorBackend

#: the vendor ports, each a package ``emulator/<vendor>/`` whose ``__init__`` names the HTTP layers it serves
#: (``APIS``) and the connection it hands out (``connection``). Adding a vendor adds its name here.
VENDORS = ("ucontact", "xcally", "voipex", "ujet")


def _vendor(vendor: str) -> ModuleType:
    if vendor not in VENDORS:
        raise KeyError(vendor)
    return importlib.import_module(f"airflow_provider_dialer.emulator.{vendor}")


def _load(path: str) -> type[VendorAPI[Any]]:
    module, _, name = path.partition(":")
    api: type[VendorAPI[Any]] = getattr(importlib.import_module(module), name)
    return api


class _RecordingMiddleware:
    """Logs every vendor request (method, path, final status) into the port's recorder.

    A request is logged as its answer starts, before the client can have it: a client that read its
    answer and moved on (a test that ended, its emulator reset for the next) finds it in the log
    already, never in the next one's. A request that gets no answer (the connection dropped) is
    logged with status 0 when its handling ends.
    """

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        logged = False

        def log(status: int) -> None:
            nonlocal logged
            logged = True
            fault = scope.get("dialer_fault")
            info = {"fault": fault} if fault else {}
            self.ctx.recorder.request(scope["method"], scope["path"], status, **info)

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start" and not logged:
                log(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not logged:
                log(0)


@dataclass
class VendorPort:
    """One vendor's server: its APIs' backends (state and rules) and HTTP layers, context, fault rules and ASGI app."""

    vendor: str
    ctx: EmulatorContext
    backends: list[VendorBackend]
    apis: list[VendorAPI[Any]]
    faults: FaultInjector = field(default_factory=FaultInjector)
    app: ASGIApp | None = None

    def reset(self) -> None:
        with self.ctx.lock:
            for backend in self.backends:
                backend.reset()
        self.ctx.recorder.reset()
        self.faults.clear()

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            return {backend.name: backend.dump() for backend in self.backends}


def build_port(vendor: str, config: EmulatorConfig, credentials: Credentials, seed: int = 0) -> VendorPort:
    ctx = EmulatorContext(config=config, credentials=credentials)
    apis = []
    for path in _vendor(vendor).APIS:
        api_class = _load(path)
        apis.append(api_class(api_class.backend_class(ctx)))
    backends = [api.backend for api in apis]
    port = VendorPort(vendor=vendor, ctx=ctx, backends=backends, apis=apis, faults=FaultInjector(seed))
    routes = [route for api in apis for route in api.routes()] + _admin_routes(port)
    app: ASGIApp = FaultMiddleware(Starlette(routes=routes), port.faults)
    port.app = _RecordingMiddleware(app, ctx)
    return port


def _admin_routes(port: VendorPort) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"vendor": port.vendor, "apis": [a.name for a in port.apis]})

    async def state(request: Request) -> Response:
        return JSONResponse(port.dump())

    async def requests_(request: Request) -> Response:
        path = request.query_params.get("path")
        rows = list(port.ctx.recorder.requests)
        if path:
            rows = [r for r in rows if path in r["path"]]
        return JSONResponse(rows)

    async def leads(request: Request) -> Response:
        with_keys = request.query_params.get("keys") in {"1", "true"}
        return JSONResponse(port.ctx.recorder.leads_summary(with_keys))

    async def reset(request: Request) -> Response:
        port.reset()
        return JSONResponse({"reset": port.vendor})

    async def faults(request: Request) -> Response:
        try:
            if request.method == "PUT":
                body = json.loads(await request.body() or b"{}")
                port.faults.set(body.get("rules", []), body.get("seed"))
            elif request.method == "POST":
                port.faults.add(json.loads(await request.body() or b"{}"))
            elif request.method == "DELETE":
                port.faults.clear()
        except (TypeError, ValueError) as exc:
            return JSONResponse({"message": f"bad fault rule: {exc}"}, status_code=400)
        return JSONResponse(port.faults.public())

    async def config(request: Request) -> Response:
        if request.method == "PATCH":
            try:
                port.ctx.config.update(json.loads(await request.body() or b"{}"))
            except KeyError as exc:
                return JSONResponse({"message": f"unknown setting {exc}"}, status_code=400)
            except (TypeError, ValueError) as exc:
                return JSONResponse({"message": f"bad setting: {exc}"}, status_code=400)
        return JSONResponse(port.ctx.config.as_dict())

    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/state", state, methods=["GET"]),
        Route("/_emulator/requests", requests_, methods=["GET"]),
        Route("/_emulator/leads", leads, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/_emulator/config", config, methods=["GET", "PATCH"]),
    ]


# --------------------------------------------------------------------------------------------
# Connection settings that point a hook at the emulator
# --------------------------------------------------------------------------------------------


#: the emulator applies a request before it answers, except under a ``late_apply`` fault, whose delay a test
#: keeps below this: its connections tell the hooks so, and a lost answer is settled in half a second
EMULATOR_LATE_WRITE_SECONDS = 0.5


def connection_for(vendor: str, host: str, port: int, creds: Credentials, config: EmulatorConfig) -> dict[str, Any]:
    """The Airflow connection (JSON form) that points the vendor's hook at this emulator port."""
    base = {"host": host, "port": port, "schema": "http"}
    late = {"late_write_seconds": EMULATOR_LATE_WRITE_SECONDS}
    connection: dict[str, Any] = _vendor(vendor).connection(base, late, creds, config)
    return connection


def _credentials_of(vendor: str, creds: Credentials) -> dict[str, str]:
    prefix = f"{vendor}_"
    return {k[len(prefix) :]: v for k, v in vars(creds).items() if k.startswith(prefix)}


# --------------------------------------------------------------------------------------------
# Running the servers
# --------------------------------------------------------------------------------------------


class Emulator:
    """The running emulator: one uvicorn server per vendor port, all on one event loop.

    Use :func:`run_emulator` (in a thread, for tests and DAG development) or the CLI.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        vendors: tuple[str, ...] = VENDORS,
        config: EmulatorConfig | None = None,
        credentials: Credentials | None = None,
        seed: int = 0,
    ) -> None:
        self.host = host
        self.config = config or EmulatorConfig()
        self.credentials = credentials or Credentials()
        self.ports: dict[str, VendorPort] = {v: build_port(v, self.config, self.credentials, seed) for v in vendors}
        self._sockets: dict[str, socket.socket] = {}
        for vendor in vendors:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, (ports or {}).get(vendor, 0)))
            sock.listen(2048)
            sock.set_inheritable(True)
            self._sockets[vendor] = sock
        self._servers: list[Any] = []

    def port_of(self, vendor: str) -> int:
        port: int = self._sockets[vendor].getsockname()[1]
        return port

    def base_url(self, vendor: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port_of(vendor)}"

    def connection(self, vendor: str) -> dict[str, Any]:
        return connection_for(vendor, self.host, self.port_of(vendor), self.credentials, self.config)

    def describe(self) -> dict[str, Any]:
        """``{vendor: {"base_url", "conn_uri", "credentials"}}``: what ``--config-out`` writes."""
        return {
            vendor: {
                "base_url": self.base_url(vendor),
                "admin_url": f"{self.base_url(vendor)}/_emulator",
                "conn_uri": json.dumps(self.connection(vendor)),
                "credentials": _credentials_of(vendor, self.credentials),
            }
            for vendor in self.ports
        }

    def env(self, conn_ids: dict[str, str] | None = None) -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` values for each vendor (ids default to ``<vendor>_default``)."""
        out = {}
        for vendor in self.ports:
            conn_id = (conn_ids or {}).get(vendor, f"{vendor}_default")
            out[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(self.connection(vendor))
        return out

    def reset(self) -> None:
        for port in self.ports.values():
            port.reset()

    # -- the admin API over HTTP, for tests and benchmarks ----------------------------------

    def admin(self, vendor: str, method: str, what: str, body: Any = None, **params: Any) -> Any:
        """Call ``/_emulator/<what>`` on a vendor's port over real HTTP and return its JSON."""
        import httpx

        response = httpx.request(
            method, f"{self.base_url(vendor)}/_emulator/{what}", json=body, params=params, timeout=30
        )
        response.raise_for_status()
        return response.json()  # Any: each caller names the shape its endpoint answers

    def state(self, vendor: str) -> dict[str, Any]:
        state: dict[str, Any] = self.admin(vendor, "GET", "state")
        return state

    def leads(self, vendor: str, keys: bool = False) -> dict[str, Any]:
        leads: dict[str, Any] = self.admin(vendor, "GET", "leads", **({"keys": "1"} if keys else {}))
        return leads

    def requests(self, vendor: str, path: str | None = None) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self.admin(vendor, "GET", "requests", **({"path": path} if path else {}))
        return requests

    def set_faults(self, vendor: str, rules: list[dict[str, Any]], seed: int | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.admin(vendor, "PUT", "faults", {"rules": rules, "seed": seed})
        return answer

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings shared by all vendors (they share one config object)."""
        vendor = next(iter(self.ports))
        config: dict[str, Any] = self.admin(vendor, "PATCH", "config", changes)
        return config

    async def serve(self, ready: threading.Event | None = None) -> None:
        protocol = droppable_protocol()
        self._servers = []
        for vendor, port in self.ports.items():
            assert port.app is not None, "build_port sets the app"
            config = uvicorn.Config(
                port.app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                http=protocol,
                timeout_keep_alive=30,
                h11_max_incomplete_event_size=64 * 1024 * 1024,
            )
            server = uvicorn.Server(config)
            # for a uvicorn that installs signal handlers through this method (newer ones have none)
            server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
            self._servers.append((server, self._sockets[vendor]))
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in self._servers]
        while not all(server.started for server, _ in self._servers):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        if ready is not None:
            ready.set()
        await asyncio.gather(*tasks)

    def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True


@contextlib.contextmanager
def run_emulator(
    host: str = "127.0.0.1",
    vendors: tuple[str, ...] = VENDORS,
    config: EmulatorConfig | None = None,
    seed: int = 0,
    credentials: Credentials | None = None,
) -> Iterator[Emulator]:
    """Start the emulator on free loopback ports in a background thread; stop it on exit.

    ``credentials`` replaces the test credentials it accepts (e.g. sentinels in a secrets audit).

    >>> with run_emulator() as emu:
    ...     os.environ.update(emu.env())      # AIRFLOW_CONN_UCONTACT_DEFAULT, ... point at it
    """
    emulator = Emulator(host=host, vendors=vendors, config=config, credentials=credentials, seed=seed)
    ready = threading.Event()
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            asyncio.run(emulator.serve(ready))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=runner, name="dialer-emulator", daemon=True)
    thread.start()
    if not ready.wait(30) or errors:
        raise RuntimeError(f"emulator failed to start: {errors[0] if errors else 'timeout'}")
    try:
        yield emulator
    finally:
        emulator.stop()
        thread.join(10)
        for sock in emulator._sockets.values():
            sock.close()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns a truthy value (test helper for async vendor behaviour)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)

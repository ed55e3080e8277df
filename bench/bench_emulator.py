"""Emulator ingest benchmark: one bulk upload of N contacts per vendor bulk endpoint, over real HTTP.

The emulator runs in its own process (started like a user would, with ``--config-out``); this
process builds each payload before the clock starts, sends it, waits until the emulator reports
every contact stored, and samples the emulator's RSS throughout. Target: >= 50,000 contacts/s at
1,000,000 contacts, and 1,000,000 stored contacts in well under 2 GB.

    python bench/bench_emulator.py                    # 1,000,000 contacts per endpoint
    python bench/bench_emulator.py --contacts 100000 --only ujet
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
import psutil


def phones(n: int) -> list[str]:
    return [f"+1{2000000000 + i}" for i in range(n)]


#: benchmark settings: no vendor rate limit, jobs and list loads finish at once, CSV imports unthrottled
FAST = [
    "--set",
    "ujet_rate_limit=0",
    "--set",
    "ujet_job_seconds=0",
    "--set",
    "ucontact_list_load_seconds=0",
    "--set",
    "xcally_import_rate=100000000",
]


class Emulator:
    """The emulator in its own process (``dialer-emulator --config-out``), started with ``settings``
    (default :data:`FAST`); waits until every vendor port answers its health check."""

    def __init__(self, settings: list[str] | None = None) -> None:
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="bench-emu-"))
        cfg = self.dir / "emulator.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_dialer.emulator",
                "--config-out",
                str(cfg),
                *(FAST if settings is None else settings),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not cfg.exists() or not cfg.read_text().strip().endswith("}"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("emulator did not start")
            time.sleep(0.05)
        self.config = json.loads(cfg.read_text())
        for info in self.config.values():
            while True:
                try:
                    httpx.get(f"{info['base_url']}/_emulator/health", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
        self.ps = psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def url(self, vendor: str) -> str:
        return self.config[vendor]["base_url"]

    def creds(self, vendor: str) -> dict[str, str]:
        return self.config[vendor]["credentials"]

    def stored(self, vendor: str, endpoint: str) -> int:
        data = httpx.get(f"{self.url(vendor)}/_emulator/leads", timeout=60).json()
        return data.get(endpoint, {}).get("total", 0)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def case_ucontact(emu: Emulator, n: int) -> tuple[Callable[[], None], str, str]:
    c = emu.creds("ucontact")
    body = json.dumps({"filename": "bench", "list": [{"clientIds": [p]} for p in phones(n)]}).encode()
    headers = {"Authorization": f"Bearer {c['api_token']}", "Content-Type": "application/json"}

    def send() -> None:
        r = httpx.post(f"{emu.url('ucontact')}/api/dialer/id/sales/lists", content=body, headers=headers, timeout=600)
        r.raise_for_status()

    return send, "ucontact", "automation.lists"


def case_xcally_bulk(emu: Emulator, n: int) -> tuple[Callable[[], None], str, str]:
    c = emu.creds("xcally")
    auth = basic(c["user"], c["password"])
    lst = httpx.post(f"{emu.url('xcally')}/api/cm/lists", json={"name": "bench-bulk"}, headers=auth, timeout=30).json()
    body = json.dumps([{"ListId": lst["id"], "firstName": "B", "phone": p} for p in phones(n)]).encode()

    def send() -> None:
        r = httpx.post(
            f"{emu.url('xcally')}/api/cm/lists/{lst['id']}/contacts",
            content=body,
            headers={**auth, "Content-Type": "application/json"},
            timeout=600,
        )
        r.raise_for_status()

    return send, "xcally", "xcally.contacts"


def case_xcally_csv(emu: Emulator, n: int) -> tuple[Callable[[], None], str, str]:
    c = emu.creds("xcally")
    auth = basic(c["user"], c["password"])
    lst = httpx.post(f"{emu.url('xcally')}/api/cm/lists", json={"name": "bench-csv"}, headers=auth, timeout=30).json()
    csv_bytes = ("firstName,phone\n" + "".join(f"B,{p}\n" for p in phones(n))).encode()

    def send() -> None:
        staged = httpx.post(
            f"{emu.url('xcally')}/api/cm/contacts/upload",
            headers=auth,
            timeout=600,
            files={"file": ("bench.csv", csv_bytes, "text/csv")},
            data={
                "flowChunkNumber": "1",
                "flowTotalChunks": "1",
                "flowChunkSize": str(len(csv_bytes)),
                "flowCurrentChunkSize": str(len(csv_bytes)),
                "flowTotalSize": str(len(csv_bytes)),
                "flowIdentifier": "bench",
                "flowFilename": "bench.csv",
                "flowRelativePath": "bench.csv",
            },
        )
        staged.raise_for_status()
        name = staged.json()["file"]["name"]
        r = httpx.post(
            f"{emu.url('xcally')}/api/cm/contacts/upload/{name}",
            headers=auth,
            timeout=600,
            json={"id": name, "ListId": lst["id"], "binding": {"firstName": "firstName", "phone": "phone"}},
        )
        r.raise_for_status()

    return send, "xcally", "xcally.csv"


def case_voipex(emu: Emulator, n: int) -> tuple[Callable[[], None], str, str]:
    c = emu.creds("voipex")
    token = httpx.post(
        f"{emu.url('voipex')}/token",
        timeout=30,
        data={"grant_type": "password", "client_id": "api", "username": c["user"], "password": c["password"]},
    ).json()["access_token"]
    body = json.dumps(
        {"name": "bench", "numbers": [{"number": p.lstrip("+"), "attributes": []} for p in phones(n)]}
    ).encode()

    def send() -> None:
        r = httpx.post(
            f"{emu.url('voipex')}/dialer/call-lists",
            content=body,
            timeout=600,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        r.raise_for_status()

    return send, "voipex", "voipex.call-lists"


def case_ujet(emu: Emulator, n: int) -> tuple[Callable[[], None], str, str]:
    c = emu.creds("ujet")
    payload = json.dumps([{"name": "B", "phone_number": p} for p in phones(n)]).encode()

    def send() -> None:
        r = httpx.post(
            f"{emu.url('ujet')}/apps/api/v1/outbound_dialer/campaigns/6/contacts/import",
            timeout=600,
            headers=basic(c["user"], c["token"]),
            files={"file": ("contacts.json", payload, "application/json")},
        )
        r.raise_for_status()
        job = r.headers["Location"]
        while (
            httpx.get(f"{emu.url('ujet')}{job}", headers=basic(c["user"], c["token"]), timeout=600).json()["status"]
            != "completed"
        ):
            time.sleep(0.05)

    return send, "ujet", "ujet.import"


CASES = {
    "ucontact": case_ucontact,
    "xcally-bulk": case_xcally_bulk,
    "xcally-csv": case_xcally_csv,
    "voipex": case_voipex,
    "ujet": case_ujet,
}


def measure(name: str, n: int) -> dict[str, object]:
    emu = Emulator()
    try:
        send, vendor, endpoint = CASES[name](emu, n)
        base_rss = emu.rss_mb()
        peak = [base_rss]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], emu.rss_mb())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        send()
        while emu.stored(vendor, endpoint) < n:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        held = emu.rss_mb()
        return {
            "endpoint": name,
            "contacts": n,
            "seconds": elapsed,
            "per_second": n / elapsed,
            "rss_idle_mb": base_rss,
            "rss_holding_mb": held,
            "rss_peak_mb": max(peak[0], held),
        }
    finally:
        emu.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--only", choices=sorted(CASES), action="append")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure(name, args.contacts) for name in (args.only or CASES)]
    print(
        f"\nEmulator ingest, {args.contacts:,} contacts in one upload per endpoint "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()})\n"
    )
    print("| endpoint | contacts | seconds | contacts/s | RSS idle MB | RSS holding MB | RSS peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['endpoint']} | {r['contacts']:,} | {r['seconds']:.2f} | {r['per_second']:,.0f} | "
            f"{r['rss_idle_mb']:.0f} | {r['rss_holding_mb']:.0f} | {r['rss_peak_mb']:.0f} |"
        )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

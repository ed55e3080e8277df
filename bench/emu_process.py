"""The dialer emulator as its own process for the benchmarks, started with benchmark settings.

The emulator sets TCP_NODELAY on its connections itself (without it, every request on a reused
keep-alive connection waited ~40 ms for the client's delayed ACK, which per-request measurements
would have measured instead of the provider).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_emulator import Emulator  # noqa: E402

FAST = ["--set", "ujet_rate_limit=0", "--set", "ujet_job_seconds=0", "--set", "ucontact_list_load_seconds=0",
        "--set", "xcally_import_rate=100000000"]


class BenchEmulator(Emulator):
    """``bench_emulator.Emulator`` (RSS, stop, url, creds) started with our settings."""

    def __init__(self, settings: list[str] | None = None) -> None:  # noqa: D107
        import httpx
        import psutil

        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="bench-emu-"))
        cfg = self.dir / "emulator.json"
        entry = ["-m", "airflow_provider_dialer.emulator"]
        self.proc = subprocess.Popen(
            [sys.executable, *entry, "--config-out", str(cfg), *(FAST if settings is None else settings)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not cfg.exists() or not cfg.read_text().strip().endswith("}"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("emulator did not start")
            time.sleep(0.05)
        self.config: dict[str, Any] = json.loads(cfg.read_text())
        for info in self.config.values():
            while True:
                try:
                    httpx.get(f"{info['base_url']}/_emulator/health", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
        self.ps = psutil.Process(self.proc.pid)

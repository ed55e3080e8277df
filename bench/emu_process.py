"""The dialer emulator as its own process for the benchmarks, started with benchmark settings.

The emulator sets TCP_NODELAY on its connections itself (without it, every request on a reused
keep-alive connection waited ~40 ms for the client's delayed ACK, which per-request measurements
would have measured instead of the provider).
"""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_emulator import FAST, Emulator  # noqa: E402 - importable once its folder is on sys.path

#: the benchmarks' name for it: ``bench_emulator.Emulator`` (RSS, stop, url, creds), ``settings`` default FAST
BenchEmulator = Emulator

__all__ = ["FAST", "BenchEmulator"]

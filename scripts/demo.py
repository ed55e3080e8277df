"""The README's main command: start the emulator, point Airflow connections at it, run an example DAG, print a report.

Run through ``make demo`` (which installs everything first). Exits non-zero when any step fails and
always stops the processes it started.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_BIN = pathlib.Path(sys.executable).parent


def start_emulator(workdir: pathlib.Path) -> tuple[subprocess.Popen[bytes], dict[str, dict[str, str]]]:
    config_path = workdir / "emulator.json"
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_dialer.emulator", "--config-out", str(config_path)],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while not config_path.exists() or not config_path.read_text().strip().endswith("}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"emulator did not start; see {workdir / 'emulator.log'}")
        time.sleep(0.05)
    config = json.loads(config_path.read_text())
    import httpx

    for vendor, info in config.items():
        while True:
            try:
                httpx.get(f"{info['base_url']}/_emulator/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"emulator {vendor} not answering") from None
                time.sleep(0.05)
    return proc, config


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def check_connections(config: dict[str, dict[str, str]]) -> bool:
    from airflow_provider_dialer.hooks.ucontact import UContactHook
    from airflow_provider_dialer.hooks.ujet import UjetHook
    from airflow_provider_dialer.hooks.voipex import VoipexHook
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    hooks = {"ucontact": UContactHook, "xcally": XCallyHook, "voipex": VoipexHook, "ujet": UjetHook}
    print("\nConnections (test_connection against the emulator):")
    all_ok = True
    for vendor, hook_class in hooks.items():
        ok, message = hook_class(f"{vendor}_default").test_connection()
        all_ok &= ok
        print(f"  {'OK ' if ok else 'FAIL'} {vendor:<9} {message}")
    return all_ok


def main() -> int:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="dialer-demo-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow-home"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "example_dags")
    proc, config = start_emulator(workdir)
    try:
        for vendor, info in config.items():
            os.environ[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"] = info["conn_uri"]
            print(f"emulator {vendor:<9} {info['base_url']}")
        ok = check_connections(config)
        return 0 if ok else 1
    finally:
        stop(proc)


if __name__ == "__main__":
    raise SystemExit(main())

"""The emulator as a program: CLI start/stop, --config-out, --print-env, admin API and faults over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.integration

VENDORS = {"ucontact", "xcally", "voipex", "ujet"}


def _wait_for_file(path, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip().endswith("}"):
            return json.loads(path.read_text())
        if proc.poll() is not None:
            raise AssertionError(f"emulator exited early: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    raise AssertionError("emulator did not write its config")


def test_cli_starts_all_vendors_and_stops_on_sigterm(tmp_path):
    out = tmp_path / "emulator.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_dialer.emulator",
            "--config-out",
            str(out),
            "--print-env",
            "--set",
            "ujet_rate_limit=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        config = _wait_for_file(out, proc)
        assert set(config) == VENDORS
        for vendor, info in config.items():
            assert info["base_url"].startswith("http://127.0.0.1:")
            conn = json.loads(info["conn_uri"])
            assert conn["conn_type"] == vendor and conn["host"] == "127.0.0.1" and conn["schema"] == "http"
            assert info["credentials"], vendor
            health = httpx.get(f"{info['base_url']}/_emulator/health", timeout=5).json()
            assert health["vendor"] == vendor
        assert httpx.get(f"{config['ujet']['base_url']}/_emulator/config", timeout=5).json()["ujet_rate_limit"] == 0
        ports = {info["base_url"].rsplit(":", 1)[1] for info in config.values()}
        assert len(ports) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0
    exports = [line for line in stdout.decode().splitlines() if line.startswith("export AIRFLOW_CONN_")]
    assert {
        line.split("=", 1)[0].removeprefix("export AIRFLOW_CONN_").removesuffix("_DEFAULT").lower() for line in exports
    } == VENDORS
    assert "stopped" in stderr.decode()


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "dialer-emulator")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--config-out" in result.stdout and "--print-env" in result.stdout


def test_fixed_ports_and_bad_arguments(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_dialer.emulator", "--ports", "nope=1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "--ports wants vendor=port" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_dialer.emulator", "--set", "no_such_setting=1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "unknown setting" in result.stderr


def test_admin_api_faults_and_reset(fresh_dialer_emulator):
    emu = fresh_dialer_emulator
    base = emu.base_url("xcally")
    rules = emu.set_faults(
        "xcally", [{"kind": "status", "status": 503, "retry_after": 2, "times": 1, "path": "^/api/cm/lists$"}], seed=7
    )
    assert rules["seed"] == 7 and rules["rules"][0]["kind"] == "status"
    answer = httpx.get(f"{base}/api/cm/lists", timeout=5)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    assert emu.requests("xcally", "/api/cm/lists")[-1]["fault"] == "status"
    bad = httpx.put(f"{base}/_emulator/faults", json={"rules": [{"kind": "explode"}]}, timeout=5)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["message"]
    bad = httpx.patch(f"{base}/_emulator/config", json={"nope": 1}, timeout=5)
    assert bad.status_code == 400
    emu.admin("xcally", "POST", "reset")
    assert emu.requests("xcally") == []
    assert emu.admin("xcally", "GET", "faults")["rules"] == []


def test_probabilistic_faults_are_deterministic_for_a_seed(fresh_dialer_emulator):
    emu = fresh_dialer_emulator
    base = emu.base_url("voipex")

    def pattern() -> list[int]:
        emu.set_faults("voipex", [{"kind": "status", "status": 502, "probability": 0.5, "path": "^/nothing"}], seed=42)
        return [httpx.get(f"{base}/nothing-{i}", timeout=5).status_code for i in range(20)]

    first, second = pattern(), pattern()
    assert first == second
    assert 502 in first and any(code != 502 for code in first)


def test_every_fault_kind(fresh_dialer_emulator):
    """status, latency, drop_before, drop_after and trickle, on a real UJET write."""
    import time as clock

    emu = fresh_dialer_emulator
    emu.configure(ujet_rate_limit=0)
    base = emu.base_url("ujet")
    auth = ("any", emu.credentials.ujet_token)
    path = "/apps/api/v1/outbound_dialer/campaigns/6/contacts"

    def add(phone: str) -> httpx.Response:
        return httpx.post(f"{base}{path}", json={"name": "x", "phone_number": phone}, auth=auth, timeout=10)

    def stored() -> set[str]:
        return set(emu.leads("ujet", keys=True).get("ujet.contacts", {}).get("counts", {}))

    emu.set_faults("ujet", [{"kind": "latency", "delay": 0.3, "times": 1, "path": path}])
    started = clock.monotonic()
    assert add("+12025550001").status_code == 200
    assert clock.monotonic() - started >= 0.3

    emu.set_faults("ujet", [{"kind": "drop_before", "times": 1, "path": path}])
    with pytest.raises(httpx.RemoteProtocolError):
        add("+12025550002")
    assert "+12025550002" not in stored()

    emu.set_faults("ujet", [{"kind": "drop_after", "times": 1, "path": path}])
    with pytest.raises(httpx.RemoteProtocolError):
        add("+12025550003")
    assert "+12025550003" in stored()  # applied, answer lost

    emu.set_faults("ujet", [{"kind": "trickle", "delay": 0.02, "chunk_bytes": 8, "times": 1, "path": path}])
    started = clock.monotonic()
    answer = add("+12025550004")
    assert answer.status_code == 200 and answer.json()["valid_contacts"][0]["phone_number"] == "+12025550004"
    assert clock.monotonic() - started >= 0.2

    emu.set_faults("ujet", [{"kind": "status", "status": 503, "times": 1, "after": 1, "path": path}])
    assert add("+12025550005").status_code == 200  # `after` skips the first match
    assert add("+12025550006").status_code == 503
    assert "+12025550006" not in stored()
    kinds = [r.get("fault") for r in emu.requests("ujet", path)]
    assert kinds.count("latency") == kinds.count("drop_before") == kinds.count("drop_after") == 1
    assert kinds.count("trickle") == kinds.count("status") == 1

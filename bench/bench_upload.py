"""End-to-end list upload benchmark: UploadListOperator.execute from a CSV to the emulator, against three yardsticks.

The emulator runs in its own process (``emu_process.BenchEmulator``, a fresh one per workload); every
workload runs in a fresh subprocess so its peak RSS is its own. Per list-capable vendor and size:

- ``e2e``: ``UploadListOperator(...).execute({})`` over the generated CSV, ``progress=<json file>``,
  connection from ``AIRFLOW_CONN_<VENDOR>_DEFAULT`` (the emulator's ``conn_uri``); clock from
  ``execute`` start to return; peak RSS of that process; requests as the emulator logged them;
- ``send``: the same ``execute`` with the leads already prepared (loaded from a pickle before the
  clock; ``_prepare`` handed the list): hook encoding + HTTP + progress store, i.e. the send stage;
  also its process's CPU seconds (steadier than the wall clock on a shared machine);
- ``ceiling``: the same wire bodies (built with the hook modules' mapping functions, before the
  clock) posted with raw httpx at the same concurrency and chunk size: the transport ceiling;
- ``prepare``: ``prepare_leads`` alone on the same CSV with the operator's arguments, streamed the
  way the operator consumes it (chunks, none kept); a second, untimed pass keeps the leads for the
  other workers (holding ~900,000 ``PreparedLead``s costs ~1.2 GB and ~13 s of garbage collection
  that no operator pays);
- ``handwritten``: the honest peer, ``handwritten_upload.py`` (csv.DictReader, phonenumbers parse +
  is_valid + E.164 per row, a set for de-duplication, one bulk request per 1,000 contacts with httpx
  on 4 threads; none of the operator's zones, windows, reject report or exactly-once), on XCALLY
  and UJET, the vendors whose bulk endpoints a hand-written script reaches with one POST;
- ``naive``: one request per lead with Airflow's stock ``HttpHook`` to the vendor's single-contact
  endpoint, sequentially, on a sample (leads already prepared and mapped: the naive way gets its
  preparation for free), extrapolated to the size. Labelled as extrapolated.

Client-side vendor rate limits are turned off in the connection (``rate_limit_per_second: 0``) and
the emulator's UJET 429 limit is off, so every column is limited by the same two processes on the
same machine (with UJET's default 10 requests/s, 1,000,000 leads in chunks of 5,000 take >= 20 s).

    python bench/bench_upload.py                                   # 100,000 and 1,000,000 leads
    python bench/bench_upload.py --sizes 100000 --vendors ujet --naive-sample 500
    python bench/bench_upload.py --phones rphonenumbers --prepare-workers 1   # one phone library only
    python bench/bench_upload.py --json rows.json ... ; python bench/bench_upload.py --table rows.json

``e2e`` and ``prepare`` run once per phone library (``--phones``; default: phonenumbers, and
rphonenumbers too when the ``fast`` extra is installed, forced with ``DIALER_PHONE_BACKEND``
whatever its metadata release); the other workers do not depend on it and run once.

Targets (issue #8): e2e at 1,000,000 leads >= 20x the naive way; send stage >= 80% of the
transport ceiling; peak RSS of the task process < 300 MB and within 15% between sizes. Issue #18
adds: e2e at least 2x the hand-written script's speed and at least 60x the naive way.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

VENDORS = ("xcally", "voipex", "ujet", "ucontact")
SETTINGS: dict[str, dict[str, Any]] = {
    "xcally": {"mode": "batch"},
    "voipex": {},
    "ujet": {"campaign_id": 6},
    "ucontact": {"hub": "sales"},
}
MAPPING = {
    "phones": ["tel", "tel2"],
    "external_id": "id",
    "first_name": "nome",
    "last_name": "sobrenome",
    "country": "pais",
    "timezone": "fuso",
    "schedule": "agendar",
}
# open all day: every lead is due now, so no run is held back for a calling window
WINDOW = {"start": "00:00", "end": "24:00"}
CONCURRENCY = 4


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepare(path: str, now: Any) -> Any:
    from airflow_provider_dialer.leads import prepare_leads

    return prepare_leads(
        path, column_mapping=MAPPING, default_timezone="America/Montevideo", calling_window=WINDOW, now=now
    )


def _chunk_size(vendor: str) -> int:
    from airflow_provider_dialer.hooks.ucontact.hook import UContactHook
    from airflow_provider_dialer.hooks.ujet.hook import UjetHook
    from airflow_provider_dialer.hooks.voipex.hook import VoipexHook
    from airflow_provider_dialer.hooks.xcally.hook import XCallyHook

    return {
        "xcally": XCallyHook.batch_chunk_size,
        "voipex": VoipexHook.list_chunk_size,
        "ujet": UjetHook.list_chunk_size,
        "ucontact": UContactHook.list_chunk_size,
    }[vendor]


# ----------------------------------------------------------------------------------------------
# workers (each in a fresh process; the emulator's conn_uri arrives in the environment)
# ----------------------------------------------------------------------------------------------


def _operator(vendor: str, csv_path: Any, work: str) -> Any:
    from airflow_provider_dialer.operators.lists import UploadListOperator

    return UploadListOperator(
        task_id="bench_upload",
        conn_id=f"{vendor}_default",
        source=csv_path,
        column_mapping=MAPPING,
        default_timezone="America/Montevideo",
        calling_window=WINDOW,
        max_reject_ratio=1.0,
        list_name=f"bench {vendor}",
        settings=dict(SETTINGS[vendor]),
        concurrency=CONCURRENCY,
        progress=os.path.join(work, f"progress-{vendor}-{os.getpid()}.json"),
        prepare_workers=int(os.environ.get("BENCH_PREPARE_WORKERS", "1")),
    )


def _result(summary: dict[str, Any], seconds: float, rss_start: float) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "read": summary["read"],
        "prepared": summary["prepared"],
        "accepted": summary["accepted"],
        "held_back": summary["held_back"],
        "unknown": summary["unknown"],
        "chunks": summary["chunks"],
        "rss_mb": _peak_rss_mb(),
        "rss_start_mb": rss_start,
    }


def worker_e2e(vendor: str, csv_path: str, work: str) -> dict[str, Any]:
    op = _operator(vendor, csv_path, work)
    rss_start = _peak_rss_mb()
    from bench_prepare import TreeRss

    tree = TreeRss()
    t0 = time.perf_counter()
    summary = op.execute({})
    result = _result(summary, time.perf_counter() - t0, rss_start)
    result["children_rss_mb"] = tree.stop()
    return result


class _Prepared:
    """Looks like ``PreparedLeads`` to the operator, over leads prepared before the clock started."""

    def __init__(self, leads: list[Any], report: Any) -> None:
        self._leads, self.report = leads, report

    def __iter__(self) -> Any:
        return iter(self._leads)


def _load(pickled: str) -> tuple[list[Any], Any]:
    """The prepared leads, all in memory (a bench fixture: the operator streams them), frozen out of GC.

    Without ``gc.freeze()`` every full collection during the timed send would walk a million
    fixture objects that the real, streamed path never holds, charging the send stage for them.
    """
    import gc

    with open(pickled, "rb") as f:
        loaded = pickle.load(f)
    gc.freeze()
    return loaded


def worker_send(vendor: str, pickled: str, work: str) -> dict[str, Any]:
    leads, report = _load(pickled)
    op = _operator(vendor, [], work)  # type: ignore[arg-type]  # not read: _prepare is replaced (a list: nothing to check)
    op._prepare = lambda now, with_report=True: _Prepared(leads, report)  # type: ignore[method-assign]
    __import__(f"airflow_provider_dialer.hooks.{vendor}")  # warm, as the ceiling's wire modules are
    rss_start = _peak_rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    summary = op.execute({})
    result = _result(summary, time.perf_counter() - t0, rss_start)
    # the task process's own CPU time: steadier than the wall clock on a machine shared with other work
    result["cpu_seconds"] = time.process_time() - cpu0
    return result


def _auth(vendor: str, base: str, creds: dict[str, str]) -> dict[str, str]:
    import base64

    import httpx

    if vendor == "ujet":
        return {"Authorization": "Basic " + base64.b64encode(f"{creds['user']}:{creds['token']}".encode()).decode()}
    if vendor == "xcally":
        return {"Authorization": "Basic " + base64.b64encode(f"{creds['user']}:{creds['password']}".encode()).decode()}
    if vendor == "ucontact":
        return {"Authorization": f"Bearer {creds['api_token']}"}
    token = httpx.post(
        f"{base}/token",
        timeout=30,
        data={"grant_type": "password", "client_id": "api", "username": creds["user"], "password": creds["password"]},
    ).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _xcally_list(base: str, auth: dict[str, str], name: str) -> int:
    import httpx

    return int(httpx.post(f"{base}/api/cm/lists", json={"name": name}, headers=auth, timeout=30).json()["id"])


def worker_ceiling(vendor: str, pickled: str, work: str) -> dict[str, Any]:
    """The hook's wire bodies, built before the clock, posted with raw httpx at the operator's concurrency."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from airflow_provider_dialer.hooks.ucontact.wire import automation_contact
    from airflow_provider_dialer.hooks.ujet.wire import ujet_contact
    from airflow_provider_dialer.hooks.voipex.wire import voipex_number
    from airflow_provider_dialer.hooks.xcally.wire import xcally_contact

    base, creds = os.environ["BENCH_BASE_URL"], json.loads(os.environ["BENCH_CREDS"])
    leads, _ = _load(pickled)
    size = _chunk_size(vendor)
    auth = _auth(vendor, base, creds)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    requests: list[dict[str, Any]] = []
    list_id = _xcally_list(base, auth, "bench ceiling") if vendor == "xcally" else None
    for i, start in enumerate(range(0, len(leads), size), 1):
        chunk = leads[start : start + size]
        if vendor == "ujet":
            body = dumps([ujet_contact(lead) for lead in chunk]).encode()
            requests.append(
                {
                    "url": f"{base}/apps/api/v1/outbound_dialer/campaigns/6/contacts/import",
                    "files": {"file": ("contacts.json", body, "application/json")},
                }
            )
        elif vendor == "xcally":
            body = dumps([xcally_contact(lead, list_id=list_id) for lead in chunk]).encode()
            requests.append(
                {
                    "url": f"{base}/api/cm/lists/{list_id}/contacts",
                    "content": body,
                    "headers": {"Content-Type": "application/json"},
                }
            )
        elif vendor == "voipex":
            body = dumps(
                {"name": f"bench ceiling now#{i}", "numbers": [voipex_number(lead) for lead in chunk]}
            ).encode()
            requests.append(
                {"url": f"{base}/dialer/call-lists", "content": body, "headers": {"Content-Type": "application/json"}}
            )
        else:
            body = dumps(
                {"filename": f"bench ceiling ({i})", "list": [automation_contact(lead) for lead in chunk]}
            ).encode()
            requests.append(
                {
                    "url": f"{base}/api/dialer/id/sales/lists",
                    "content": body,
                    "headers": {"Content-Type": "application/json"},
                }
            )
    del leads
    client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=CONCURRENCY))

    def post(req: dict[str, Any]) -> None:
        headers = {**auth, **req.pop("headers", {})}
        client.post(req.pop("url"), headers=headers, **req).raise_for_status()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(post, requests))
    seconds = time.perf_counter() - t0
    client.close()
    return {"seconds": seconds, "requests": len(requests), "rss_mb": _peak_rss_mb()}


def worker_naive(vendor: str, pickled: str, sample: str) -> dict[str, Any]:
    """One stock-HttpHook request per lead, in a plain loop, to the vendor's single-contact endpoint."""
    from airflow.providers.http.hooks.http import HttpHook

    from airflow_provider_dialer.hooks.ucontact.wire import automation_contact
    from airflow_provider_dialer.hooks.ujet.wire import ujet_contact
    from airflow_provider_dialer.hooks.voipex.wire import voipex_number
    from airflow_provider_dialer.hooks.xcally.wire import xcally_contact

    base, creds = os.environ["BENCH_BASE_URL"], json.loads(os.environ["BENCH_CREDS"])
    leads, _ = _load(pickled)
    leads = leads[: int(sample)]
    headers: dict[str, str] = {}
    if vendor in ("voipex", "ucontact"):
        headers = _auth(vendor, base, creds)  # bearer tokens: the http connection carries no login
    list_id = _xcally_list(base, _auth("xcally", base, creds), "bench naive") if vendor == "xcally" else None
    if vendor == "ujet":
        calls = [("apps/api/v1/outbound_dialer/campaigns/6/contacts", ujet_contact(lead)) for lead in leads]
    elif vendor == "xcally":
        calls = [("api/cm/contacts", xcally_contact(lead, list_id=list_id)) for lead in leads]
    elif vendor == "voipex":
        calls = [
            ("dialer/call-lists", {"name": f"naive {lead.row}", "numbers": [voipex_number(lead)]}) for lead in leads
        ]
    else:
        calls = [
            ("api/dialer/id/sales/freshLeads", {"leads": [automation_contact(lead, fresh=True)]}) for lead in leads
        ]
    hook = HttpHook(method="POST", http_conn_id="naive_http")
    t0 = time.perf_counter()
    for endpoint, body in calls:
        hook.run(endpoint, json=body, headers=headers)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "leads": len(calls), "per_lead_ms": seconds / len(calls) * 1000}


def worker_prepare(csv_path: str, pickled: str) -> dict[str, Any]:
    """prepare_leads alone, streamed (timed); then again, kept whole and pickled for the send/ceiling/naive workers (untimed)."""
    from datetime import datetime

    now = datetime.now(UTC)
    t0 = time.perf_counter()
    streamed = sum(len(chunk) for chunk in _prepare(csv_path, now).chunks(1000))
    seconds = time.perf_counter() - t0
    rss = _peak_rss_mb()
    result = _prepare(csv_path, now)
    leads = list(result)
    assert len(leads) == streamed, (len(leads), streamed)
    with open(pickled, "wb") as f:
        pickle.dump((leads, result.report), f, protocol=pickle.HIGHEST_PROTOCOL)
    return {"seconds": seconds, "rows": result.report.rows, "prepared": len(leads), "rss_mb": rss}


def worker_handwritten(vendor: str, csv_path: str) -> dict[str, Any]:
    import handwritten_upload

    result = handwritten_upload.main(vendor, csv_path)
    result["rss_mb"] = _peak_rss_mb()
    return result


#: the vendors ``handwritten_upload.py`` is written for
HANDWRITTEN = ("xcally", "ujet")

WORKERS = {
    "handwritten": worker_handwritten,
    "e2e": worker_e2e,
    "send": worker_send,
    "ceiling": worker_ceiling,
    "naive": worker_naive,
    "prepare": worker_prepare,
}


# ----------------------------------------------------------------------------------------------
# parent: emulator per workload, workers in fresh processes
# ----------------------------------------------------------------------------------------------


def _conn_env(emu: Any, vendor: str) -> dict[str, str]:
    info = emu.config[vendor]
    conn = json.loads(info["conn_uri"])
    conn.setdefault("extra", {})["rate_limit_per_second"] = 0
    host, port = conn["host"], conn["port"]
    naive = {"conn_type": "http", "host": host, "port": port, "schema": "http"}
    if vendor == "ujet":
        naive.update(login=info["credentials"]["user"], password=info["credentials"]["token"])
    elif vendor == "xcally":
        naive.update(login=info["credentials"]["user"], password=info["credentials"]["password"])
    return {
        f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT": json.dumps(conn),
        "AIRFLOW_CONN_NAIVE_HTTP": json.dumps(naive),
        "BENCH_BASE_URL": info["base_url"],
        "BENCH_CREDS": json.dumps(info["credentials"]),
    }


def _spawn(kind: str, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", kind, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if out.returncode != 0:
        raise SystemExit(f"worker {kind} {args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _with_emulator(
    vendor: str, kind: str, *args: str, timeout: float = 900, env: dict[str, str] | None = None
) -> dict[str, Any]:
    import httpx
    from emu_process import BenchEmulator

    emu = BenchEmulator()
    try:
        result = _spawn(kind, *args, env={**_conn_env(emu, vendor), **(env or {})}, timeout=timeout)
        rows = httpx.get(f"{emu.url(vendor)}/_emulator/requests", timeout=120).json()
        result["requests_logged"] = len(rows)
        result["requests_failed"] = sum(1 for r in rows if r.get("status", 0) >= 400)
        return result
    finally:
        emu.stop()


def _phones(backend: str) -> dict[str, str]:
    """The environment that makes preparation parse phones with ``backend`` (forced, see ``phone_backend``)."""
    return {"DIALER_PHONE_BACKEND": backend}


def measure(
    vendors: list[str], sizes: list[int], sample: int, work: str, backends: tuple[str, ...] = ("phonenumbers",)
) -> list[dict[str, Any]]:
    """One row per vendor, size and phone library: end to end and preparation alone per library; the
    send stage, the ceiling, the naive way and the hand-written script (which parse nothing, or always
    with phonenumbers) once per vendor and size."""
    from bench_prepare import generate

    rows = []
    naive: dict[str, dict[str, Any]] = {}
    for size in sizes:
        csv_path = os.path.join(work, f"leads_{size}.csv")
        pickled = os.path.join(work, f"prepared_{size}.pickle")
        generate(csv_path, size)
        preps = {}
        for backend in backends:
            # the pickle the send/ceiling/naive workers read is the last one written: the same leads either way
            preps[backend] = _spawn("prepare", csv_path, pickled, env=_phones(backend))
            print(f"# {size:,}: prepare ({backend}) {preps[backend]['seconds']:.1f} s", file=sys.stderr)
        if len({(p["prepared"], p["rows"]) for p in preps.values()}) != 1:
            raise SystemExit(f"the phone libraries prepared different leads: {preps}")
        for vendor in vendors:
            if vendor not in naive:
                naive[vendor] = _with_emulator(vendor, "naive", vendor, pickled, str(sample))
                print(f"# naive {vendor}: {naive[vendor]['per_lead_ms']:.2f} ms/lead", file=sys.stderr)
            e2es = {}
            for backend in backends:
                e2es[backend] = _with_emulator(vendor, "e2e", vendor, csv_path, work, env=_phones(backend))
                print(f"# {size:,} {vendor} e2e ({backend}) {e2es[backend]['seconds']:.1f} s", file=sys.stderr)
            send = _with_emulator(vendor, "send", vendor, pickled, work)
            ceiling = _with_emulator(vendor, "ceiling", vendor, pickled, work)
            print(
                f"# {size:,} {vendor} send {send['seconds']:.1f} s, ceiling {ceiling['seconds']:.1f} s", file=sys.stderr
            )
            hand = _with_emulator(vendor, "handwritten", vendor, csv_path) if vendor in HANDWRITTEN else None
            if hand is not None:
                print(f"# {size:,} {vendor} hand-written {hand['seconds']:.1f} s", file=sys.stderr)
            for backend in backends:
                rows.append(
                    {
                        "vendor": vendor,
                        "size": size,
                        "phones": backend,
                        "e2e": e2es[backend],
                        "send": send,
                        "ceiling": ceiling,
                        "prepare": preps[backend],
                        "naive": naive[vendor],
                        "handwritten": hand,
                    }
                )
        os.remove(pickled)
    return rows


def table(rows: list[dict[str, Any]], sample: int, prepare_workers: int = 1) -> str:
    out = [
        f"End to end with `prepare_workers={prepare_workers}`"
        + (
            " (preparation on that many worker processes; 'workers RSS' is their peak sum)."
            if prepare_workers > 1
            else "."
        )
        + " The send stage and the ceiling start from leads already prepared.",
        "",
        "| vendor | leads (CSV rows) | phones | sent | requests | end to end s | leads/s | send stage s | send stage CPU s | transport ceiling s "
        "| send / ceiling | prepare alone s | naive s (extrapolated) | e2e vs naive | e2e / ceiling | e2e / prepare "
        "| peak RSS MB | workers RSS MB | hand-written s (sent) | e2e vs hand-written |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        e2e, send, ceil, prep, naive = r["e2e"], r["send"], r["ceiling"], r["prepare"], r["naive"]
        naive_s = naive["seconds"] / naive["leads"] * e2e["accepted"]
        out.append(
            f"| {r['vendor']} | {r['size']:,} | {r.get('phones', 'phonenumbers')} | {e2e['accepted']:,} | {e2e['requests_logged']:,} | {e2e['seconds']:.1f} "
            f"| {e2e['read'] / e2e['seconds']:,.0f} | {send['seconds']:.2f} | {send.get('cpu_seconds', float('nan')):.2f} "
            f"| {ceil['seconds']:.2f} "
            f"| {ceil['seconds'] / send['seconds']:.0%} | {prep['seconds']:.1f} | ~{naive_s:,.0f} "
            f"| {naive_s / e2e['seconds']:.0f}x faster | {e2e['seconds'] / ceil['seconds']:.1f}x "
            f"| {e2e['seconds'] / prep['seconds']:.2f}x | {e2e['rss_mb']:.0f} | {e2e.get('children_rss_mb', 0):.0f} "
            + (
                f"| {hand['seconds']:.1f} ({hand['sent']:,}) | {hand['seconds'] / e2e['seconds']:.2f}x |"
                if (hand := r.get("handwritten"))
                else "| - | - |"
            )
        )
    out.append(
        "\ne2e vs hand-written: the hand-written script's time over the operator's (above 1x: the operator is "
        "faster). The script sends more leads: it keeps rows the operator rejects (zone, schedule, window) and "
        "checks no external id."
    )
    naive_line = ", ".join(
        f"{v}: {n['per_lead_ms']:.2f} ms/lead" for v, n in {r["vendor"]: r["naive"] for r in rows}.items()
    )
    out.append(
        f"\nNaive way (stock `HttpHook`, one request per lead, sequential; timed on {sample:,} leads and "
        f"extrapolated to the leads sent, with preparation for free): {naive_line}."
    )
    spreads = []
    for vendor, phones in dict.fromkeys((r["vendor"], r.get("phones", "phonenumbers")) for r in rows):
        rss = [r["e2e"]["rss_mb"] for r in rows if (r["vendor"], r.get("phones", "phonenumbers")) == (vendor, phones)]
        if len(rss) > 1:
            spreads.append(f"{vendor} ({phones}) {(max(rss) - min(rss)) / min(rss):.1%}")
    if spreads:
        out.append(f"Peak RSS spread between sizes (target <= 15%): {', '.join(spreads)}.")
    out.append("\n" + targets(rows))
    return "\n".join(out)


def targets(rows: list[dict[str, Any]]) -> str:
    """The issue's end-to-end targets at the largest size per vendor and phone library, each met or missed."""
    from bench_prepare import verdict

    size = max(r["size"] for r in rows)
    lines = [f"Targets at {size:,} leads:"]
    for r in (r for r in rows if r["size"] == size):
        e2e, send, ceil, naive = r["e2e"], r["send"], r["ceiling"], r["naive"]
        name = f"{r['vendor']}, {r.get('phones', 'phonenumbers')}"
        if hand := r.get("handwritten"):
            ratio = hand["seconds"] / e2e["seconds"]
            lines.append(verdict(f"{name}: end to end >= 2x the hand-written script", f"{ratio:.2f}x", ratio >= 2))
        naive_ratio = naive["seconds"] / naive["leads"] * e2e["accepted"] / e2e["seconds"]
        lines.append(verdict(f"{name}: end to end >= 60x the naive loop", f"{naive_ratio:.0f}x", naive_ratio >= 60))
        share = ceil["seconds"] / send["seconds"]
        lines.append(verdict(f"{name}: send stage >= 80% of the transport ceiling", f"{share:.0%}", share >= 0.8))
        lines.append(verdict(f"{name}: peak RSS < 300 MB", f"{e2e['rss_mb']:.0f} MB", e2e["rss_mb"] < 300))
    return "\n".join(lines)


def _default_phones() -> list[str]:
    import importlib.util

    fast = importlib.util.find_spec("rphonenumbers") is not None
    return ["phonenumbers", "rphonenumbers"] if fast else ["phonenumbers"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--vendors", nargs="+", choices=VENDORS, default=list(VENDORS))
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--json", help="also write the raw rows as JSON here")
    parser.add_argument(
        "--prepare-workers",
        type=int,
        default=2,
        help="UploadListOperator(prepare_workers=...) for the end-to-end runs (default 2)",
    )
    parser.add_argument(
        "--phones",
        nargs="+",
        choices=("phonenumbers", "rphonenumbers"),
        help="phone libraries to prepare with, forced (default: both when rphonenumbers is installed)",
    )
    parser.add_argument("--table", metavar="JSON", help="only print the table of rows written earlier with --json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        sys.path.insert(0, str(ROOT))
        print(json.dumps(WORKERS[kind](*rest)))
        return 0
    if args.table:
        print(table(json.loads(pathlib.Path(args.table).read_text()), args.naive_sample, args.prepare_workers))
        return 0
    os.environ["BENCH_PREPARE_WORKERS"] = str(args.prepare_workers)  # read by the e2e workers
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as work:
        rows = measure(args.vendors, args.sizes, args.naive_sample, work, tuple(args.phones or _default_phones()))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))
    print(table(rows, args.naive_sample, args.prepare_workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

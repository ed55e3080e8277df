"""The honest peer: what a competent engineer writes by hand to load a CSV of leads into a dialer.

csv.DictReader, phonenumbers parse + is_valid_number + E.164 per row, a set for de-duplication, and
one bulk request per 1,000 contacts with httpx on 4 threads. No zones, calling window, schedules,
do-not-call, reject report or exactly-once: the benchmark times it beside ``UploadListOperator`` on
the same CSV and the same emulator (``bench_upload.py`` runs it as its ``handwritten`` worker).

    BENCH_BASE_URL=http://127.0.0.1:8000 BENCH_CREDS='{"user": "...", "password": "..."}' \\
        python bench/handwritten_upload.py xcally leads.csv
"""

from __future__ import annotations

import base64
import csv
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import phonenumbers

CHUNK, THREADS = 1000, 4


def main(vendor: str, path: str) -> dict[str, float | int]:
    base, creds = os.environ["BENCH_BASE_URL"], json.loads(os.environ["BENCH_CREDS"])
    secret = creds["token"] if vendor == "ujet" else creds["password"]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{creds['user']}:{secret}".encode()).decode()}
    started = time.perf_counter()
    client = httpx.Client(headers=auth, timeout=600, limits=httpx.Limits(max_connections=THREADS))
    if vendor == "xcally":
        list_id = client.post(f"{base}/api/cm/lists", json={"name": "handwritten"}).json()["id"]

    def post(contacts: list[dict]) -> None:
        if vendor == "xcally":
            client.post(f"{base}/api/cm/lists/{list_id}/contacts", json=contacts).raise_for_status()
        else:
            body = json.dumps(contacts).encode()
            client.post(
                f"{base}/apps/api/v1/outbound_dialer/campaigns/6/contacts/import",
                files={"file": ("contacts.json", body, "application/json")},
            ).raise_for_status()

    seen: set[str] = set()
    batch: list[dict] = []
    sent = rows = 0
    with ThreadPoolExecutor(THREADS) as pool, open(path, newline="", encoding="utf-8") as handle:
        futures = []
        for row in csv.DictReader(handle):
            rows += 1
            try:
                number = phonenumbers.parse(row["tel"], row["pais"] or None)
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(number):
                continue
            phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if phone in seen:
                continue
            seen.add(phone)
            if vendor == "xcally":
                batch.append(
                    {
                        "ListId": list_id,
                        "firstName": row["nome"],
                        "lastName": row["sobrenome"],
                        "phone": phone,
                        "email": row["email"],
                    }
                )
            else:
                batch.append(
                    {
                        "name": f"{row['nome']} {row['sobrenome']}",
                        "phone_number": phone,
                        "email": row["email"],
                        "external_unique_id": row["id"],
                    }
                )
            if len(batch) == CHUNK:
                futures.append(pool.submit(post, batch))
                sent, batch = sent + len(batch), []
        if batch:
            futures.append(pool.submit(post, batch))
            sent += len(batch)
        for future in futures:
            future.result()
    client.close()
    return {"seconds": time.perf_counter() - started, "rows": rows, "sent": sent, "requests": len(futures)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))

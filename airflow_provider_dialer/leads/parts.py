"""Prepared parts: a source prepared once, written as N files of prepared leads plus a manifest.

``write_parts`` streams a ``PreparedLeads`` run (de-duplication, do-not-call, zones, schedules and
rejects were done over the whole source) into part files under a destination directory (a local path,
a ``scheme://`` URL or an ``ObjectStoragePath``); ``read_part`` turns one part back into the
``PreparedLead`` stream a send path takes, without preparing anything again.

A part is JSON Lines. Its first line is a header saying how the leads were prepared (the format,
the preparation instant, the calling window and the outside-window policy), because the send path
checks each lead's window again at the moment it sends and must use the window the lead was prepared
with. Every other line is one ``PreparedLead`` with all its fields: the source ``row`` (so rejects and
outcomes still name source rows), the E.164 phone, ``timezone``, ``window_zones`` and ``call_at``.

The manifest (``manifest.json``, written last: a run that died before it left no manifest) lists the
parts with their lead counts, row ranges and SHA-256 digests, and the counts of the whole preparation
(read, prepared, rejected by reason). A part's digest pins its content: a send that resumes after a
retry finds the same leads in the same order, so its chunks (cut in part order) keep their keys.

Pure: no HTTP, no Airflow (a URL destination opens through ``open_binary``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError, DialerError
from airflow_provider_dialer.leads.model import (
    PREPARED_FIELD_ORDER,
    PREPARED_FIELDS,
    PreparedLead,
    prepared_lead_from_fields,
)

#: the header's ``format`` value; a reader refuses any other
PART_FORMAT = "dialer-prepared-part/1"
MANIFEST_FORMAT = "dialer-prepared-parts/1"
MANIFEST_NAME = "manifest.json"
#: bytes read at a time when hashing a part
_BLOCK = 1 << 20


def _json_default(value: Any) -> Any:
    """Values JSON has no type for (from SQL sources: dates, decimals) travel as text, ISO for times."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def lead_to_json(lead: PreparedLead) -> str:
    """One part line: every field of the lead (``call_at`` in ISO form, UTC)."""
    values = dict(lead.__dict__)
    call_at = values.get("call_at")
    if call_at is not None:
        values["call_at"] = call_at.isoformat()
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _join(directory: Any, name: str) -> Any:
    """``directory / name`` for a local path, a ``scheme://`` URL or an ``ObjectStoragePath``."""
    if isinstance(directory, str):
        if "://" in directory:
            return directory.rstrip("/") + "/" + name
        import os

        return os.path.join(directory, name)
    return directory / name


def _make_dir(directory: Any) -> None:
    if isinstance(directory, str) and "://" not in directory:
        import os

        os.makedirs(directory, exist_ok=True)
        return
    path = directory
    if isinstance(path, str):
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotImplementedError):  # object stores without directories
        pass


def _as_text(path: Any) -> str:
    return str(path)


class _PartWriter:
    """One part file being written: lines out, lead count, row range and the digest of the bytes."""

    def __init__(self, index: int, path: Any, header: dict[str, Any], conn_id: str | None) -> None:
        from airflow_provider_dialer.leads.sources import open_binary

        self.index, self.path = index, path
        self.digest = hashlib.sha256()
        self.leads = 0
        self.first_row: int | None = None
        self.last_row: int | None = None
        self._handle = open_binary(path, conn_id, mode="wb")
        self._buffer: list[str] = []
        self._write(json.dumps({**header, "part": index}, separators=(",", ":")))

    def _write(self, line: str) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            data = ("\n".join(self._buffer) + "\n").encode("utf-8")
            self.digest.update(data)
            self._handle.write(data)
            self._buffer = []

    def add(self, lead: PreparedLead) -> None:
        if self.first_row is None:
            self.first_row = lead.row
        self.last_row = lead.row
        self.leads += 1
        self._write(lead_to_json(lead))

    def close(self) -> dict[str, Any]:
        self.flush()
        self._handle.close()
        return {
            "part": self.index,
            "path": _as_text(self.path),
            "leads": self.leads,
            "first_row": self.first_row,
            "last_row": self.last_row,
            "sha256": self.digest.hexdigest(),
        }


def write_parts(
    prepared: Any,
    destination: Any,
    *,
    parts: int | None = None,
    leads_per_part: int | None = None,
    settings: Mapping[str, Any] | None = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Write the prepared leads of ``prepared`` (a ``PreparedLeads``, iterated here) as parts; return the manifest.

    :param prepared: the result of ``prepare_leads`` over the whole source.
    :param destination: directory for the parts and ``manifest.json``: a local path, a ``scheme://``
        URL or an ``ObjectStoragePath``. It should be one per run (e.g. with the run id in it).
    :param parts: write exactly this many parts (lead ``i`` goes to part ``i % parts``, so their sizes
        differ by one at most and every part keeps source order). A part may be empty when there
        are fewer leads than parts.
    :param leads_per_part: or cut a new part every this many leads (source order, contiguous rows).
    :param settings: what the send path needs to know of the preparation: ``calling_window`` (the
        ``to_spec`` dict), ``outside_window``, ``past_schedule``; copied into every part's header.
    :param conn_id: the object-storage connection for a URL destination.
    """
    if (parts is None) == (leads_per_part is None):
        raise DialerConfigError("give either parts (how many files) or leads_per_part (leads in each file), not both")
    count = parts if parts is not None else leads_per_part
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DialerConfigError(f"parts / leads_per_part must be a whole number, at least 1, got {count!r}")
    _make_dir(destination)
    header = {"format": PART_FORMAT, "prepared_at": prepared.now.isoformat(), **dict(settings or {})}
    writers: list[_PartWriter] = []

    def new_writer() -> _PartWriter:
        index = len(writers)
        writers.append(_PartWriter(index, _join(destination, f"part-{index:05d}.jsonl"), header, conn_id))
        return writers[-1]

    try:
        if parts is not None:
            for _ in range(parts):
                new_writer()
            for position, lead in enumerate(prepared):
                writers[position % parts].add(lead)
        else:
            current: _PartWriter | None = None
            for lead in prepared:
                if current is None or current.leads >= count:
                    if current is not None:
                        current.flush()
                    current = new_writer()
                current.add(lead)
        entries = [writer.close() for writer in writers]
    except BaseException:
        for writer in writers:
            try:
                writer._handle.close()
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                pass
        raise
    report = prepared.report
    manifest_path = _join(destination, MANIFEST_NAME)
    manifest = {
        "format": MANIFEST_FORMAT,
        "prepared_at": prepared.now.isoformat(),
        **dict(settings or {}),
        "read": report.rows,
        "prepared": report.prepared,
        "rejected": report.rejected,
        "rejected_by_reason": dict(sorted(report.counts.items())),
        "warnings": dict(sorted(report.warnings.items())),
        "reject_report": report.report_path,
        "manifest": _as_text(manifest_path),
        "parts": [{**entry, "manifest": _as_text(manifest_path)} for entry in entries],
    }
    if sum(entry["leads"] for entry in entries) != report.prepared:  # a broken invariant must not travel on
        raise DialerError(f"parts hold {sum(e['leads'] for e in entries)} leads, preparation counted {report.prepared}")
    from airflow_provider_dialer.leads.sources import open_binary

    with open_binary(manifest_path, conn_id, mode="wb") as handle:
        handle.write(json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
    return manifest


def read_manifest(destination: Any, conn_id: str | None = None) -> dict[str, Any] | None:
    """The manifest a finished ``write_parts`` left under ``destination``, or ``None`` when there is none
    (or it is incomplete: a run that died while writing it)."""
    from airflow_provider_dialer.leads.sources import open_binary

    try:
        with open_binary(_join(destination, MANIFEST_NAME), conn_id) as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    return manifest


def part_spec(spec: Any) -> dict[str, Any]:
    """A part named by a manifest entry (a dict with ``path``), a path, a URL or an ``ObjectStoragePath``."""
    if isinstance(spec, Mapping):
        if "path" not in spec:
            raise DialerConfigError(
                f"a prepared part entry needs its 'path' (a manifest entry), got keys {sorted(spec)}"
            )
        return dict(spec)
    if isinstance(spec, str) and spec.lstrip().startswith("{"):
        return part_spec(json.loads(spec))
    if spec is None or spec == "":
        raise DialerConfigError("prepared_part is empty: give a part path or a manifest entry")
    return {"path": spec}


def part_digest(spec: Mapping[str, Any], conn_id: str | None = None) -> str:
    """The SHA-256 of a part's bytes; ``DialerConfigError`` when the entry names another digest."""
    from airflow_provider_dialer.leads.sources import open_binary

    digest = hashlib.sha256()
    with open_binary(spec["path"], spec.get("conn_id") or conn_id) as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    found = digest.hexdigest()
    expected = spec.get("sha256")
    if expected and expected != found:
        raise DialerConfigError(
            f"prepared part {spec['path']} changed since its manifest was written (sha256 {found[:12]}..., the "
            f"manifest says {str(expected)[:12]}...): prepare the source again into a new destination"
        )
    return found


def read_part_header(spec: Mapping[str, Any], conn_id: str | None = None) -> dict[str, Any]:
    """The header line of a part (its format checked)."""
    from airflow_provider_dialer.leads.sources import open_binary

    with open_binary(spec["path"], spec.get("conn_id") or conn_id) as handle:
        return _header(handle.readline(), spec["path"])


def _header(line: bytes, where: Any) -> dict[str, Any]:
    try:
        header = json.loads(line.decode("utf-8"))
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != PART_FORMAT:
        raise DialerConfigError(f"{where} is not a prepared part ({PART_FORMAT}): write parts with prepare_parts")
    return header


def _lead_from_part(values: dict[str, Any]) -> PreparedLead:
    """A lead from a part line written by ``write_parts``, without pydantic's per-field validation.

    Every field must be there and nothing else, with the types preparation gave them; the values
    become the lead as ``prepare_leads`` builds it (``prepared_lead_from_fields``). Anything else raises ``ValueError``.
    """
    from datetime import datetime

    if values.keys() != PREPARED_FIELDS:
        raise ValueError("not the fields of a prepared lead")
    ordered = {name: values[name] for name in PREPARED_FIELD_ORDER}
    if type(ordered["row"]) is not int or type(ordered["phone"]) is not str or type(ordered["timezone"]) is not str:
        raise ValueError("row, phone or timezone of the wrong type")
    call_at = ordered["call_at"]
    if call_at is not None:
        at = datetime.fromisoformat(call_at)
        if at.tzinfo is None:
            raise ValueError("call_at without a zone")
        ordered["call_at"] = at
    ordered["alternatives"] = tuple(ordered["alternatives"])
    ordered["window_zones"] = tuple(ordered["window_zones"])
    if type(ordered["data"]) is not dict or type(ordered["custom_fields"]) is not dict:
        raise ValueError("data or custom_fields not an object")
    return prepared_lead_from_fields(ordered)


def read_part(spec: Mapping[str, Any], conn_id: str | None = None) -> Iterator[PreparedLead]:
    """The leads of one part, in the order they were written (the header line skipped).

    A line that is not a prepared lead as ``write_parts`` writes it (every field, the right types)
    fails here, naming its line, not at the vendor. Pydantic validation would cost about as much
    per lead as sending it; the lines are checked for their fields and types instead, and the
    sending task checks the part's SHA-256 first (``part_digest``).
    """
    from airflow_provider_dialer.leads.sources import open_binary

    loads = json.loads
    with open_binary(spec["path"], spec.get("conn_id") or conn_id) as handle:
        _header(handle.readline(), spec["path"])
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                values = loads(line)
                if type(values) is not dict:
                    raise ValueError("not an object")
                lead = _lead_from_part(values)
            except (ValueError, TypeError, KeyError):
                raise DialerConfigError(
                    f"{spec['path']} line {number} is not a prepared lead; the part is damaged: prepare the source "
                    "again"
                ) from None
            yield lead

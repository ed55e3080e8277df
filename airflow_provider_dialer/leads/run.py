"""One preparation run: read the source, get each row's outcome (``row_builder``, here or on worker
processes), then per chunk and in row order apply do-not-call, the length limits, duplicate phone
and duplicate external id (the first row wins), count everything in the report and build the leads.

Nothing here raises on row content; every row read ends as a lead or a reject in the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from airflow_provider_dialer.leads.cells import shorten
from airflow_provider_dialer.leads.collector import fewer_collections
from airflow_provider_dialer.leads.columns import ColumnMapping
from airflow_provider_dialer.leads.model import PreparedLead, prepared_lead_from_fields
from airflow_provider_dialer.leads.phones import mask_phone, phone_text
from airflow_provider_dialer.leads.report import PreparationReport, Reject, RejectReason
from airflow_provider_dialer.leads.row_builder import RowBuilder
from airflow_provider_dialer.leads.sources import BadRow, CsvSource, SqlSource

_R = RejectReason


class PreparationRun:
    """The state of one preparation run: the row builder, the policies, the report."""

    # set from the keyword arguments (prepare_leads names them all)
    dnc_mapping: ColumnMapping
    dedupe_phone: bool
    dedupe_external_id: bool
    external_id_ignore_case: bool
    report: PreparationReport

    #: what a worker process builds from ``config`` (``parallel``)
    worker_class = RowBuilder

    def __init__(self, workers: int = 1, parallel_after_rows: int = 0, **kw: Any) -> None:
        self.__dict__.update(kw)
        #: what a worker process needs to build its own ``RowBuilder`` (everything row-local; no report)
        self.config = {k: v for k, v in kw.items() if k != "report"}
        self.workers = workers
        self.parallel_after_rows = parallel_after_rows
        self.rows = RowBuilder(**self.config)
        self.mapping: ColumnMapping = self.rows.mapping

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]:
        """Each row's outcome, in order (``RowBuilder.outcomes``)."""
        return self.rows.outcomes(task, rows)

    def stream(self, rows_source: Any, dnc_source: Any, chunk_rows: int) -> Iterator[PreparedLead]:
        from airflow_provider_dialer.leads.suppression import RunKeys

        keys = RunKeys()
        report = self.report
        # a quarter of preparation's CPU went to collector passes (see ``collector``)
        with fewer_collections():
            try:
                has_dnc = False
                if dnc_source is not None:
                    self.load_dnc(dnc_source, keys)
                    has_dnc = True
                settle = self.settle
                if type(rows_source) is CsvSource:
                    # CSV fast path: cells by position, the mapping bound to the header once (no dict per row);
                    # with workers, they cut the records from the lines after the first rows (``LineChunk``)
                    records: Iterator[Any] = (
                        rows_source.records(chunk_after=self.parallel_after_rows, chunk_lines=chunk_rows)
                        if self.workers > 1
                        else rows_source.records()
                    )
                    names = next(records, None)
                    if names is None:
                        records, names = iter(()), []
                    else:  # before the first row: a column the file lacks is a configuration error
                        self.mapping.check_columns(names, f"the header of {rows_source.path}")
                    task: tuple[Any, ...] = ("csv", tuple(names))
                else:
                    records, task = rows_source.rows(), ("items",)
                    if isinstance(
                        rows_source, CsvSource
                    ):  # a subclass: its rows() reads the file as the fast path does
                        names = rows_source.header()
                        if names:
                            self.mapping.check_columns(names, f"the header of {rows_source.path}")
                    elif type(rows_source) is SqlSource:
                        records = _checked_first(records, self.mapping, "the query result")
                for outcomes in self.chunks_of_outcomes(records, chunk_rows, task):
                    report.rows += len(outcomes)
                    yield from settle(outcomes, keys, has_dnc)
                report.finish()
            finally:
                keys.close()
                report.close_unfinished()  # a failed or abandoned run still leaves a readable report

    def chunks_of_outcomes(self, records: Iterator[Any], chunk_rows: int, task: tuple[Any, ...]) -> Iterator[list[Any]]:
        """Outcome lists of ``chunk_rows`` rows in source order: here, or on ``workers`` processes.

        Each chunk is read straight into outcomes when working alone (no list of raw rows kept alive).
        """
        outcomes = self.outcomes
        if self.workers > 1:
            from airflow_provider_dialer.leads.parallel import parallel_outcomes

            yield from parallel_outcomes(self, records, chunk_rows, task)
            return
        while chunk := outcomes(task, islice(records, chunk_rows)):
            yield chunk

    def line_outcomes(self, task: tuple[Any, ...], chunk: Any) -> tuple[list[Any], int, int | None]:
        """A ``LineChunk``'s outcomes (``RowBuilder.line_outcomes``)."""
        return self.rows.line_outcomes(task, chunk)

    def renumbered(self, outcomes: list[Any], offset: int) -> list[Any]:
        """``outcomes`` with their row numbers moved by ``offset``, in place (the module function ``renumbered``)."""
        return renumbered(outcomes, offset)

    def load_dnc(self, source: Any, keys: Any) -> None:
        """Read the do-not-call source into ``keys`` (table ``dnc``), counting its entries in the report."""
        report = self.report
        # the DNC rows through their own mapping; the phone cache is shared with the leads' rows
        dnc_rows = RowBuilder(**{**self.config, "mapping": self.dnc_mapping})
        dnc_rows.phones = self.rows.phones
        extract, normalise = dnc_rows.extract, self.rows.phones.normalise
        default_region = self.rows.default_region
        rows = source.rows()
        while batch := list(islice(rows, 5000)):
            found: list[tuple[int, int]] = []
            for n, item in batch:
                report.dnc_entries += 1
                try:
                    raw = extract(item) if not isinstance(item, BadRow) else None
                except Exception:
                    raw = None
                if not raw or not raw["phones"]:
                    report.dnc_invalid += 1
                    continue
                country = raw.get("country")
                region = str(country).upper() if country else default_region
                for p in raw["phones"]:
                    result = normalise(phone_text(p), region)
                    if result.e164 is None:
                        report.dnc_invalid += 1
                    else:
                        found.append((int(result.e164[1:]), n))
            keys.add("dnc", found)

    def settle(self, outcomes: list[Any], keys: Any, has_dnc: bool) -> Iterator[PreparedLead]:
        """De-duplicate and suppress one chunk in row order, then build the survivors.

        An outcome is a ``Reject`` or a tuple ``(fields, phone key, alternative keys, warnings, too
        long)`` whose ``fields`` dict is already in ``PreparedLead`` field order (see ``row_builder``).
        """
        report = self.report
        add = report.add
        candidates = [o for o in outcomes if type(o) is tuple]
        dedupe_phone, dedupe_ext = self.dedupe_phone, self.dedupe_external_id
        fold = self.external_id_ignore_case
        dnc: dict[int, int] = {}
        if has_dnc and candidates:
            dnc = keys.found("dnc", (k for c in candidates for k in (c[1], *c[2])))
        seen_phone = keys.found("phone", [c[1] for c in candidates]) if dedupe_phone and candidates else {}
        seen_ext = (
            keys.found(
                "external_id",
                [e.casefold() if fold else e for c in candidates if (e := c[0]["external_id"]) is not None],
            )
            if dedupe_ext and candidates
            else {}
        )
        new_phone: list[tuple[int, int]] = []
        new_ext: list[tuple[str, int]] = []
        construct = prepared_lead_from_fields
        for o in outcomes:
            if type(o) is not tuple:
                add(o)
                continue
            fields, key, alt_keys, warnings, too_long = o
            row, ext = fields["row"], fields["external_id"]
            if dnc and key in dnc:
                add(
                    Reject(
                        row,
                        _R.DO_NOT_CALL.value,
                        "phones[0]",
                        mask_phone(fields["phone"]),
                        "on the do-not-call list",
                        ext,
                    )
                )
                continue
            if too_long is not None:  # found by the row builder; its place in the order is here
                add(too_long)
                continue
            if dedupe_phone:
                first = seen_phone.get(key)
                if first is not None:
                    add(
                        Reject(
                            row,
                            _R.DUPLICATE_PHONE.value,
                            "phones[0]",
                            mask_phone(fields["phone"]),
                            f"same phone as row {first}",
                            ext,
                        )
                    )
                    continue
            if ext is not None and dedupe_ext:
                ext_key = ext.casefold() if fold else ext
                first = seen_ext.get(ext_key)
                if first is not None:
                    add(
                        Reject(
                            row,
                            _R.DUPLICATE_EXTERNAL_ID.value,
                            "external_id",
                            shorten(ext),
                            f"same external_id as row {first}",
                            ext,
                        )
                    )
                    continue
            for w in warnings:
                add(w)
            if dnc and alt_keys:
                kept = []
                for i, (alt, akey) in enumerate(zip(fields["alternatives"], alt_keys, strict=False), 1):
                    if akey in dnc:
                        add(
                            Reject(
                                row,
                                _R.DO_NOT_CALL_ALTERNATIVE.value,
                                f"phones[{i}]",
                                mask_phone(alt),
                                "alternative on the do-not-call list; dropped",
                                ext,
                                "warning",
                            )
                        )
                    else:
                        kept.append(alt)
                fields["alternatives"] = tuple(kept)
            if dedupe_phone:
                seen_phone[key] = row
                new_phone.append((key, row))
            if ext is not None and dedupe_ext:
                seen_ext[ext_key] = row
                new_ext.append((ext_key, row))
            report.prepared += 1
            yield construct(fields)
        # each key once, and absent when this chunk looked: the tables need not check them again
        keys.add("phone", new_phone, new=True)
        keys.add("external_id", new_ext, new=True)


def _checked_first(records: Iterator[Any], mapping: ColumnMapping, where: str) -> Iterator[Any]:
    """``records`` after checking the mapping against the first row's keys (a result's columns)."""
    first = next(records, None)
    if first is None:
        return
    if isinstance(first[1], Mapping):
        mapping.check_columns(list(first[1]), where)
    yield first
    yield from records


def renumbered(outcomes: list[Any], offset: int) -> list[Any]:
    """``outcomes`` (changed in place) with every row number (the lead's, its rejects' and warnings')
    moved by ``offset``."""
    if not offset:
        return outcomes
    for i, o in enumerate(outcomes):
        if type(o) is tuple:
            o[0]["row"] += offset
            if o[3] or o[4] is not None:
                too_long = o[4]
                outcomes[i] = (
                    o[0],
                    o[1],
                    o[2],
                    [_moved(w, offset) for w in o[3]],
                    None if too_long is None else _moved(too_long, offset),
                )
        else:
            outcomes[i] = _moved(o, offset)
    return outcomes


def _moved(reject: Reject, offset: int) -> Reject:
    r = reject
    return Reject(r.row + offset, r.reason, r.field, r.value, r.detail, r.external_id, r.level)

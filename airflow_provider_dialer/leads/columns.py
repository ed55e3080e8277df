"""Column mapping: which source column feeds which ``Lead`` field, so upstream tables need no renaming."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError

# Lead fields that come from exactly one column each (phones, data and custom fields are special)
SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "external_id",
    "priority",
    "agent",
    "timezone",
    "schedule",
    "country",
    "content",
    "template",
    "subject",
    "outbound_number",
)


_DEFAULT_PHONES = ("phones", "phone")


@dataclass(frozen=True)
class ColumnMapping:
    """Source column names for each ``Lead`` field; every default is the field's own name.

    :param phones: columns holding phones, primary first; each cell may hold one number, a list,
        or several numbers separated by ``phone_separators``. Default ``("phones", "phone")``.
    :param data: a column holding a dict (or JSON object text) merged into ``Lead.data``.
    :param custom_fields: XCALLY custom fields, ``{"cf_12": "column"}``; columns whose name starts
        with ``custom_field_prefix`` (default ``cf_``) are taken as custom fields automatically.
    :param unmapped_to_data: columns no field claims go to ``Lead.data`` (default ``True``).
    :param phone_separators: characters splitting several numbers in one cell (default ``"|;"``).

    Columns are matched exactly first, then case-insensitively (SQL engines upper-case names).
    Example, for a table with columns ``tel``, ``tel2``, ``nome``, ``fuso``::

        ColumnMapping(phones=["tel", "tel2"], first_name="nome", timezone="fuso")
    """

    phones: Sequence[str] | str = ("phones", "phone")
    first_name: str | None = "first_name"
    last_name: str | None = "last_name"
    email: str | None = "email"
    external_id: str | None = "external_id"
    priority: str | None = "priority"
    agent: str | None = "agent"
    timezone: str | None = "timezone"
    schedule: str | None = "schedule"
    country: str | None = "country"
    content: str | None = "content"
    template: str | None = "template"
    subject: str | None = "subject"
    outbound_number: str | None = "outbound_number"
    data: str | None = "data"
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    custom_field_prefix: str | None = "cf_"
    unmapped_to_data: bool = True
    phone_separators: str = "|;"

    def __post_init__(self) -> None:
        phones = (self.phones,) if isinstance(self.phones, str) else tuple(self.phones)
        if not phones or not all(isinstance(p, str) and p for p in phones):
            raise DialerConfigError("ColumnMapping.phones needs at least one column name")
        object.__setattr__(self, "phones", phones)
        object.__setattr__(self, "custom_fields", dict(self.custom_fields or {}))
        for name in SCALAR_FIELDS + ("data",):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise DialerConfigError(f"ColumnMapping.{name} must be a column name, got {value!r}")

    @classmethod
    def from_spec(cls, spec: ColumnMapping | Mapping[str, Any] | None) -> ColumnMapping:
        """A mapping from ``None`` (field names as columns), a mapping, or a plain dict of the same keys."""
        if spec is None:
            return cls()
        if isinstance(spec, ColumnMapping):
            return spec
        if isinstance(spec, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = set(spec) - known
            if unknown:
                raise DialerConfigError(f"unknown ColumnMapping keys {sorted(unknown)}; known: {sorted(known)}")
            return cls(**dict(spec))
        raise DialerConfigError(f"a column mapping is a ColumnMapping or a dict, not {type(spec).__name__}")

    def missing_columns(self, keys: Sequence[str]) -> list[str]:
        """Columns this mapping names that ``keys`` (a header) lacks, matched as ``bind`` matches.

        A column named explicitly (anything but the field's own name, which is the default) must
        exist, and so must at least one phone column: without it every row would be rejected for a
        missing phone, or a mapped time zone or schedule would be ignored and the lead called at
        another hour than meant. The default names of optional fields may be absent.
        """
        exact = set(keys)
        lower = {k.lower() for k in keys if isinstance(k, str)}

        def present(column: str) -> bool:
            return column in exact or column.lower() in lower

        missing: list[str] = []
        default_phones = _DEFAULT_PHONES
        if self.phones == default_phones:
            if not any(present(c) for c in self.phones):
                missing.append(" or ".join(self.phones))
        else:
            missing += [c for c in self.phones if not present(c)]
        for name in SCALAR_FIELDS + ("data",):
            column = getattr(self, name)
            if column is not None and column != name and not present(column):
                missing.append(column)
        missing += [c for c in self.custom_fields.values() if not present(c)]
        return list(dict.fromkeys(missing))

    def check_columns(self, keys: Sequence[str], where: str) -> None:
        """Raise ``DialerConfigError`` naming the missing columns and the ones ``where`` has."""
        missing = self.missing_columns(keys)
        if missing:
            from airflow_provider_dialer.leads.sources import masked_names

            raise DialerConfigError(
                f"the column mapping names {', '.join(repr(m) for m in missing)}, which {where} does not have; "
                f"its columns are: {masked_names(keys)}"
                + (
                    " (one column: is the delimiter right?)"
                    if len(keys) == 1 and any(d in keys[0] for d in ",;\t|")
                    else ""
                )
            )

    def bind(self, keys: Sequence[str]) -> BoundColumns:
        """Resolve the mapping against one row shape (a CSV header, a cursor description, a dict's keys)."""
        return BoundColumns(self, tuple(keys))


class BoundColumns:
    """A mapping resolved against one set of keys: turns a row dict into raw ``Lead`` field values."""

    __slots__ = ("keys", "phones", "scalars", "data", "custom", "rest")

    def __init__(self, mapping: ColumnMapping, keys: tuple[str, ...]) -> None:
        by_lower: dict[str, str] = {}
        for k in keys:
            if isinstance(k, str):
                by_lower.setdefault(k.lower(), k)
        exact = set(keys)

        def find(column: str | None) -> str | None:
            if column is None:
                return None
            if column in exact:
                return column
            return by_lower.get(column.lower())

        self.keys = keys
        self.phones = tuple(dict.fromkeys(k for k in (find(c) for c in mapping.phones) if k is not None))
        self.scalars = tuple((name, key) for name in SCALAR_FIELDS if (key := find(getattr(mapping, name))) is not None)
        self.data = find(mapping.data)
        custom = {cf: key for cf, col in mapping.custom_fields.items() if (key := find(col)) is not None}
        used = set(self.phones) | {k for _, k in self.scalars} | set(custom.values())
        if self.data is not None:
            used.add(self.data)
        prefix = mapping.custom_field_prefix
        if prefix:
            for k in keys:
                if isinstance(k, str) and k not in used and k.startswith(prefix) and k not in custom.values():
                    custom[k] = k
                    used.add(k)
        self.custom = tuple(custom.items())
        self.rest = tuple(k for k in keys if k not in used) if mapping.unmapped_to_data else ()

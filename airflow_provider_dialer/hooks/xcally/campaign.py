"""XCALLY queue campaigns as CreateCampaignOperator describes them: ``dialGlobalInterval`` from calling hours
and weekdays, operator settings validated into a ``QueueCampaign`` body, and what differs from an existing campaign.

Pure functions (no HTTP): :class:`~airflow_provider_dialer.hooks.xcally.XCallyHook` calls them from its
``CampaignCreator`` methods, and unit tests call them directly.

``dialGlobalInterval`` is Asterisk's time-condition spelling, as in the vendor document's example
``"07:00-22:00,*,*,*"``: ``<times>,<weekdays>,<days of month>,<months>``. The rule used here:

- times: ``calling_hours`` (``"HH:MM-HH:MM"``, hours may be written ``9:00``), else ``07:00-22:00`` (the
  document's value);
- weekdays (ISO 1 = Monday .. 7 = Sunday): ``*`` for none or all seven; otherwise each run of consecutive
  days as ``mon`` or ``mon-fri``, runs joined with ``&`` (``[1, 3, 5]`` -> ``mon&wed&fri``,
  ``[1, 2, 3, 6]`` -> ``mon-wed&sat``). Runs do not wrap past Sunday (``[6, 7, 1]`` -> ``mon&sat-sun``);
- days of month and months: ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.hooks.xcally.wire import QueueCampaign

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the document's example hours, used when only weekdays are given
DEFAULT_HOURS = "07:00-22:00"
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

#: private keys of the ``wanted`` dict (never sent): what create/update attach, and which fields the DAG owns
LISTS_KEY = "_lists"
AGENTS_KEY = "_agents"
OWNED_KEY = "_owned"
PRIVATE_KEYS = (LISTS_KEY, AGENTS_KEY, OWNED_KEY)

#: settings that come from the operator's own arguments, not from ``settings``
_FROM_ARGUMENTS = {"name": "name", "lists": "lists", "agents": "agents"}

#: python field name or wire alias -> wire alias
WIRE_NAMES: dict[str, str] = {}
for _name, _info in QueueCampaign.model_fields.items():
    WIRE_NAMES[_name] = _info.alias or _name
    WIRE_NAMES[_info.alias or _name] = _info.alias or _name


def calling_hours_text(calling_hours: str) -> str:
    """``"9:00-17:30"`` -> ``"09:00-17:30"``; raise DialerConfigError for anything else."""
    match = _HOURS.match(str(calling_hours))
    if not match:
        raise DialerConfigError(f"calling_hours must look like '09:00-20:00', got {calling_hours!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise DialerConfigError(f"calling_hours {calling_hours!r}: hours are 00-23 and minutes 00-59")
    if (h1, m1) == (h2, m2):
        raise DialerConfigError(f"calling_hours {calling_hours!r} is an empty interval")
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def asterisk_weekdays(weekdays: Iterable[int] | None) -> str:
    """ISO weekdays as Asterisk day names: ``[1, 2, 3, 4, 5]`` -> ``mon-fri``, ``[1, 3]`` -> ``mon&wed``."""
    if not weekdays:
        return "*"
    days: set[int] = set()
    for day in weekdays:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            raise DialerConfigError(f"weekdays are ISO numbers 1 (Monday) .. 7 (Sunday), got {day!r}")
        days.add(day)
    if len(days) == 7:
        return "*"
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    names = WEEKDAY_NAMES
    return "&".join(names[a - 1] if a == b else f"{names[a - 1]}-{names[b - 1]}" for a, b in runs)


def dial_global_interval(calling_hours: str | None, weekdays: Iterable[int] | None) -> str:
    """``dialGlobalInterval`` for the operator's ``calling_hours`` and ``weekdays`` (see the module docstring)."""
    hours = calling_hours_text(calling_hours) if calling_hours else DEFAULT_HOURS
    return f"{hours},{asterisk_weekdays(weekdays)},*,*"


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        field = WIRE_NAMES.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "?"
        if err["type"] == "missing":
            hint = " (the trunk the campaign dials through)" if field == "TrunkId" else ""
            problems.append(f"{field!r} is required{hint}")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{field!r} is not a queue campaign field")
        else:
            problems.append(f"{field!r}: {err['msg']} (got {err.get('input')!r})")
    return "XCALLY campaign settings: " + "; ".join(problems)


def int_ids(value: Any, what: str) -> list[int]:
    """Ids as the operator (or a rendered template) gives them: an int, a list, ``"[24, 26]"`` or ``"24,26"``."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        text = value.strip().strip("[]()")
        value = [part for part in re.split(r"[\s,]+", text) if part]
    if not isinstance(value, (list, tuple, set)):
        value = [value]
    ids = []
    for item in value:
        try:
            if isinstance(item, bool):
                raise ValueError
            ids.append(int(item))
        except (TypeError, ValueError):
            raise DialerConfigError(f"XCALLY {what} must be numeric ids, got {item!r}") from None
    return list(dict.fromkeys(ids))


def build_campaign_wanted(common: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The wanted campaign: the full ``POST /api/voice/queues`` body plus private keys.

    ``settings`` holds documented queue-campaign fields (wire names such as ``dialMethod``, ``TrunkId``,
    or their python names); unset fields take the document's values. ``OWNED_KEY`` lists the wire
    fields the DAG chose (its settings, and ``dialGlobalInterval`` when calling hours or weekdays
    are given): only those are compared with an existing campaign, so a re-run does not reset
    what was changed in Motion's UI (``dialActive`` included, unless it is in ``settings``).
    """
    settings = dict(settings or {})
    for key, argument in _FROM_ARGUMENTS.items():
        if key in settings:
            raise DialerConfigError(f"XCALLY campaign setting {key!r} comes from the operator's {argument!r} argument")
    interval_key = next((k for k in ("dialGlobalInterval", "dial_global_interval") if k in settings), None)
    calling_hours, weekdays = common.get("calling_hours"), common.get("weekdays")
    body: dict[str, Any] = dict(settings)
    if calling_hours or weekdays:
        if interval_key:
            raise DialerConfigError("give calling_hours/weekdays or settings['dialGlobalInterval'], not both")
        body["dialGlobalInterval"] = dial_global_interval(calling_hours, weekdays)
    body["name"] = common.get("name")
    try:
        model = QueueCampaign.model_validate(body)
    except ValidationError as exc:
        raise DialerConfigError(_describe(exc)) from None
    owned = {WIRE_NAMES.get(k, k) for k in settings}
    if calling_hours or weekdays:
        owned.add("dialGlobalInterval")
    return {
        **model.wire(),
        LISTS_KEY: int_ids(common.get("lists"), "lists"),
        AGENTS_KEY: int_ids(common.get("agents"), "agents"),
        OWNED_KEY: sorted(owned),
    }


def campaign_body(wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The wire body of a wanted campaign (private keys removed)."""
    return {k: v for k, v in wanted.items() if k not in PRIVATE_KEYS}


def _same(have: Any, want: Any) -> bool:
    # Motion (Sequelize over MySQL) may answer 12 as "12": compare the text too, never bools with text
    return have == want or (not isinstance(want, bool) and have is not None and str(have) == str(want))


def campaign_differences(
    existing: Mapping[str, Any],
    wanted: Mapping[str, Any],
    attached_lists: Iterable[int] | None = (),
    attached_agents: Iterable[int] | None = (),
) -> dict[str, tuple[Any, Any]]:
    """Field -> (existing, wanted) for the owned fields that differ; ``lists`` / ``agents`` when some are missing.

    ``attached_lists`` or ``attached_agents`` None: the server would not say which are attached; the wanted ones
    then differ as ``(None, wanted)``, and :func:`missing_ids` counts them all as missing.
    """
    differences: dict[str, tuple[Any, Any]] = {}
    for field in wanted.get(OWNED_KEY, ()):
        have, want = existing.get(field), wanted.get(field)
        if not _same(have, want):
            differences[field] = (have, want)
    for key, label, attached in ((LISTS_KEY, "lists", attached_lists), (AGENTS_KEY, "agents", attached_agents)):
        if attached is None:
            if wanted.get(key):
                differences[label] = (None, sorted(wanted[key]))
            continue
        have_ids = sorted(int(i) for i in attached)
        if any(i not in have_ids for i in wanted.get(key, ())):
            differences[label] = (have_ids, sorted(wanted[key]))
    return differences


def missing_ids(differences: Mapping[str, tuple[Any, Any]], label: str) -> list[int]:
    """The wanted ``lists`` / ``agents`` ids a campaign lacks, from :func:`campaign_differences`."""
    if label not in differences:
        return []
    have, want = differences[label]
    return [i for i in want if have is None or i not in have]

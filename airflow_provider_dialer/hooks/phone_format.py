"""How a lead's number is spelt on a vendor's wire, under one name for every vendor: ``phone_format``.

A prepared lead's phone is E.164 (``+59899123456``). ``digits`` sends it without the ``+``, ``e164``
as it is. Each vendor's default is the spelling of its document's examples: XCALLY and Voipex
``digits``, uContact Automation ``e164``. A list or fresh-leads target records the choice under
``phone_format``; a target a progress file kept from an earlier version may hold it under the
vendor's older name, which :func:`target_phone_format` still reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from airflow_provider_dialer.exceptions import DialerConfigError, DialerValueError

PhoneFormat = Literal["digits", "e164"]
PHONE_FORMATS: tuple[PhoneFormat, ...] = ("digits", "e164")


def wire_phone(phone: str, phone_format: PhoneFormat = "digits") -> str:
    """``+59899123456`` as ``digits`` (``59899123456``) or ``e164`` (unchanged)."""
    if phone_format == "e164":
        return phone
    if phone_format == "digits":
        return phone.lstrip("+")
    raise DialerValueError(f"phone_format must be 'digits' or 'e164', got {phone_format!r}")


def checked_phone_format(vendor: str, value: Any) -> PhoneFormat:
    """``value`` as a :data:`PhoneFormat` (any case), or a :class:`DialerConfigError` naming the vendor."""
    spelt = str(value).lower()
    if spelt not in PHONE_FORMATS:
        raise DialerConfigError(f"{vendor} phone_format must be 'digits' or 'e164', got {value!r}")
    return spelt


def phone_format_setting(
    vendor: str,
    settings: Mapping[str, Any],
    default: Any,
    *,
    older: str | None = None,
    older_means: Callable[[Any], PhoneFormat] | None = None,
) -> PhoneFormat:
    """The spelling a verb's ``settings`` ask for under ``phone_format``, else ``default``.

    ``older`` names the setting the vendor read before (Voipex ``number_format``, uContact's boolean
    ``number_plus``), still read; ``older_means`` turns its value into a format (default: the value
    itself). Given both, they must agree: a disagreement is refused rather than one silently winning.
    An empty value counts as not given.
    """
    given: dict[str, PhoneFormat] = {}
    if settings.get("phone_format") not in (None, ""):
        given["phone_format"] = checked_phone_format(vendor, settings["phone_format"])
    if older and settings.get(older) not in (None, ""):
        value = settings[older]
        given[older] = older_means(value) if older_means else checked_phone_format(vendor, value)
    if older and len(set(given.values())) > 1:
        raise DialerConfigError(
            f"{vendor} settings give phone_format and {older} (its older name) different values: "
            f"{settings['phone_format']!r} and {settings[older]!r}; give phone_format only"
        )
    if given:
        return next(iter(given.values()))
    return checked_phone_format(vendor, default)


def target_phone_format(
    target: Mapping[str, Any],
    *,
    older: str | None = None,
    older_means: Callable[[Any], PhoneFormat] | None = None,
) -> PhoneFormat | None:
    """The spelling a list or fresh-leads target recorded; under ``older`` for a target opened by an
    earlier version and kept in a task's progress; None when it recorded none (the vendor's default
    applies)."""
    if target.get("phone_format"):
        return cast(PhoneFormat, target["phone_format"])
    if older and target.get(older) is not None:
        value = target[older]
        return older_means(value) if older_means else cast(PhoneFormat, value)
    return None

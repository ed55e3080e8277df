"""Which library parses phone numbers: phonenumbers (the reference) or rphonenumbers (the ``fast`` extra).

phonenumbers is always installed and is the reference: every reject and every reject reason comes
from it. rphonenumbers (``pip install "airflow-provider-dialer[fast]"``) runs the same API on a Rust
port of libphonenumber, several times faster; when it is selected, ``PhoneNormaliser`` lets it
accept valid numbers and hands everything it does not accept back to phonenumbers.

Selection, read from ``DIALER_PHONE_BACKEND`` each time a normaliser is built:

- ``auto`` (or unset): rphonenumbers when it is installed *and* built from the same libphonenumber
  metadata release as the installed phonenumbers (``MAX_METADATA_LAG`` releases behind at most),
  else phonenumbers;
- ``phonenumbers``: always the reference;
- ``rphonenumbers``: the fast library whatever its metadata release (for benchmarks and the
  equivalence test); an error when it is not installed.

Why the metadata must match: each phonenumbers release ships the numbering plans countries changed
since the last one. rphonenumbers 0.1.0 is built on the 9.0.41 metadata; phonenumbers 9.0.43
changed the plans of 30 regions since, and over the equivalence corpus the lagging library then
accepted numbers the current plan no longer has (Benin's retired 8-digit numbers, for one).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import NamedTuple

from airflow_provider_dialer.exceptions import DialerConfigError

BACKEND_ENV = "DIALER_PHONE_BACKEND"
REFERENCE = "phonenumbers"
FAST = "rphonenumbers"

MAX_METADATA_LAG = 0
"""Patch releases the fast library's metadata may trail the installed phonenumbers' and still be
chosen by ``auto``. Zero: a single release can move a country's ranges, and a lead list must not
be judged by a plan phonenumbers has already replaced."""


class PhoneBackend(NamedTuple):
    """The selected library and why: ``module`` parses, ``reason`` says how it was chosen."""

    name: str
    module: ModuleType
    reason: str


def _release(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None


def metadata_lag(fast_version: str, reference_version: str) -> int | None:
    """Patch releases ``fast_version`` trails ``reference_version``; ``None`` when not comparable.

    Comparable means the same major.minor series: across series the metadata format and the
    library's own rules may have changed, so no count of releases says how far apart they are.
    A fast library *ahead* of the reference counts as lagging by the distance too: the reference
    decides, and it would be the one missing the newer plans.
    """
    fast, ref = _release(fast_version), _release(reference_version)
    if fast is None or ref is None or len(fast) != 3 or len(ref) != 3 or fast[:2] != ref[:2]:
        return None
    return abs(ref[2] - fast[2])


def _import_fast() -> ModuleType | None:
    try:
        import rphonenumbers
    except ImportError:
        return None
    module: ModuleType = rphonenumbers  # the package ships no type information
    return module


def select_backend(choice: str | None = None) -> PhoneBackend:
    """The backend for ``choice`` (default: ``$DIALER_PHONE_BACKEND``, else ``auto``)."""
    import phonenumbers

    if choice is None:
        choice = os.environ.get(BACKEND_ENV, "") or "auto"
    choice = choice.strip().lower()
    if choice == REFERENCE:
        return PhoneBackend(REFERENCE, phonenumbers, f"forced: {REFERENCE}")
    if choice not in ("auto", FAST):
        raise DialerConfigError(f"{BACKEND_ENV} must be 'auto', '{REFERENCE}' or '{FAST}', got {choice!r}")
    fast = _import_fast()
    if fast is None:
        if choice == FAST:
            raise DialerConfigError(
                f"{BACKEND_ENV}={FAST} but rphonenumbers is not installed: pip install 'airflow-provider-dialer[fast]'"
            )
        return PhoneBackend(REFERENCE, phonenumbers, "rphonenumbers is not installed")
    fast_meta = str(getattr(fast, "__phonenumbers_version__", ""))
    if choice == FAST:
        return PhoneBackend(
            FAST, fast, f"forced: {FAST} (metadata {fast_meta}, phonenumbers {phonenumbers.__version__})"
        )
    lag = metadata_lag(fast_meta, phonenumbers.__version__)
    if lag is None or lag > MAX_METADATA_LAG:
        return PhoneBackend(
            REFERENCE,
            phonenumbers,
            f"rphonenumbers metadata {fast_meta or '?'} differs from phonenumbers {phonenumbers.__version__}",
        )
    how = "matches" if lag == 0 else f"trails by {lag} release(s)"
    return PhoneBackend(FAST, fast, f"rphonenumbers metadata {fast_meta} {how} phonenumbers {phonenumbers.__version__}")

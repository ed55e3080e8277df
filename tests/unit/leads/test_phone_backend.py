"""The phone backend: selection rules, and rphonenumbers (the ``fast`` extra) against phonenumbers.

The equivalence tests run whenever rphonenumbers is installed (``make test`` installs the extra).
They compare, over a generated corpus (every region, every number type, national / international /
E.164 / RFC 3966 / punctuated / truncated / extended / altered / foreign-digit forms, random digit
strings, garbage) and a hypothesis search, the normaliser on the fast backend with phonenumbers'
own API called directly: validity, E.164, reject reason and candidate zones
(``phonenumbers.timezone``). Prepared leads and every reject must come out identical.

When rphonenumbers' metadata release trails the installed phonenumbers (``auto`` then keeps the
reference), the one difference allowed is the one a lagging numbering plan explains: the fast
library accepting a number the current plan rejects as not valid for its country.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as pn_timezone

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import phone_backend
from airflow_provider_dialer.leads.phone_backend import BACKEND_ENV, metadata_lag, select_backend
from airflow_provider_dialer.leads.phones import MAX_PHONE_TEXT, PhoneNormaliser, packed
from airflow_provider_dialer.leads.zones import inferred_zone

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
INVALID_FOR_COUNTRY = "not a valid number for its country"

try:
    import rphonenumbers
except ImportError:  # the fast extra is optional: only its comparisons are skipped
    rphonenumbers = None

needs_fast = pytest.mark.skipif(rphonenumbers is None, reason="rphonenumbers (the fast extra) is not installed")


def _metadata_lags() -> bool:
    lag = metadata_lag(str(getattr(rphonenumbers, "__phonenumbers_version__", "")), phonenumbers.__version__)
    return lag is None or lag > 0


# -- selection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fast", "ref", "lag"),
    [
        ("9.0.41", "9.0.41", 0),
        ("9.0.41", "9.0.43", 2),
        ("9.0.45", "9.0.43", 2),
        ("9.0.41", "9.1.0", None),
        ("8.13.55", "9.0.1", None),
        ("", "9.0.43", None),
        ("9.0", "9.0.43", None),
        ("9.0.x", "9.0.43", None),
    ],
)
def test_metadata_lag(fast: str, ref: str, lag: int | None) -> None:
    assert metadata_lag(fast, ref) == lag


def test_forcing_the_reference_and_rejecting_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "phonenumbers")
    assert PhoneNormaliser().backend.name == "phonenumbers"
    monkeypatch.setenv(BACKEND_ENV, "pyphone")
    with pytest.raises(DialerConfigError, match=BACKEND_ENV):
        PhoneNormaliser()


def test_without_the_extra_auto_is_phonenumbers_and_forcing_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rphonenumbers", None)  # makes ``import rphonenumbers`` raise ImportError
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    chosen = select_backend()
    assert (chosen.name, chosen.module) == ("phonenumbers", phonenumbers) and "not installed" in chosen.reason
    with pytest.raises(DialerConfigError, match=r"pip install 'airflow-provider-dialer\[fast\]'"):
        select_backend("rphonenumbers")


@needs_fast
def test_auto_takes_the_fast_library_only_when_its_metadata_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    monkeypatch.setattr(rphonenumbers, "__phonenumbers_version__", phonenumbers.__version__)
    assert PhoneNormaliser().backend.module is rphonenumbers
    major, minor, patch = (int(p) for p in phonenumbers.__version__.split("."))
    monkeypatch.setattr(
        rphonenumbers, "__phonenumbers_version__", f"{major}.{minor}.{patch + 1 + phone_backend.MAX_METADATA_LAG}"
    )
    chosen = select_backend("auto")
    assert chosen.module is phonenumbers and "differs" in chosen.reason
    assert select_backend("rphonenumbers").module is rphonenumbers  # forcing ignores the release


@needs_fast
def test_auto_on_the_installed_pair() -> None:
    chosen = select_backend("auto")
    assert chosen.name == ("phonenumbers" if _metadata_lags() else "rphonenumbers"), chosen.reason


# -- the corpus ------------------------------------------------------------------------------

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    """(region, example number) for every region and every number type it has, and every non-geographic code."""
    types = [t for t in phonenumbers.PhoneNumberType.values() if t != phonenumbers.PhoneNumberType.UNKNOWN]
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for ntype in types:
            example = phonenumbers.example_number_for_type(region, ntype)
            if example is not None:
                found.append((region, example))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.append(("001", example))
    return found


def _forms(example: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    fmt = phonenumbers.PhoneNumberFormat
    e164 = phonenumbers.format_number(example, fmt.E164)
    national = phonenumbers.format_number(example, fmt.NATIONAL)
    international = phonenumbers.format_number(example, fmt.INTERNATIONAL)
    nsn = phonenumbers.national_significant_number(example)
    other_last = str((int(e164[-1]) + rng.randrange(1, 10)) % 10)
    return [
        e164,
        national,
        international,
        phonenumbers.format_number(example, fmt.RFC3966),
        nsn,
        e164[1:],
        "00" + e164[1:],
        "011" + e164[1:],  # IDD prefixes: valid or not depending on the default region
        e164[:-1],
        e164 + str(rng.randrange(10)),
        e164[:-1] + other_last,
        nsn[:-1],
        nsn + "0",  # off by a digit
        national.replace(" ", "-"),
        national.replace(" ", "."),
        f"({national})",
        f"{international} ext. 12",
        f"{national} x7",
        " ".join(e164),
        f"{e164[:4]}-{e164[4:]}",
        national + "a",
        "tel:" + e164,
        e164.translate(_ARABIC_INDIC),
        nsn.translate(_FULL_WIDTH),
    ]


def corpus(seed: int = 18, random_rows: int = 6000) -> list[tuple[str, str | None]]:
    """(raw text, default region) pairs: derived from every example number, plus digits and garbage."""
    rng = random.Random(seed)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    pairs: list[tuple[str, str | None]] = []
    for region, example in _examples():
        own = None if region == "001" else region
        for text in _forms(example, rng):
            for default in {own, None, rng.choice(regions)}:
                pairs.append((text, default))
    garbage = "0123456789 +-().x#*;,abcABCé٣\t/"
    for _ in range(random_rows):
        default = rng.choice([*regions, None])
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 19)))
        pairs.append((rng.choice(["", "+", "00", "0"]) + digits, default))
        pairs.append(("".join(rng.choice(garbage) for _ in range(rng.randrange(0, 25))), default))
    return pairs


# -- phonenumbers called directly: the reference the fast normaliser is held to --------------

# the normaliser's wording for phonenumbers' five parse error types
_REASONS = {
    0: "no country: not in +<country code> form and no default region or country column",
    1: "not a phone number",
    2: "too short after the international prefix",
    3: "too short",
    4: "too long",
}


def reference(raw: str, region: str | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(E.164, reason prefix, candidate zones) from phonenumbers' public API, without our normaliser."""
    if not raw:
        return None, "empty", ()
    if len(raw) > MAX_PHONE_TEXT:
        return None, f"longer than {MAX_PHONE_TEXT} characters", ()
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        return None, _REASONS[exc.error_type], ()
    if not phonenumbers.is_valid_number(number):
        return None, INVALID_FOR_COUNTRY, ()
    zones = {inferred_zone(name) for name in pn_timezone.time_zones_for_number(number)} - {None}
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None, tuple(sorted(zones))


def _outcome(
    normaliser: PhoneNormaliser, raw: str, region: str | None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    result = normaliser.normalise(raw, region)
    return result.e164, result.error, normaliser.zones(result) if result.e164 else ()


def _agrees(got: tuple, want: tuple) -> bool:
    return got == want


def _lag_explains(got: tuple, want: tuple) -> bool:
    """The difference a lagging numbering plan can make: fast accepts what the current plan says is invalid."""
    return got[0] is not None and want[1] == INVALID_FOR_COUNTRY


@pytest.fixture(scope="module")
def corpus_pairs() -> list[tuple[str, str | None]]:
    return corpus()


@pytest.fixture(scope="module")
def fast_normaliser() -> PhoneNormaliser:
    normaliser = PhoneNormaliser(cache_size=0, backend="rphonenumbers")
    assert normaliser.backend.module is rphonenumbers
    return normaliser


@needs_fast
def test_fast_normaliser_matches_phonenumbers_over_the_corpus(
    fast_normaliser: PhoneNormaliser, corpus_pairs: list[tuple[str, str | None]]
) -> None:
    pairs = corpus_pairs
    assert len(pairs) > 100_000
    differ = [
        (raw, region, got, want)
        for raw, region in pairs
        if not _agrees(got := _outcome(fast_normaliser, raw, region), want := reference(raw, region))
    ]
    # the corpus reaches every kind of outcome, so agreement is not agreement on one kind only
    kinds = Counter((want[1] or "valid").split(":")[0] for want in (reference(r, g) for r, g in pairs[::50]))
    assert {"valid", "no country", "not a phone number", "too short", "too long", INVALID_FOR_COUNTRY} <= set(kinds)
    unexplained = [d for d in differ if not _lag_explains(d[2], d[3])]
    assert unexplained == [], f"{len(unexplained)} of {len(pairs)} differ, e.g. {unexplained[:5]}"
    if not _metadata_lags():
        assert differ == [], f"{len(differ)} of {len(pairs)} differ on the same metadata, e.g. {differ[:5]}"
    print(f"\n{len(pairs)} pairs; {len(differ)} differences, all explained by the metadata lag")


def _raw_outcome(lib, raw: str, region: str | None) -> tuple:
    try:
        number = lib.parse(packed(raw), region)
    except lib.NumberParseException as exc:
        return ("error", exc.error_type)
    valid = lib.is_valid_number(number)
    return (
        "number",
        valid,
        lib.format_number(number, lib.PhoneNumberFormat.E164) if valid else None,
        lib.number_type(number) if valid else None,
    )


def raw_differences(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str | None, tuple, tuple]]:
    """(raw, region, fast outcome, phonenumbers outcome) wherever the two libraries' own APIs differ."""
    found = []
    for raw, region in pairs:
        if raw and len(raw) <= MAX_PHONE_TEXT:
            got, want = _raw_outcome(rphonenumbers, raw, region), _raw_outcome(phonenumbers, raw, region)
            if got != want:
                found.append((raw, region, got, want))
    return found


@pytest.fixture(scope="module")
def corpus_raw_differences(corpus_pairs: list[tuple[str, str | None]]) -> list[tuple[str, str | None, tuple, tuple]]:
    return raw_differences(corpus_pairs)


@needs_fast
def test_raw_fast_library_differs_where_the_normaliser_falls_back(corpus_raw_differences: list) -> None:
    """Why the fast library is never asked for a reject: its own parse takes some garbage as numbers.

    Over the corpus, every raw-API difference must be one the normaliser routes to phonenumbers
    (the fast library does not find a valid number) or the metadata lag; this test fails if the
    fast library ever disagrees on a number it calls valid.
    """
    differ = Counter()
    for raw, region, got, want in corpus_raw_differences:
        fast_valid = got[0] == "number" and got[1]
        if fast_valid:
            # a valid number may differ only where the plans differ: the current one rejects it, or
            # files it under another type (same E.164); never on the same metadata release
            assert _metadata_lags(), (raw, region, got, want)
            assert want[0] == "number" and (not want[1] or want[2] == got[2]), (raw, region, got, want)
            differ["fast accepts (lagging plan)" if not want[1] else "other number type (lagging plan)"] += 1
        else:
            differ["fast does not accept: phonenumbers decides"] += 1
    assert differ["fast does not accept: phonenumbers decides"] > 0  # the corpus does reach the garbage case
    print(f"\nraw API differences: {dict(differ)}")


_digits = st.text(alphabet="0123456789", min_size=1, max_size=17)
_noise = st.text(alphabet="0123456789 +-().#;,xX*/\t٣", max_size=30)


@st.composite
def phone_texts(draw) -> tuple[str, str | None]:
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(phonenumbers.PhoneNumberType.values())))
    kind = draw(st.sampled_from(["example", "digits", "noise"]))
    if kind == "example" and example is not None:
        text = phonenumbers.format_number(example, draw(st.sampled_from([0, 1, 2, 3])))
        cut = draw(st.integers(0, 3))
        text = text[: len(text) - cut] + draw(st.text(alphabet="0123456789 -", max_size=3))
    elif kind == "noise":
        text = draw(_noise)
    else:
        text = draw(st.sampled_from(["", "+", "0", "00"])) + draw(_digits)
    return text, draw(st.sampled_from([region, None, "US", "GB"]))


@needs_fast
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone_texts())
def test_fast_normaliser_matches_phonenumbers_hypothesis(pair: tuple[str, str | None]) -> None:
    normaliser = PhoneNormaliser(cache_size=0, backend="rphonenumbers")
    got, want = _outcome(normaliser, *pair), reference(*pair)
    assert _agrees(got, want) or (_metadata_lags() and _lag_explains(got, want)), (pair, got, want)


# -- prepared leads --------------------------------------------------------------------------


def _lead_file(path: Path, pairs: list[tuple[str, str | None]], seed: int = 4) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "tel", "tel2", "name", "country", "tz"])
        for i, (raw, region) in enumerate(pairs):
            alt = rng.choice(pairs)[0] if rng.random() < 0.3 else ""
            tz = rng.choice(["", "", "", "Europe/Madrid", "Mars/Base"])
            out.writerow([f"L{i}", raw, alt, f"Lead {i}", region or "", tz])


def _prepare(path: Path, backend: str, rejects: Path) -> tuple[list[dict], dict[str, int], str]:
    code = (
        "import json, sys\n"
        "from datetime import datetime\n"
        "from airflow_provider_dialer.leads import ColumnMapping, prepare_leads\n"
        "from airflow_provider_dialer.leads.phones import PhoneNormaliser\n"
        "assert PhoneNormaliser().backend.name == sys.argv[3]\n"
        "result = prepare_leads(sys.argv[1], column_mapping=ColumnMapping(phones=['tel', 'tel2'], external_id='id',\n"
        "    first_name='name', country='country', timezone='tz'), default_timezone='America/Montevideo',\n"
        "    now=datetime.fromisoformat(sys.argv[4]), reject_report=sys.argv[2], dedupe_by=('phone',))\n"
        "leads = [lead.model_dump(mode='json') for lead in result]\n"
        "print(json.dumps({'leads': leads, 'counts': dict(result.report.counts)}))\n"
    )
    # a fresh process per backend: DIALER_PHONE_BACKEND is read where a normaliser is built,
    # prepare_leads' worker processes included
    env = {**os.environ, BACKEND_ENV: backend, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(rejects), backend, NOW.isoformat()],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    import json

    data = json.loads(out.stdout)
    return data["leads"], data["counts"], rejects.read_text(encoding="utf-8")


@needs_fast
def test_prepared_leads_and_rejects_are_identical_with_either_backend(
    tmp_path: Path, corpus_pairs: list[tuple[str, str | None]], corpus_raw_differences: list
) -> None:
    rng = random.Random(11)
    # every pair where the two libraries' own APIs differ, among a sample of the rest; less those
    # a lagging plan explains (the fast library finds a valid number: asserted above), which
    # differ by design
    lagging = {(raw, region) for raw, region, got, _ in corpus_raw_differences if got[0] == "number" and got[1]}
    tricky = [(raw, region) for raw, region, _, _ in corpus_raw_differences if (raw, region) not in lagging]
    assert tricky
    pairs = [p for p in rng.sample(corpus_pairs, 6000) if p not in lagging] + tricky
    rng.shuffle(pairs)
    path = tmp_path / "leads.csv"
    _lead_file(path, pairs)
    ref_leads, ref_counts, ref_rejects = _prepare(path, "phonenumbers", tmp_path / "rejects-ref.csv")
    fast_leads, fast_counts, fast_rejects = _prepare(path, "rphonenumbers", tmp_path / "rejects-fast.csv")
    assert len(ref_leads) > 1000 and ref_counts.get("invalid_phone", 0) > 500  # both outcomes are exercised
    assert ref_counts == fast_counts
    assert fast_rejects == ref_rejects
    assert fast_leads == ref_leads


@needs_fast
def test_existing_phone_tests_pass_on_the_fast_backend() -> None:
    """tests/unit/leads/test_leads_phones.py runs on whatever ``auto`` picks; here, forced onto rphonenumbers."""
    env = {**os.environ, BACKEND_ENV: "rphonenumbers", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/leads/test_leads_phones.py"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and " failed" not in out.stdout

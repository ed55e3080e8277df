"""The repository explains itself: no citation of a document that is not in it, and every cited doc anchor exists.

The provider's reasons live in the docs (each vendor page's "Wire reference", one ``### Decision: ...``
heading per decision). Code cites them as ``docs/<page>.md#<anchor>``; docs link them as
``[text](page.md#anchor)``. These tests fail when a file cites the old shared notes again (their decision
numbers, the notes file, the seed documents' folder), or when a cited anchor is not a heading of its page.

Anchors are computed here the way Python-Markdown's ``toc`` extension (which mkdocs uses) computes them:
the heading's text without its markup, lowercased, punctuation dropped, runs of spaces and hyphens turned
into one hyphen, a repeated anchor on one page numbered ``_1``, ``_2``... A second test checks that
computation against Python-Markdown itself, rendering every page.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("airflow_provider_dialer", "docs", "tests", "example_dags", "bench", "scripts", "README.md", "CHANGELOG.md")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".yml", ".yaml", ".json", ".sh", ".j2", ".html", ".css", ".js"}

# Built from pieces so this file does not match itself.
_DECISION = r"\b" + "D" + r"[1-9]\b"
_NOTES = "vendors" + r"\." + "md"
_SEEDS = "seeds" + "/"
FORBIDDEN = re.compile("|".join((_DECISION, _NOTES, _SEEDS)))

#: a code citation of a doc section: ``docs/vendors/ujet.md#decision-import-job-id-discovery``
CODE_CITATION = re.compile(r"\bdocs/((?:[\w.-]+/)*[\w.-]+\.md)#([\w-]+)")
#: a markdown link with an anchor: ``[text](../connections.md#errors)`` or ``[text](#wire-reference)``
DOC_LINK = re.compile(r"\]\(((?:[\w./-]+\.md)?)#([\w-]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def scanned_files() -> list[Path]:
    out: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
            ]
    return out


def heading_text(raw: str) -> str:
    """The text a reader sees for a heading's markdown: code spans, links, emphasis and escapes unwrapped."""
    text = re.sub(r"`+([^`]*)`+", r"\1", raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_(?!\w))", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


def slug(text: str) -> str:
    """toc's slug: ASCII-folded, punctuation dropped, lowercased, whitespace and hyphens to one hyphen."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> list[str]:
    """Every heading anchor of a markdown page in order, numbered on repeats as toc numbers them."""
    seen: set[str] = set()
    out: list[str] = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if not match:
            continue
        base = slug(heading_text(match.group(2)))
        anchor, n = base, 0
        while anchor in seen:
            n += 1
            anchor = f"{base}_{n}"
        seen.add(anchor)
        out.append(anchor)
    return out


def test_the_detector_catches_each_old_form() -> None:
    for text in ("per " + "D" + "4", "(" + "D" + "9)", "see vendors" + ".md", "the " + "seeds" + "/x.txt"):
        assert FORBIDDEN.search(text), text
    for text in ("D10", "ID4", "docs/vendors/ujet.md#wire-reference", "the seed's example", "2D4"):
        assert not FORBIDDEN.search(text), text


def test_no_file_cites_a_document_outside_the_repository() -> None:
    found = []
    for path in scanned_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:160]}")
    assert not found, (
        "cite the in-repo wire reference (docs/vendors/<vendor>.md#decision-...) instead of the shared notes:\n"
        + "\n".join(found)
    )


def _code_citations() -> list[tuple[str, str, str]]:
    out = []
    for path in scanned_files():
        if path.suffix != ".py" and path.name not in ("README.md",):
            continue
        text = path.read_text(encoding="utf-8")
        for match in CODE_CITATION.finditer(text):
            out.append((str(path.relative_to(ROOT)), match.group(1), match.group(2)))
    return out


def test_the_package_cites_doc_sections() -> None:
    """The rewrite left the package citing sections (if this found none, the next test would check nothing)."""
    cited = {(page, anchor) for where, page, anchor in _code_citations() if where.startswith("airflow_provider_dialer")}
    assert len(cited) >= 10
    assert {page for page, _ in cited} >= {f"vendors/{v}.md" for v in ("ucontact", "ujet", "voipex", "xcally")}


def test_every_doc_section_cited_in_code_exists() -> None:
    missing = []
    for where, page, anchor in _code_citations():
        doc = ROOT / "docs" / page
        if not doc.is_file():
            missing.append(f"{where}: docs/{page} does not exist")
        elif anchor not in anchors(doc):
            missing.append(f"{where}: docs/{page} has no heading with anchor #{anchor}")
    assert not missing, "\n".join(missing)


def test_every_anchor_linked_from_the_docs_exists() -> None:
    missing = []
    docs = ROOT / "docs"
    for page in sorted(docs.rglob("*.md")):
        for match in DOC_LINK.finditer(page.read_text(encoding="utf-8")):
            target = (page.parent / match.group(1)).resolve() if match.group(1) else page
            if not target.is_file():
                missing.append(f"{page.relative_to(ROOT)}: {match.group(1)} does not exist")
            elif match.group(2) not in anchors(target):
                missing.append(f"{page.relative_to(ROOT)}: {target.relative_to(ROOT)} has no anchor #{match.group(2)}")
    assert not missing, "\n".join(missing)


def test_each_vendor_page_has_a_wire_reference_with_decisions() -> None:
    for vendor in ("ucontact", "ujet", "voipex", "xcally"):
        found = anchors(ROOT / "docs" / "vendors" / f"{vendor}.md")
        assert "wire-reference" in found, vendor
        assert sum(a.startswith("decision-") for a in found) >= 5, (vendor, found)


@pytest.mark.parametrize("page", sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")))
def test_anchor_computation_matches_python_markdown(page: str) -> None:
    """The anchors above are the ones mkdocs' markdown renders (checked against Python-Markdown's toc itself)."""
    markdown = pytest.importorskip("markdown")
    source = (ROOT / "docs" / page).read_text(encoding="utf-8")
    source = re.sub(
        r'^--8<-- ".*"$', "", source, flags=re.M
    )  # snippets: the included file is not a heading source here
    md = markdown.Markdown(extensions=["toc", "tables", "admonition", "fenced_code"])
    rendered = md.convert(source)
    ids = re.findall(r'<h[1-6] id="([^"]+)"', rendered)
    assert ids == anchors(ROOT / "docs" / page) or not ids and not anchors(ROOT / "docs" / page)

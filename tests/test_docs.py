"""The documentation stays inside the repository and stays true to it.

- No tracked text file points outside the repository: no design notes or style guides kept beside
  it, no absolute path to a workspace. The design is `docs/ARCHITECTURE.md`.
- Every relative link in the repository's Markdown files reaches a file here (and, for a link to a
  heading of a Markdown file, that heading).
- Every path, module and `Class.member` that `docs/ARCHITECTURE.md` names in backticks exists, so a
  rename or a removal cannot leave the document describing code that is gone.
- Every citation of the document elsewhere (`docs/ARCHITECTURE.md, "Section"`,
  `docs/ARCHITECTURE.md, invariant 5`) names a section and an invariant it has.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

#: What a reference to something outside the repository looks like. Spelled in pieces so this
#: file does not match itself.
OUTSIDE = tuple(
    re.compile(pattern)
    for pattern in (
        r"\.\./" + "shared",
        r"/work/" + "shared",
        r"\b" + "DESIGN" + r"\.md\b",
        r"\b" + "STYLE" + r"\.md\b",
        "seed-acr-" + "firewall",
    )
)

_SKIP_DIRS = {
    ".git",
    ".venv",
    ".venv-infra",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


@cache
def tracked_files() -> tuple[Path, ...]:
    """The files git tracks (every file under the root, minus tool caches, without git)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        names = [n for n in out.decode("utf-8").split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
            names += [str(Path(folder, f).relative_to(ROOT)) for f in files]
    return tuple(ROOT / n for n in sorted(names) if (ROOT / n).is_file())


def text_of(path: Path) -> str | None:
    """A file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def text_files() -> Iterator[tuple[Path, str]]:
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            yield path, text


# --- references outside the repository -----------------------------------------------------------


def outside_references(text: str) -> list[str]:
    """The lines of `text` that point outside the repository."""
    return [
        line.strip()
        for line in text.splitlines()
        if any(pattern.search(line) for pattern in OUTSIDE)
    ]


def test_no_tracked_file_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {line[:120]}"
        for path, text in text_files()
        for line in outside_references(text)
    ]
    assert found == []


# --- links ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def without_code_blocks(markdown: str) -> str:
    return _FENCE.sub("", markdown)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    return [
        m.group(1).strip()
        for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_code_blocks(markdown), re.M)
    ]


def broken_links(path: Path, markdown: str) -> list[str]:
    """The relative links of `markdown` (the file at `path`) that reach no file in the repository,
    or no heading of the Markdown file they name."""
    broken = []
    for match in _LINK.finditer(without_code_blocks(markdown)):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
            continue
        if anchor and resolved.suffix == ".md":
            anchors = {slug(h) for h in headings(resolved.read_text(encoding="utf-8"))}
            if anchor not in anchors:
                broken.append(target)
    return broken


def markdown_files() -> list[Path]:
    return [p for p in tracked_files() if p.suffix == ".md"]


def test_the_documents_the_issue_names_are_there() -> None:
    names = {str(p.relative_to(ROOT)) for p in markdown_files()}
    assert {"README.md", "sandbox/README.md", "docs/ARCHITECTURE.md"} <= names


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_in_the_repository(path: Path) -> None:
    assert broken_links(path, path.read_text(encoding="utf-8")) == []


def test_the_readme_links_the_architecture() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/ARCHITECTURE.md)" in readme


# --- what the architecture names -----------------------------------------------------------------

_CODE_SPAN = re.compile(r"`([^`]+)`")
_EXTENSIONS = (".py", ".md", ".json", ".toml", ".txt", ".bicep", ".sh", ".ps1", ".yaml", ".cfg")
_ROOTS = ("bot", "services", "sandbox", "tests", "bench", "function_app")
_DOTTED = re.compile(rf"^(?:{'|'.join(_ROOTS)})(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?$")
_MEMBER = re.compile(r"^([A-Z][A-Za-z0-9]+)\.([a-z_][a-z0-9_]*)$")
#: A class-like name of several words (`GrantNotice`, `RegistryGateway`).
_CLASS = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")
#: Names the document uses that are Azure's, Slack's or a library's, not the project's.
FOREIGN_NAMES = frozenset(
    {
        "InaccessibleImage",
        "HttpResponse",
        "TextBase64EncodePolicy",
        "QuotaExceeded",
        "NetworkRuleSet",
    }
)


def code_spans(markdown: str) -> list[str]:
    """The text of every inline code span (one may wrap onto the next line)."""
    spans = _CODE_SPAN.findall(without_code_blocks(markdown))
    return [" ".join(span.split()).replace("/ ", "/") for span in spans]


def _defines(source: str, name: str) -> bool:
    return bool(
        re.search(
            rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^\s*{name}\s*(?::[^=\n]*)?=",
            source,
            re.M,
        )
    )


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def missing_module(token: str) -> bool:
    """Whether a dotted name (`bot.handlers.diagnose:handle`) names no module, or a name its
    module does not define."""
    parts = token.replace(":", ".").split(".")
    for cut in range(len(parts), 0, -1):
        found = _module_file(parts[:cut])
        if found is not None:
            source = found.read_text(encoding="utf-8")
            return not all(_defines(source, name) for name in parts[cut:])
    return True


@cache
def _python_sources() -> tuple[str, ...]:
    return tuple(
        p.read_text(encoding="utf-8")
        for p in tracked_files()
        if p.suffix == ".py" and p.parts[len(ROOT.parts)] in ("bot", "services", "sandbox", "tests")
    )


def missing_class(name: str) -> bool:
    """Whether nothing in the deployed code or the stand-ins defines `name`."""
    return not any(_defines(source, name) for source in _python_sources())


def missing_member(cls: str, member: str) -> bool:
    """Whether no class `cls` in the deployed code or the stand-ins defines `member`."""
    return not any(
        re.search(rf"^class\s+{cls}\b", source, re.M) and _defines(source, member)
        for source in _python_sources()
    )


def missing_path(token: str) -> bool:
    if "*" in token:
        return not any(ROOT.glob(token))
    return not (ROOT / token.rstrip("/")).exists()


def looks_like_repo_path(token: str) -> bool:
    if re.search(r"[\s<>{}|$]", token) or token.startswith(("/", ".", "~", "-")) or "://" in token:
        return False
    if "/" in token:
        return (ROOT / token.split("/", maxsplit=1)[0]).exists() or token.endswith(".py")
    return token.endswith(_EXTENSIONS)


def missing(token: str) -> bool:
    """Whether `token` names a path, module, member or class the repository does not have (a
    token that names none of these is not checked)."""
    if looks_like_repo_path(token):
        return missing_path(token)
    if _DOTTED.match(token):
        return missing_module(token)
    if member := _MEMBER.match(token):
        return missing_member(member.group(1), member.group(2))
    if _CLASS.match(token) and token not in FOREIGN_NAMES:
        return missing_class(token)
    return False


def unresolved_names(markdown: str) -> list[str]:
    """What the document names in backticks that the repository does not have."""
    return [token for token in dict.fromkeys(code_spans(markdown)) if missing(token)]


def test_every_path_and_module_the_architecture_names_exists() -> None:
    assert unresolved_names(ARCHITECTURE.read_text(encoding="utf-8")) == []


def test_the_architecture_keeps_a_part_for_the_conversation() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert "The conversation" in headings(text)


# --- citations of the architecture ---------------------------------------------------------------


def invariant_numbers(markdown: str) -> set[int]:
    section = markdown.split("\n## Invariants", 1)[1].split("\n## ", 1)[0]
    return {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.M)}


_CITED = re.compile(r"ARCHITECTURE\.md([^)\n]*(?:\n[^)\n]*)?)")
_HEADING_CITED = re.compile(r'^,?\s*"([^"\n]+)"')
_INVARIANTS_CITED = re.compile(r"invariants?\s+((?:\d+|,|\s|and)+)")
_INVARIANT_BEFORE = re.compile(r"invariants?\s+(\d+)\s+of\s+(?:docs/)?ARCHITECTURE\.md")


def bad_citations(text: str, sections: set[str], invariants: set[int]) -> list[str]:
    """Citations in `text` of a section or an invariant the architecture does not have."""
    bad = []
    for match in _CITED.finditer(text):
        after = match.group(1)
        heading = _HEADING_CITED.match(after)
        if heading and heading.group(1) not in sections:
            bad.append(f'"{heading.group(1)}"')
        for numbers in _INVARIANTS_CITED.findall(after):
            bad += [
                f"invariant {n}" for n in re.findall(r"\d+", numbers) if int(n) not in invariants
            ]
    for number in _INVARIANT_BEFORE.findall(text):
        if int(number) not in invariants:
            bad.append(f"invariant {number}")
    return bad


def test_every_citation_of_the_architecture_names_a_section_and_an_invariant_it_has() -> None:
    architecture = ARCHITECTURE.read_text(encoding="utf-8")
    sections, invariants = set(headings(architecture)), invariant_numbers(architecture)
    found = [
        f"{path.relative_to(ROOT)}: {citation}"
        for path, text in text_files()
        if path != Path(__file__).resolve()
        for citation in bad_citations(text, sections, invariants)
    ]
    assert found == []


# --- the checks catch what they look for ---------------------------------------------------------


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    assert outside_references("see ../" + "sha" + "red/" + "DESIGN" + ".md for more") != []
    assert outside_references("see docs/ARCHITECTURE.md, invariant 3") == []

    page = ROOT / "docs" / "page.md"  # never written: links resolve against the repository
    assert broken_links(page, "[a](ARCHITECTURE.md) [b](../README.md#two-commands)") == []
    assert broken_links(page, "[a](gone.md) [b](../../outside.md) [c](ARCHITECTURE.md#nope)") == [
        "gone.md",
        "../../outside.md",
        "ARCHITECTURE.md#nope",
    ]
    assert broken_links(page, "```\n[a](gone.md)\n```\n[b](https://example.com)") == []

    named = "`bot/bus.py`, `bot.bus:HANDLERS`, `Bus.poisoned`, `GrantNotice`, `ipRules`"
    assert unresolved_names(named + ", `services/flows/\n  reconcile.py`") == []
    gone = "`bot/gone.py`, `services/gone/`, `bot.bus:GONE`, `services.gone`, `Bus.gone`, `GoneJob`"
    assert unresolved_names(gone + ", `services/flows/\n  gone.py`") == [
        "bot/gone.py",
        "services/gone/",
        "bot.bus:GONE",
        "services.gone",
        "Bus.gone",
        "GoneJob",
        "services/flows/gone.py",
    ]

    sections = {"Reconciling a registry"}
    assert bad_citations('(docs/ARCHITECTURE.md, "Reconciling a registry"; invariants 1 and 7)',
                         sections, {1, 7}) == []  # fmt: skip
    assert bad_citations(
        '(docs/ARCHITECTURE.md, "Elsewhere"; invariants 1,\n2)', sections, {1}
    ) == [
        '"Elsewhere"',
        "invariant 2",
    ]
    assert bad_citations("invariant 15 of\ndocs/ARCHITECTURE.md", sections, {1}) == ["invariant 15"]

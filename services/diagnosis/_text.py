"""The paste as text the patterns can read: normalisation and the flat and glued views.

`normalise` undoes what Slack, JSON, terminals and CI runners did to a paste, keeping its line
breaks. Every step is one or a few passes over the text in C (`str.replace`, a substitution with
a literal replacement); the steps that need Python per match (Slack links, rare entities, rare
`\\uXXXX` escapes) stop after `MAX_CALLBACKS` matches, because a paste with more of them than that
is not a log but a flood, and the rest of it reads well enough undecoded.

`Views` offers two single-line views: *flat* (each line break is a space, so positions equal those
in the normalised text) for words wrapped at a space, and *glued* (a break after a terminal-wide
line, between two non-space characters, is removed) for a URL, host or IP hard-wrapped mid-token.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from functools import cached_property
from itertools import islice
from typing import NamedTuple

from services.diagnosis import _patterns as p
from services.domain.failure import ReadPart

#: Pastes longer than this (UTF-8 bytes) are cut to it before parsing, keeping their end.
MAX_PASTE_BYTES = 1_000_000
#: How far into a cut window the partial line at its edge may run and still be dropped.
_PARTIAL_LINE = 4_096
_NEWLINE = ord("\n")
#: Per normalisation step, matches that get Python work (a function call each).
MAX_CALLBACKS = 5_000
#: How much of the start and of the end of a paste shows whether it is a CI log.
CI_WINDOW = 20_000
#: Matches of one pattern in one view beyond which the rest of the paste is not searched: a paste
#: that repeats one thing more often says nothing more, and every match costs Python work.
MAX_HITS = 1_000

_QUOTES = (
    ("‘", "'"), ("’", "'"), ("‚", "'"), ("‛", "'"), ("′", "'"), ("‹", "'"), ("›", "'"),
    ("“", '"'), ("”", '"'), ("„", '"'), ("‟", '"'), ("″", '"'), ("«", '"'), ("»", '"'),
    ("\u00a0", " "), ("\u2002", " "), ("\u2003", " "), ("\u2007", " "), ("\u2009", " "),
    ("\u202f", " "), ("\u200b", ""), ("\u200c", ""), ("\u200d", ""), ("\u2060", ""),
    ("\ufeff", ""), ("\u00ad", ""),
)  # fmt: skip
_INDENT_CHUNKS = ("\n" + " " * 16, "\n    ")


def truncate(
    text: str, *, keep: ReadPart = ReadPart.END, at_a_cut: bool = False
) -> tuple[str, int, int]:
    """`text` cut to `MAX_PASTE_BYTES` of UTF-8, with lone surrogates replaced; and the bytes
    kept and the bytes it had. A longer paste keeps its end, where logs print their errors
    (`keep=START`: its start). A cut drops the partial line at its edge, half a denial sentence
    would read as one cut short on purpose; `at_a_cut`: `text` is already the end (or start) of
    something longer, so its first (last) line is partial too."""
    if text.isascii():
        size = len(text)
        if size <= MAX_PASTE_BYTES and not at_a_cut:
            return text, size, size
        raw = text.encode("ascii")
    else:
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (a paste read with `surrogateescape`) cannot be printed or sent.
            text = text.encode("utf-8", "replace").decode("utf-8")
            raw = text.encode("utf-8")
        size = len(raw)
        if size <= MAX_PASTE_BYTES and not at_a_cut:
            return text, size, size
    over = size > MAX_PASTE_BYTES
    if keep is ReadPart.START:
        cut = raw[:MAX_PASTE_BYTES]
        if not (over and raw[MAX_PASTE_BYTES] == _NEWLINE):
            line = cut.rfind(b"\n", max(len(cut) - _PARTIAL_LINE, 0))
            cut = cut[: line + 1] if line != -1 else cut
    else:
        cut = raw[-MAX_PASTE_BYTES:]
        if not (over and raw[-MAX_PASTE_BYTES - 1] == _NEWLINE):
            line = cut.find(b"\n", 0, _PARTIAL_LINE)
            cut = cut[line + 1 :] if line != -1 else cut
    # 'ignore' drops a character cut in half at the edge.
    return cut.decode("utf-8", "ignore"), len(cut), size


def normalise(text: str) -> tuple[bool, str]:
    """The paste as plain text with its line breaks, and whether it looks like a CI log."""
    # Each step checks first whether the paste needs it: a one-character `in` is a memchr, far
    # cheaper than a pass that finds nothing.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = p.ANSI.sub("", text)
        if "\x1b(" in text or "\x1b)" in text:
            text = p.ANSI_CHARSET.sub("", text)
        text = text.replace("\x1b", "")
    if "<" in text:
        # Before unescaping: Slack writes a `<` typed by a person as `&lt;`, never as a link.
        for link in p.SLACK_LINKS:
            text = link.sub(_slack_link, text, count=MAX_CALLBACKS)
    if "&" in text:
        text = _entities(text)
    if "\\" in text:
        text = _json_escapes(text)
    if not text.isascii():
        for typographic, plain in _QUOTES:
            if typographic in text:
                text = text.replace(typographic, plain)
    if "```" in text:
        text = text.replace("```", "\n")
    return _is_ci(text), _strip_line_prefixes(text)


def _is_ci(text: str) -> bool:
    # A runner marks every line, so its start and end show it as well as the whole would.
    window = CI_WINDOW
    sample = text if len(text) <= 2 * window else text[:window] + "\n" + text[-window:]
    low = lower("\n" + sample)
    return (
        p.CI_TIMESTAMP.search(low) is not None
        or p.CI_MARKER.search(low) is not None
        or any(marker in low for marker in p.CI_LITERALS)
    )


def _slack_link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2)
    # Slack auto-links bare hosts as `<http://host/x|host/x>`: the label is what was pasted.
    if label and url.split("://", 1)[-1] == label.split("://", 1)[-1]:
        return label
    return url


def _entities(text: str) -> str:
    for entity, char in p.COMMON_ENTITIES:
        if entity in text:
            text = text.replace(entity, char)
    # Rare references (`&eacute;`, `&#x1F600;`) go through `html.unescape`, one call each, and
    # only while the paste has few `&` left: each costs a match attempt. `&amp;` is hidden
    # meanwhile, so `&amp;eacute;` stays `&eacute;`.
    if ";" in text and text.count("&") - text.count("&amp;") <= MAX_CALLBACKS:
        hidden = "\ue000" not in text
        if hidden:
            text = text.replace("&amp;", "\ue000")
        text = p.ENTITY.sub(lambda m: html.unescape(m.group()), text, count=MAX_CALLBACKS)
        if hidden:
            return text.replace("\ue000", "&")
    return text.replace("&amp;", "&")


def _json_escapes(text: str) -> str:
    # Runs of backslashes (an escape escaped again) collapse to one, in C: three rounds take a
    # run of eight to one.
    for _ in range(3):
        if "\\\\" not in text:
            break
        text = text.replace("\\\\", "\\")
    if "\\u" in text:
        if "\\u00" in text:  # every common escape is in the first 256 code points
            for escape, char in p.COMMON_UNICODE_ESCAPES:
                if escape in text:
                    text = text.replace(escape, char)
        if "\\u" in text and text.count("\\u") <= MAX_CALLBACKS:
            text = p.JSON_UNICODE.sub(_unicode_escape, text)
    for escape, char in p.JSON_SIMPLE_ESCAPES:
        if escape in text:
            text = text.replace(escape, char)
    return text


def _unicode_escape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    # Half of a surrogate pair on its own is not a character anyone can print.
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def _strip_indent(text: str) -> str:
    # Repeated `str.replace` of a line start plus spaces: linear per round and with no Python
    # work per line, unlike a `^[ \t]+` substitution (which costs ~0.2 µs per matching line).
    for _ in range(4):
        spaces = " " in text and "\n " in text
        tabs = "\t" in text and "\n\t" in text
        if not (spaces or tabs):
            break
        if spaces:
            for chunk in _INDENT_CHUNKS:
                text = text.replace(chunk, "\n")
            text = text.replace("\n ", "\n")
        if tabs:
            text = text.replace("\n\t", "\n")
    return text


def _strip_line_prefixes(text: str) -> str:
    """Drop what precedes each log line: indentation, quote marks, CI timestamps and markers."""
    text = _strip_indent("\n" + text)
    if ">" in text or "#" in text:
        # `> > ` and `#   > `: a quote inside an indented quote takes a second round.
        for _ in range(2):
            size = len(text)
            for mark in p.QUOTE_MARKS:
                text = text.replace(mark, "\n")
            text = _strip_indent(text)
            if len(text) == size:
                break
    # A timestamp needs `-` and `:`; a paste without both skips the per-line pattern.
    if "-" in text and ":" in text and ("\n1" in text or "\n2" in text):
        text = p.CI_LINE_TIMESTAMP.sub("\n", text)
    if "##[" in text:
        text = p.CI_LINE_MARKER.sub("\n", text)
    return text[1:]


def lower(text: str) -> str:
    """Lower case with every character at its original position."""
    # `İ` is the one character that lower-cases to two; ASCII `I` keeps the positions. Replaced
    # first, not after a `lower` that came out too long: lower-casing `İ` takes Unicode's special
    # casing path, some forty times the cost of an ordinary character.
    if "\u0130" in text:
        text = text.replace("\u0130", "I")
    return text.lower()


def _glue_rule(norm: str) -> re.Pattern[str] | None:
    """Which line breaks to glue: after any terminal-wide line in a paste of a few screens; in a
    large paste only after lines of its wrap width, if a sample shows one (most of its distinct
    long lines of one exact length), else none."""
    if "\n" not in norm:
        return None
    if len(norm) <= p.GLUE_ANY_LINE_BELOW:
        return p.GLUE
    # Distinct lines only: a log repeating one long line is not a terminal wrapping a text.
    lines = set(norm[: p.WRAP_SAMPLE].split("\n")[:-1])
    lengths = Counter(len(line) for line in lines if len(line) >= p.WRAP_MIN_COLUMNS)
    if not lengths:
        return None
    width, count = lengths.most_common(1)[0]
    if count >= 3 and 2 * count >= lengths.total():
        return p.glue_at_width(width)
    return None


class Hit(NamedTuple):
    """A match, with its span in the normalised text (whichever view it was found in)."""

    start: int
    end: int
    match: re.Match[str]


class Views:
    """The normalised paste as flat and glued single-line views, each also lower-cased.

    Patterns run on the lower-cased views; values whose case matters (tags) are read back from
    the original-case view at the same positions.
    """

    def __init__(self, norm: str) -> None:
        self.norm = norm
        self.flat = norm.replace("\n", " ")
        glue = _glue_rule(norm)
        if glue is None:
            self._glue: re.Pattern[str] | None = None
            self.glued = self.flat
        else:
            self._glue = glue
            self.glued = glue.sub("", "\n" + norm)[1:].replace("\n", " ")
        self.low_flat = lower(self.flat)
        self.low_glued = lower(self.glued) if len(self.glued) != len(self.flat) else self.low_flat

    @cached_property
    def reversed_flat(self) -> str:
        return self.low_flat[::-1]

    @cached_property
    def reversed_glued(self) -> str:
        return self.low_glued[::-1]

    def original(self, match: re.Match[str], group: str | int) -> str:
        """The original-case text of `group` of a match found in a lower-cased view."""
        source = self.flat if match.string is self.low_flat else self.glued
        return source[match.start(group) : match.end(group)]

    @cached_property
    def _joins(self) -> tuple[list[int], list[int]]:
        """Where in glued text each removed break was, and how much was removed before it."""
        starts, removed_before = [0], [0]
        removed = 0
        if self._glue is not None:
            # The glue ran on the text with a `\n` in front: positions are one further on.
            for m in self._glue.finditer("\n" + self.norm):
                removed += m.end() - m.start()
                starts.append(m.end() - 1 - removed)
                removed_before.append(removed)
        return starts, removed_before

    def _source(self, pos: int) -> int:
        starts, removed_before = self._joins
        return pos + removed_before[bisect_right(starts, pos) - 1]

    def find(
        self, pattern: re.Pattern[str], *, word: bool = False, limit: int = MAX_HITS
    ) -> list[Hit]:
        """Matches in the flat view; a glued-view match across a hard wrap replaces what it covers.

        Glued only ever joins breaks after terminal-wide lines (`GLUE`), so a glued match that
        overlaps flat ones is the same token read whole (`.../ma` + `nifests/2.0`).
        """
        hits = [
            Hit(m.start(), m.end(), m)
            for m in finditer(pattern, self.low_flat, word=word, limit=limit)
        ]
        if self.low_glued is self.low_flat:
            return hits
        glued: list[Hit] = []
        joins = self._joins[0]
        for m in finditer(pattern, self.low_glued, word=word, limit=limit):
            # Only a match with a removed break inside it is new; flat has all the others.
            if bisect_right(joins, m.start()) != bisect_right(joins, m.end() - 1):
                glued.append(Hit(self._source(m.start()), self._source(m.end() - 1) + 1, m))
        if not glued:
            return hits
        # Glued hits are disjoint and in order, so one bisect per flat hit finds its overlap.
        starts = [g.start for g in glued]

        def overlapped(hit: Hit) -> bool:
            i = bisect_left(starts, hit.end)
            return i > 0 and glued[i - 1].end > hit.start

        return sorted([h for h in hits if not overlapped(h)] + glued, key=lambda h: h.start)


def finditer(
    pattern: re.Pattern[str],
    text: str,
    *,
    word: bool = False,
    pos: int = 0,
    endpos: int | None = None,
    limit: int = MAX_HITS,
) -> Iterable[re.Match[str]]:
    """`pattern.finditer`, and with `word` only matches not preceded by a letter or digit.

    At most `limit` matches.
    """
    matches: Iterable[re.Match[str]] = pattern.finditer(
        text, pos, len(text) if endpos is None else endpos
    )
    if word:
        # Bounded before filtering too: a flood of `xstatus` must not cost a Python step each.
        matches = (
            m
            for m in islice(matches, 4 * limit)
            if m.start() == 0 or not text[m.start() - 1].isalnum()
        )
    return islice(matches, limit)

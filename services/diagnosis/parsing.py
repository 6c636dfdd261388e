"""Turn whatever someone pasted into Slack into a `PullFailure`.

The map:
1. `_normalise` undoes what Slack, JSON, terminals and CI runners did to the text, in linear
   passes (ANSI colours, Slack links, HTML entities, JSON escapes, typographic quotes, CRLF, CI
   timestamp prefixes), keeping line breaks.
2. `_Views` offers two single-line views of it: *flat* (each line break is a space, so positions
   equal those in the normalised text) for words wrapped at a space, and *glued* (a break after a
   terminal-wide line, between two non-space characters, is removed) for a URL, host or IP hard
   wrapped mid-token. Every pattern runs on flat; a glued match across a removed break replaces
   the flat matches it overlaps.
3. The kind is the strongest evidence found: the ACR denial sentence, then a firewall-like
   refusal without an IP, then a refusal that is certainly not the firewall.
4. The registry, image, client and correlation id are read near the decisive evidence first
   ("tied to the denial"), then anywhere.

IP addresses come only from the denial sentence, never from elsewhere in the text, so versions,
timestamps and addresses in unrelated log lines are never mistaken for the refused client.
"""

from __future__ import annotations

import html
import ipaddress
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import islice
from typing import NamedTuple
from urllib.parse import unquote

from services.diagnosis import _patterns as p
from services.domain.failure import Client, FailureKind, PullFailure
from services.domain.ips import IPAddress

#: Pastes longer than this (UTF-8 bytes) are cut to it before parsing; Slack caps messages lower.
MAX_PASTE_BYTES = 1_000_000

_EVIDENCE_CHARS = 400
_SHORT_LINE = 60
#: How far before / after the decisive evidence a registry or image still belongs to it.
_TIE_BEFORE = 800
_TIE_AFTER = 400
_CLIENT_NEAR = 600
#: Matches of one pattern in one view beyond which the rest of the paste is not searched.
_MAX_HITS = 10_000
#: How close storage or a permission error must be to a bare 403 to explain it.
_BESIDE = 300
_CLIENT_WINDOW = 1500

_QUOTES = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "‹": "'", "›": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2007": " ", "\u2009": " ",
        "\u202f": " ", "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
        "\ufeff": None, "\u00ad": None,
    }
)  # fmt: skip

_RANK = {
    FailureKind.IP_DENIED: 3,
    FailureKind.FIREWALL_SUSPECTED: 2,
    FailureKind.NOT_FIREWALL: 1,
    FailureKind.UNRECOGNIZED: 0,
}


def parse_pull_failure(
    text: str, *, custom_domains: Mapping[str, str] | None = None
) -> PullFailure:
    """Read a pasted pull error: its kind, denied IPs, registry, image, client and correlation id.

    `custom_domains` maps a custom domain (a gateway in front of a registry, lower case) to the
    login server behind it. Never raises on a str: text it cannot read is `unrecognized`, and a
    paste over `MAX_PASTE_BYTES` is cut to that length first.
    """
    domains = {k.strip().lower(): v.strip().lower() for k, v in (custom_domains or {}).items()}
    domains = {k: v for k, v in domains.items() if k and v}
    text = _truncate(text)
    is_ci, norm = _normalise(text)
    views = _Views(norm)

    denials = _denials(views)
    kind, anchors = _classify(views, denials)
    mentions = _mentions(views, domains)
    tie = _tie_registry(anchors, mentions, len(norm))

    registry = tie.mention.login if tie.mention else None
    custom = _custom_domain(tie, mentions, views, kind, anchors)
    repository, reference = _image(tie, mentions, views, registry, custom)
    # A dict keeps first-appearance order and deduplicates in linear time.
    ips = dict.fromkeys(ip for denial in denials for ip in denial.ips)
    return PullFailure(
        kind=kind,
        ips=tuple(ips),
        ip_redacted=any(d.redacted for d in denials),
        registry=registry,
        registry_redacted=registry is None and any(m.redacted for m in mentions),
        custom_domain=custom,
        repository=repository,
        reference=reference,
        client=_client(views, anchors, is_ci),
        correlation_id=_correlation(views, tie),
        evidence=_evidence(norm, anchors[0]) if anchors else None,
    )


# --- normalisation --------------------------------------------------------------------------------


def _truncate(text: str) -> str:
    # A str of at most a quarter of the limit cannot exceed it in UTF-8; skip the encode then.
    if len(text) * 4 <= MAX_PASTE_BYTES:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_PASTE_BYTES:
        return text
    # 'ignore' drops a character cut in half at the limit (and lone surrogates).
    return raw[:MAX_PASTE_BYTES].decode("utf-8", "ignore")


def _slack_link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2)
    # Slack auto-links bare hosts as `<http://host/x|host/x>`: the label is what was pasted.
    if label and url.split("://", 1)[-1] == label.split("://", 1)[-1]:
        return label
    return url


def _normalise(text: str) -> tuple[bool, str]:
    """The paste as plain text with its line breaks, and whether it looks like a CI log."""
    # Each pass is linear; the `in` checks skip passes a paste does not need (cheap on 1 MB).
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = p.ANSI.sub("", text)
    if "<" in text:
        # Before unescaping: Slack writes a `<` typed by a person as `&lt;`, never as a link.
        text = p.SLACK_LINK.sub(_slack_link, text)
    if "&" in text:
        # Only `&name;` forms: bare legacy names would turn a query's `&region=` into `®ion=`.
        text = p.ENTITY.sub(lambda m: html.unescape(m.group()), text)
    if "\\" in text:
        text = p.JSON_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
        text = p.JSON_QUOTE.sub(r"\1", text)
        text = p.JSON_NEWLINE.sub("\n", text)
        text = p.JSON_TAB.sub(" ", text)
        # A JSON escape may have produced `\r`.
        text = text.replace("\r", "\n")
    text = text.translate(_QUOTES).replace("```", "\n")
    low = _lower("\n" + text)
    is_ci = (
        p.CI_TIMESTAMP.search(low) is not None
        or p.CI_MARKER.search(low) is not None
        or any(marker in low for marker in p.CI_LITERALS)
    )
    return is_ci, p.LINE_PREFIX.sub("", text)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """Lower case with every character at its original position."""
    low = text.lower()
    # Lower-casing never shortens a character, so equal lengths mean equal positions; the rare
    # paste with `İ` (which lower-cases to two characters) gets ASCII-only lower-casing.
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


class _Hit(NamedTuple):
    """A match, with its span in the normalised text (whichever view it was found in)."""

    start: int
    end: int
    match: re.Match[str]


class _Views:
    """The normalised paste as flat and glued single-line views, each also lower-cased.

    Patterns run on the lower-cased views; values whose case matters (tags) are read back from
    the original-case view at the same positions.
    """

    def __init__(self, norm: str) -> None:
        self.norm = norm
        self.flat = norm.replace("\n", " ")
        self.glued = p.GLUE.sub("", norm).replace("\n", " ")
        self.low_flat = _lower(self.flat)
        self.low_glued = _lower(self.glued) if len(self.glued) != len(self.flat) else self.low_flat

    @cached_property
    def reversed_flat(self) -> str:
        return self.low_flat[::-1]

    @cached_property
    def reversed_glued(self) -> str:
        return self.low_glued[::-1]

    def original(self, match: re.Match[str], group: str) -> str:
        """The original-case text of `group` of a match found in a lower-cased view."""
        source = self.flat if match.string is self.low_flat else self.glued
        return source[match.start(group) : match.end(group)]

    @cached_property
    def _joins(self) -> tuple[list[int], list[int]]:
        """Where in glued text each removed break was, and how much was removed before it."""
        starts, removed_before = [0], [0]
        removed = 0
        for m in p.GLUE.finditer(self.norm):
            removed += m.end() - m.start()
            starts.append(m.end() - removed)
            removed_before.append(removed)
        return starts, removed_before

    def _source(self, pos: int) -> int:
        starts, removed_before = self._joins
        return pos + removed_before[bisect_right(starts, pos) - 1]

    def find(self, pattern: re.Pattern[str], *, word: bool = False) -> list[_Hit]:
        """Matches in the flat view; a glued-view match across a hard wrap replaces what it covers.

        Glued only ever joins breaks after terminal-wide lines (`GLUE`), so a glued match that
        overlaps flat ones is the same token read whole (`.../ma` + `nifests/2.0`).
        """
        hits = [_Hit(m.start(), m.end(), m) for m in _finditer(pattern, self.low_flat, word)]
        if self.low_glued is self.low_flat:
            return hits
        glued: list[_Hit] = []
        for m in _finditer(pattern, self.low_glued, word):
            start, end = self._source(m.start()), self._source(m.end() - 1) + 1
            if end - start != m.end() - m.start():  # else it crosses no break: flat has it
                glued.append(_Hit(start, end, m))
        if not glued:
            return hits
        # Glued hits are disjoint and in order, so one bisect per flat hit finds its overlap.
        starts = [g.start for g in glued]

        def overlapped(hit: _Hit) -> bool:
            i = bisect_left(starts, hit.end)
            return i > 0 and glued[i - 1].end > hit.start

        return sorted([h for h in hits if not overlapped(h)] + glued, key=lambda h: h.start)


def _finditer(
    pattern: re.Pattern[str], text: str, word: bool, pos: int = 0, endpos: int | None = None
) -> Iterable[re.Match[str]]:
    """`pattern.finditer`, and with `word` only matches not preceded by a letter or digit.

    At most `_MAX_HITS`: a paste that repeats one thing more often says nothing more, and every
    match costs Python work the regex scan does not.
    """
    matches: Iterable[re.Match[str]] = pattern.finditer(
        text, pos, len(text) if endpos is None else endpos
    )
    if word:
        matches = (m for m in matches if m.start() == 0 or not text[m.start() - 1].isalnum())
    return islice(matches, _MAX_HITS)


# --- the denial sentence and the kind -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Denial:
    start: int
    end: int
    ips: tuple[IPAddress, ...]
    redacted: bool


def _read_ip(token: str) -> IPAddress | None:
    token = token.strip(p.IP_TRIM)
    if token.startswith(":") and not token.startswith("::"):
        token = token[1:]  # `client IP: 1.2.3.4`; a leading `::` belongs to an IPv6 address
    if not token:
        return None
    port = p.IPV4_WITH_PORT.fullmatch(token)
    if port:
        token = port.group(1)
    try:
        ip: IPAddress = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # `0.0.0.0` / `::` is how people blank an address out; no client has it.
    return None if ip.is_unspecified else ip


def _denials(views: _Views) -> list[_Denial]:
    denials = []
    for hit in views.find(p.DENIAL):
        # Whitespace inside the quotes is a line wrap (or a redaction like `52.xxx. xxx`).
        mid = "".join(hit.match.group("mid").split())
        tokens = [t for t in re.split(r"[,;]", mid) if t.strip(p.IP_TRIM)]
        ips = [ip for ip in map(_read_ip, tokens) if ip is not None]
        redacted = not tokens or len(ips) < len(tokens)
        denials.append(_Denial(hit.start, hit.end, tuple(ips), redacted))
    return denials


def _classify(views: _Views, denials: list[_Denial]) -> tuple[FailureKind, list[tuple[int, int]]]:
    """The strongest kind of evidence present, and where each piece of it is."""
    if denials:
        return FailureKind.IP_DENIED, [(d.start, d.end) for d in denials]
    suspected: list[tuple[int, int]] = []
    not_firewall: list[tuple[int, int]] = []
    # Found once and looked up by position: a bare 403 is weighed against what is beside it.
    refusals = sorted(h.start for rule in p.NOT_FIREWALL_RULES for h in views.find(rule, word=True))
    storage = [m.start() for m in p.STORAGE_HOST.finditer(views.low_flat)]
    low = views.low_flat
    for rule, pattern in p.FIREWALL_RULES:
        for hit in views.find(pattern, word=True):
            span = (hit.start, hit.end)
            if rule == "refresh":
                after = low[hit.start : hit.end + 400]
                if p.REFRESH_403.search(after):
                    suspected.append(span)
                elif p.REFRESH_401.search(after):
                    not_firewall.append(span)
            elif rule == "generic":
                # The firewall, unless storage or a permission problem is named beside it.
                lo, hi = hit.start - _BESIDE, hit.end + _BESIDE
                if _any_within(storage, lo, hi):
                    not_firewall.append(span)
                elif not _any_within(refusals, lo, hi):
                    suspected.append(span)
            else:
                suspected.append(span)
    if suspected:
        return FailureKind.FIREWALL_SUSPECTED, sorted(suspected)
    for pattern in p.NOT_FIREWALL_RULES:
        not_firewall += [(h.start, h.end) for h in views.find(pattern, word=True)]
    if not_firewall:
        return FailureKind.NOT_FIREWALL, sorted(not_firewall)
    return FailureKind.UNRECOGNIZED, []


def _any_within(positions: list[int], lo: int, hi: int) -> bool:
    """Whether sorted `positions` has one in [lo, hi)."""
    i = bisect_left(positions, lo)
    return i < len(positions) and positions[i] < hi


# --- registries and images ------------------------------------------------------------------------


class _Mention(NamedTuple):
    """A place the paste names a registry (or an image on one)."""

    start: int
    end: int
    #: Login server, lower case; None for a redacted name or an unconfigured gateway.
    login: str | None
    #: The host as written when it is not an ACR login server (a gateway / custom domain).
    host: str | None = None
    redacted: bool = False
    repository: str | None = None
    reference: str | None = None


def _clean_repo(repo: str | None) -> str | None:
    if not repo:
        return None
    repo = repo.strip("./-_")
    return repo or None


def _image_on(views: _Views, m: re.Match[str], host_start: int) -> tuple[str | None, str | None]:
    """The repository and tag/digest written after a registry host, if any."""
    if m.group("api"):
        repo = _clean_repo(m.group("arepo"))
        manifest = m.group("akind") == "manifests" and m.group("aref")
        return repo, views.original(m, "aref") if repo and manifest else None
    if not m.group("path"):
        return None, None
    repo = _clean_repo(m.group("repo"))
    # A URL path (`https://x.azurecr.io/oauth2/token`) is not an image, and neither is a registry
    # API path whose repository was unreadable (`/v2/<image-name>/…`, `/v2/` then a wrapped line).
    if (
        not repo
        or repo == "v2"
        or repo.startswith(("v2/", "oauth2/"))
        or m.string.endswith(("http://", "https://"), 0, host_start)
    ):
        return None, None
    if m.group("digest"):
        return repo, m.group("digest")
    if m.group("tag"):
        return repo, views.original(m, "tag").rstrip(".-") or None
    return repo, None


@lru_cache(maxsize=32)
def _custom_pattern(domains: tuple[str, ...]) -> re.Pattern[str]:
    return p.custom_domain_pattern(domains)


def _starts_host(text: str, pos: int) -> bool:
    """Whether a host name found at `pos` really starts there (nothing host-like before it)."""
    return pos == 0 or text[pos - 1] not in p.HOST_CHARS


def _acr_mentions(views: _Views) -> list[_Mention]:
    """ACR login servers and data endpoints, found from their `.azurecr.` suffix."""
    found = []
    for hit in views.find(p.ACR_SUFFIX):
        text = hit.match.string
        at = hit.match.start()
        reversed_text = views.reversed_flat if text is views.low_flat else views.reversed_glued
        name = p.ACR_NAME_REVERSED.match(reversed_text, len(text) - at)
        if name:
            login: str | None = name.group("name")[::-1]
            start = hit.start - (name.end() - name.start())
        elif _starts_host(text, at):
            login, start = None, hit.start  # `<acrname>.azurecr.io`, `.azurecr.io`, `*****.…`
        else:
            continue  # `$ACR.azurecr.io`, `a.b.azurecr.io`: not a login server we can name
        if login is not None and set(login) == {"x"}:
            login = None  # `xxxxx.azurecr.io`
        if login is not None:
            login = f"{login}.azurecr.{hit.match.group('tld')}"
        # `start` is in source coordinates; the match's own host start is in its view's.
        repo, ref = _image_on(views, hit.match, at - (hit.start - start))
        found.append(_Mention(start, hit.end, login, None, login is None, repo, ref))
    return found


def _mentions(views: _Views, domains: Mapping[str, str]) -> list[_Mention]:
    found = _acr_mentions(views)
    if domains:
        for hit in views.find(_custom_pattern(tuple(sorted(domains)))):
            if _starts_host(hit.match.string, hit.match.start()):
                domain = hit.match.group("custom")
                repo, ref = _image_on(views, hit.match, hit.match.start())
                found.append(
                    _Mention(hit.start, hit.end, domains[domain], domain, False, repo, ref)
                )
    for hit in views.find(p.ARM_ID):
        name = hit.match.group("name")
        if name[0] in "<{[":
            found.append(_Mention(hit.start, hit.end, None, redacted=True))
        else:
            found.append(_Mention(hit.start, hit.end, f"{name}.azurecr.io"))
    for match in _finditer(p.AZ_ACR_ARG, views.low_flat, True):
        flag, sub = match.group("flag"), match.group("sub")
        if flag in ("-r", "--registry") or sub in p.AZ_NAME_SUBCOMMANDS:
            login = f"{match.group('name')}.azurecr.io"
            found.append(_Mention(match.start("name"), match.end("name"), login))
    return sorted(found, key=lambda m: m.start)


@dataclass(frozen=True, slots=True)
class _Tie:
    """The registry mention tied to the decisive evidence, and the stretch of text around it."""

    mention: _Mention | None
    anchor: tuple[int, int] | None
    window: tuple[int, int]


def _tie_registry(anchors: list[tuple[int, int]], mentions: list[_Mention], size: int) -> _Tie:
    starts = [m.start for m in mentions]
    for i, (start, end) in enumerate(anchors):
        lo = max(start - _TIE_BEFORE, anchors[i - 1][1] if i else 0)
        hi = min(end + _TIE_AFTER, anchors[i + 1][0] if i + 1 < len(anchors) else size)
        low, split, high = (
            bisect_left(starts, lo),
            bisect_left(starts, end),
            bisect_left(starts, hi),
        )
        # Nearest before the evidence (or inside it) first, then nearest after it.
        for j in [*range(split - 1, low - 1, -1), *range(split, high)]:
            if mentions[j].login:
                return _Tie(mentions[j], (start, end), (lo, hi))
    first_seen = next((m for m in mentions if m.login), None)
    return _Tie(first_seen, anchors[0] if anchors else None, (0, size))


def _custom_domain(
    tie: _Tie,
    mentions: list[_Mention],
    views: _Views,
    kind: FailureKind,
    anchors: list[tuple[int, int]],
) -> str | None:
    if tie.mention and tie.mention.host:
        return tie.mention.host
    lo, hi = tie.window
    for m in mentions:
        if m.host and lo <= m.start < hi and (tie.mention is None or m.login == tie.mention.login):
            return m.host
    if kind is not FailureKind.IP_DENIED or not anchors:
        return None
    # An unconfigured gateway: ACR's own denial came back from a registry API URL on another host.
    start = anchors[0][0]
    for hit in views.find(p.API_URL):
        host = hit.match.group("host")
        if start - _TIE_BEFORE <= hit.start < start and not _is_acr_host(host):
            return host
    return None


def _is_acr_host(host: str) -> bool:
    return host.endswith((".azurecr.io", ".azurecr.cn", ".azurecr.us"))


@dataclass(frozen=True, slots=True)
class _ImageRef:
    start: int
    login: str | None
    host: str | None
    repository: str
    reference: str | None


def _image(
    tie: _Tie, mentions: list[_Mention], views: _Views, registry: str | None, custom: str | None
) -> tuple[str | None, str | None]:
    refs = [
        _ImageRef(m.start, m.login, m.host, m.repository, m.reference)
        for m in mentions
        if m.repository
    ]
    for hit in views.find(p.API_URL):
        host = hit.match.group("host")
        repo = _clean_repo(hit.match.group("arepo"))
        if repo and not _is_acr_host(host):
            manifest = hit.match.group("akind") == "manifests" and hit.match.group("aref")
            ref = views.original(hit.match, "aref") if manifest else None
            refs.append(_ImageRef(hit.start, None, host, repo, ref))
    scoped = [
        _ImageRef(h.start, None, None, repo, None)
        for h in views.find(p.SCOPE)
        if (repo := _clean_repo(unquote(h.match.group("repo"))))
    ]

    def ours(ref: _ImageRef) -> bool:
        if registry is None and custom is None:
            return True
        return (registry is not None and ref.login == registry) or (
            custom is not None and ref.host == custom
        )

    anchor = tie.anchor[0] if tie.anchor else 0
    lo, hi = tie.window
    for window in ((lo, hi), (0, len(views.flat))):
        near = [r for r in refs if ours(r) and window[0] <= r.start < window[1]]
        near += [r for r in scoped if window[0] <= r.start < window[1]]
        if near:
            best = min(near, key=lambda r: (r.reference is None, abs(r.start - anchor)))
            reference = best.reference
            if reference is None:
                same = (r.reference for r in near if r.repository == best.repository)
                reference = next((r for r in same if r), None)
            return best.repository, reference
    return None, None


# --- client, correlation id, evidence -------------------------------------------------------------


def _client(views: _Views, anchors: list[tuple[int, int]], is_ci: bool) -> Client:
    windows: list[tuple[int, int]] = []
    if anchors:
        start, end = anchors[0]
        # The message itself first (a multi-tool paste names several), then its surroundings.
        windows += [(start - _CLIENT_NEAR, end + _CLIENT_NEAR // 2)]
        windows += [(start - _CLIENT_WINDOW, end + _CLIENT_WINDOW)]
    windows.append((0, len(views.low_flat)))
    for lo, hi in windows:
        for client, pattern in p.CLIENT_RULES:
            if next(iter(_finditer(pattern, views.low_flat, True, max(0, lo), hi)), None):
                return Client(client)
    return Client.CI if is_ci else Client.UNKNOWN


def _correlation(views: _Views, tie: _Tie) -> str | None:
    hits = views.find(p.CORRELATION)
    lo, hi = tie.window
    for hit in hits:
        if lo <= hit.start < hi:
            return hit.match.group("id")
    return hits[0].match.group("id") if hits else None


def _evidence(norm: str, span: tuple[int, int]) -> str:
    start, end = span
    line_start = norm.rfind("\n", 0, start) + 1
    line_end = norm.find("\n", end)
    line_end = len(norm) if line_end < 0 else line_end
    if line_end - line_start > _EVIDENCE_CHARS:
        # A long line (a JSON body, a joined CI log): keep the match and some context each side.
        line_start = max(line_start, start - _EVIDENCE_CHARS // 2)
        line_end = min(line_end, max(end, start + _EVIDENCE_CHARS // 2) + _EVIDENCE_CHARS // 4)
    elif line_end - line_start < _SHORT_LINE:
        # A bare code (`"code": "InaccessibleImage",`) says little; the next line is its message.
        following = norm.find("\n", line_end + 1)
        line_end = len(norm) if following < 0 else following
        line_end = min(line_end, line_start + _EVIDENCE_CHARS)
    return " ".join(norm[line_start:line_end].split())

"""Turn whatever someone pasted into Slack into a `PullFailure`.

The map:
1. `_text.normalise` undoes what Slack, JSON, terminals and CI runners did to the text, and
   `_text.Views` offers it as a flat and a glued single-line view (see there). Every pattern runs
   on flat; a glued match across a removed break replaces the flat matches it overlaps.
2. The places the paste names a registry are found first (login servers, data endpoints,
   private-link names, custom domains, ARM ids, `az acr … -n`, registry API URLs): evidence next
   to one of them is *tied* to a registry and outweighs evidence that is not.
3. The kind is the strongest evidence found: ACR's denial sentence (whole, or cut after the
   address or before it), then a refusal that is most likely the firewall (a named hint), then a
   bare 403 tied to a registry, then an error with a named cause that is not the firewall, then
   the untied rest. Rules only run when their gate word occurs in the paste.
4. The registry, image, client, failed command and correlation id are read near the decisive
   evidence first ("tied to the denial"), then anywhere.
5. When no refused address was read, the resource the pull ran on is read where the platform
   names it (an ARM id, a Container Apps revision, an App Service site, an AKS node, a container
   group, an `az` command): its egress can be looked up instead.

IP addresses of the refused client come only from the denial sentence, never from elsewhere in
the text, so versions, timestamps, DNS servers and addresses in unrelated lines are never taken
for the client. Every value read from the paste goes through its grammar in
`services.domain.failure` before it leaves this module.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from pydantic import ValidationError

from services.diagnosis import _patterns as p
from services.diagnosis._text import (
    MAX_HITS,
    MAX_PASTE_BYTES,
    Hit,
    Views,
    finditer,
    normalise,
    truncate,
)
from services.diagnosis._text import lower as _lower
from services.domain.egress import KIND_OF_CLIENT
from services.domain.failure import (
    COMMAND,
    Client,
    FailureKind,
    FirewallHint,
    NotFirewallCause,
    PastedResource,
    PullFailure,
    ReadExtent,
    ReadPart,
    safe_host,
    safe_reference,
    safe_repository,
)
from services.domain.ips import IPAddress
from services.domain.resources import ResourceKind

__all__ = ["MAX_PASTE_BYTES", "parse_pull_failure"]

_EVIDENCE_CHARS = 400
_SHORT_LINE = 60
#: How far before / after the decisive evidence a registry or image still belongs to it.
_TIE_BEFORE = 800
_TIE_AFTER = 400
_CLIENT_NEAR = 600
_CLIENT_WINDOW = 1500
#: Beyond its surroundings, a client is looked for this far around the evidence and at the start
#: and end of the paste, not in the whole megabyte: a tool named far away says little.
_CLIENT_FAR = 20_000
#: How close storage or a permission error must be to a bare 403 to explain it.
_BESIDE = 300
#: Matches of one evidence rule that are read; more of the same add nothing.
_RULE_HITS = 100
_COMMAND_HITS = 200
#: Denial sentences read: more are repeats of the same retry loop.
_DENIAL_HITS = 500
#: Above this size, gates look at each distinct line once, when lines average at least
#: `_DEDUPE_MIN_LINE` characters (splitting a flood of short lines would cost more than it saves);
#: and, once `_SEARCHES_BEFORE_WORDS` gates got past their characters, at each distinct word once
#: when a sample of `_WORD_SAMPLE` characters shows each word `_WORD_REPEATS` times on average.
_DEDUPE_ABOVE = 256_000
_DEDUPE_MIN_LINE = 16
_SEARCHES_BEFORE_WORDS = 4
_WORD_SAMPLE = 65_536
_WORD_REPEATS = 2
#: How far before `.azurecr.` a registry name (with region, `data` and `privatelink`) can start.
_NAME_REACH = 130

_H = FirewallHint
_N = NotFirewallCause
#: A piece of an address wrapped onto the next line, and what people put in place of one.
_ADDRESS_PART = re.compile(r"[0-9a-fA-F.:'\"`]{1,45}")
_REDACTION = re.compile(
    r"[xX*#?.\d:_-]{1,45}|<[^<>]{1,40}>|\{[^{}]{1,40}\}|\[[^\[\]]{1,40}\]|(?i:redacted)"
)
#: Causes that explain a bare 403 beside them (the registry answered, and said why).
_EXPLAINS_403 = frozenset({_N.AUTHENTICATION, _N.PERMISSION, _N.NOT_FOUND, _N.NOT_FROM_REGISTRY})


def parse_pull_failure(
    text: str,
    *,
    custom_domains: Mapping[str, str] | None = None,
    source: ReadExtent | None = None,
) -> PullFailure:
    """Read a pasted pull error: its kind, denied IPs, registry, image, client, command, cause.

    `custom_domains` maps a custom domain (a gateway in front of a registry) to the login server
    behind it; entries that are not DNS names are ignored. Never raises on a str: text it cannot
    read is `unrecognized`, and a paste over `MAX_PASTE_BYTES` is cut to its last
    `MAX_PASTE_BYTES` first, where a log prints its errors. `source` says what `text` is a part
    of when it is not the whole paste (the end of a file, say); the result's `read` tells how
    much of the original was read.
    """
    domains: dict[str, str] = {}
    for key, value in (custom_domains or {}).items():
        domain, login = safe_host(key), safe_host(value)
        if domain and login:
            domains[domain] = login
    keep = ReadPart.START if source is not None and source.part is ReadPart.START else ReadPart.END
    kept, read_bytes, size = truncate(
        text, keep=keep, at_a_cut=source is not None and source.partial
    )
    if source is not None and read_bytes == size:
        read = source
    else:
        total = size if source is None else max(source.total_bytes, size)
        read = ReadExtent(
            part=keep if read_bytes < total else ReadPart.WHOLE,
            read_bytes=read_bytes,
            total_bytes=total,
        )
    is_ci, norm = normalise(kept)
    return _Paste(norm, domains, is_ci).read(read)


# --- the denial sentence -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Denial:
    start: int
    end: int
    ips: tuple[IPAddress, ...]
    redacted: bool


@lru_cache(maxsize=1024)
def _read_ip(token: str) -> IPAddress | None:
    token = token.strip(p.IP_TRIM)
    if token.startswith(":") and not token.startswith("::"):
        token = token[1:]  # `client IP: 1.2.3.4`; a leading `::` belongs to an IPv6 address
    # A zone (`fe80::1%eth0`) names an interface of the printing machine, not part of the
    # address; whatever follows `%` in a paste is not ours to keep.
    token = token.partition("%")[0]
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


# --- signals without an IP -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Signal:
    """One piece of evidence: where it is and what it says."""

    start: int
    end: int
    hint: FirewallHint | None = None
    cause: NotFirewallCause | None = None
    remote_ip: IPAddress | None = None


class _Decision(NamedTuple):
    kind: FailureKind
    anchors: list[tuple[int, int]]
    denials: list[_Denial]
    hint: FirewallHint | None = None
    cause: NotFirewallCause | None = None
    remote_ip: IPAddress | None = None


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
    #: A data endpoint or private-link name, as written.
    endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class _Tie:
    """The registry mention tied to the decisive evidence, and the stretch of text around it."""

    mention: _Mention | None
    anchor: tuple[int, int] | None
    window: tuple[int, int]


@dataclass(frozen=True, slots=True)
class _ImageRef:
    start: int
    login: str | None
    host: str | None
    repository: str
    reference: str | None


class _Command(NamedTuple):
    start: int
    text: str
    host: str | None


class _Named(NamedTuple):
    """A place the paste names the resource the pull ran on."""

    start: int
    kind: ResourceKind
    weight: int
    name: str | None = None
    resource_group: str | None = None
    subscription: str | None = None
    revision: str | None = None
    node: str | None = None
    node_resource_group: str | None = None


#: The resource kind an ARM id's provider path names.
_ARM_KINDS = {kind.arm_type: kind for kind in ResourceKind}
#: A mention from an `az` command: the name someone typed, less certain than the platform's own.
_AZ_WEIGHT = 3
_FILLED = ("resource_group", "subscription", "revision", "node", "node_resource_group")


class _Paste:
    """One paste being read; views, mentions and gate words are worked out once and shared."""

    def __init__(self, norm: str, domains: Mapping[str, str], is_ci: bool) -> None:
        self.norm = norm
        self.views = Views(norm)
        self.low = self.views.low_flat
        self.domains = domains
        self.is_ci = is_ci
        self._gates: dict[str, bool] = {}
        self._chars: dict[str, bool] = {}
        self._many_gates = False
        #: Gates looked up in the text (their characters all present).
        self._searches = 0

    def read(self, extent: ReadExtent) -> PullFailure:
        mentions = self.mentions
        decision = self._decide()
        tie = self._tie_registry(decision.anchors, mentions)
        registry = tie.mention.login if tie.mention else None
        custom = self._custom_domain(tie, decision)
        repository, reference = self._image(tie, registry, custom)
        ips = dict.fromkeys(ip for d in decision.denials for ip in d.ips)
        other = None
        if decision.kind is not FailureKind.IP_DENIED and registry is None and custom is None:
            other = self._other_registry(decision.anchors)
        if other is not None and decision.kind is FailureKind.FIREWALL_SUSPECTED:
            # A refusal from a registry that has no ACR firewall: that registry said no.
            decision = decision._replace(
                kind=FailureKind.NOT_FIREWALL, hint=None, cause=_N.PERMISSION
            )
        client = self._client(decision.anchors)
        return PullFailure(
            kind=decision.kind,
            ips=tuple(ips),
            ip_redacted=any(d.redacted for d in decision.denials),
            registry=registry,
            registry_redacted=registry is None and any(m.redacted for m in mentions),
            endpoint=tie.mention.endpoint if tie.mention else None,
            custom_domain=custom,
            repository=repository,
            reference=reference,
            client=client,
            ci_log=self.is_ci,
            command=self._command(decision.anchors, registry, custom),
            cause=decision.cause,
            hint=decision.hint,
            remote_ip=decision.remote_ip,
            other_registry=other,
            correlation_id=self._correlation(tie),
            # A lookup of the resource's egress is what helps when the address is not shown.
            resource=None if ips else self._resource(decision.anchors, client),
            evidence=self._evidence(decision.anchors[0]) if decision.anchors else None,
            read=extent,
        )

    def _other_registry(self, anchors: list[tuple[int, int]]) -> str | None:
        """The other registry (not ACR) the decisive evidence belongs to, if any: its host or
        its own wording within reach of the evidence."""
        if not anchors:
            return None
        start, end = anchors[0]
        lo, hi = max(0, start - _TIE_BEFORE), end + _TIE_AFTER
        for pattern, name in p.OTHER_REGISTRIES:
            if pattern.search(self.low, lo, hi):
                return name
        return None

    # -- helpers ----------------------------------------------------------------------------

    @cached_property
    def _distinct_lines(self) -> str:
        """The glued view, or, for a large paste without hard wraps, each distinct line once: a
        log repeats its lines, so a gate lookup then scans what is different, not the megabyte.
        Used once the evidence rules run, which look up some fifty gate words."""
        views = self.views
        norm = self.norm
        if (
            len(norm) < _DEDUPE_ABOVE
            or views.glued is not views.flat
            or norm.count("\n") * _DEDUPE_MIN_LINE > len(norm)
        ):
            return views.low_glued
        return _lower("\n".join(dict.fromkeys(norm.split("\n"))))

    @cached_property
    def _distinct_words(self) -> str:
        """`_distinct_lines` with each distinct word once, when a sample shows the words
        repeating (a flood on one long line), else as it is. A gate has no space in it, so it
        occurs in the paste exactly when it occurs in one of its words."""
        text = self._distinct_lines
        if len(text) >= _DEDUPE_ABOVE:
            sample = text[:_WORD_SAMPLE].split()
            if len(set(sample)) * _WORD_REPEATS <= len(sample):
                return " ".join(dict.fromkeys(text.split()))
        return text

    @property
    def _gate_text(self) -> str:
        if not self._many_gates:
            return self.views.low_glued
        # Splitting into words costs a few searches' worth: worth it only once several gates
        # had every character present (a rich flood), not for a flood of a few letters.
        if self._searches < _SEARCHES_BEFORE_WORDS:
            return self._distinct_lines
        return self._distinct_words

    def gate(self, word: str) -> bool:
        """Whether `word` occurs in the paste. Looked up in the glued view (a superset of the
        flat one for words without spaces), or its distinct lines and words
        (`_distinct_lines`, `_distinct_words`).

        Each character of the word is looked up first, rarest first: a one-character `in` is a
        memchr, and a paste made of few characters (the usual flood) rules most words out
        without a substring search.
        """
        found = self._gates.get(word)
        if found is None:
            found = all(self._has(c) for c in sorted(set(word), key=_commonness))
            if found:
                found = word in self._gate_text
                self._searches += 1
            self._gates[word] = found
        return found

    def _has(self, char: str) -> bool:
        found = self._chars.get(char)
        if found is None:
            found = self._chars[char] = char in self._gate_text
        return found

    def find(self, pattern: re.Pattern[str], gate: str, limit: int = MAX_HITS) -> list[Hit]:
        if not self.gate(gate):
            return []
        return self.views.find(pattern, limit=limit)

    def _find_rule(self, rule: p.Rule) -> list[Hit]:
        if not self.gate(rule.gate):
            return []
        hits = self.views.find(rule.pattern, word=True, limit=_RULE_HITS)
        if rule.after_colon:
            low = self.low
            hits = [
                h for h in hits if low[max(0, h.start - 3) : h.start].rstrip(" '\"").endswith(":")
            ]
        return hits

    @cached_property
    def api_urls(self) -> list[Hit]:
        return self.find(p.API_URL, "/v2/")

    @cached_property
    def _registry_positions(self) -> list[int]:
        """Where the paste names a registry in any form, redacted or not, sorted."""
        return sorted([m.start for m in self.mentions] + [h.start for h in self.api_urls])

    def _tied(self, start: int, end: int) -> bool:
        positions = self._registry_positions
        i = bisect_left(positions, start - _TIE_BEFORE)
        return i < len(positions) and positions[i] < end + _TIE_AFTER

    # -- the decision -----------------------------------------------------------------------

    def _decide(self) -> _Decision:
        denials = self._denials()
        cut: list[_Signal] = []
        if not denials:
            denials, cut = self._cut_denials()
        if denials:
            return _Decision(FailureKind.IP_DENIED, [(d.start, d.end) for d in denials], denials)
        self._many_gates = True
        firewall = cut + self._firewall_signals()
        # `ImagePullFailure` says the pull failed, not why: anything the registry answered wins.
        weak = [s for s in firewall if s.hint is _H.IMAGE_PULL_FAILURE]
        firewall = [s for s in firewall if s.hint is not _H.IMAGE_PULL_FAILURE]
        hints = [s for s in firewall if s.hint is not None]
        if hints:
            # Named hints outrank everything else, so the other rules need not run at all.
            present = {s.hint for s in hints}
            hint = next(h for h in p.HINT_PRIORITY if h in present)
            return _Decision(FailureKind.FIREWALL_SUSPECTED, _spans(hints), [], hint=hint)
        signals = self._weigh_403s(firewall + self._status_signals() + self._cause_signals())
        bare = [s for s in signals if s.hint is _H.STATUS_403]
        causes = [s for s in signals if s.cause is not None]
        tied_bare = [s for s in bare if self._tied(s.start, s.end)]
        tied_causes = [s for s in causes if self._tied(s.start, s.end)]
        for bare_403s, reasons in ((tied_bare, tied_causes), (bare, causes)):
            if bare_403s:
                return _Decision(
                    FailureKind.FIREWALL_SUSPECTED, _spans(bare_403s), [], hint=_H.STATUS_403
                )
            if reasons:
                present_causes = {s.cause for s in reasons}
                cause = next(c for c in p.CAUSE_PRIORITY if c in present_causes)
                chosen = [s for s in reasons if s.cause is cause]
                remote = next((s.remote_ip for s in chosen if s.remote_ip is not None), None)
                return _Decision(
                    FailureKind.NOT_FIREWALL, _spans(chosen), [], cause=cause, remote_ip=remote
                )
        if weak:
            return _Decision(
                FailureKind.FIREWALL_SUSPECTED, _spans(weak), [], hint=_H.IMAGE_PULL_FAILURE
            )
        return _Decision(FailureKind.UNRECOGNIZED, [], [])

    def _denials(self) -> list[_Denial]:
        denials = []
        for hit in self.find(p.DENIAL, "allowed", _DENIAL_HITS):
            # Whitespace inside the quotes is a line wrap (or a redaction like `52.xxx. xxx`).
            mid = "".join(hit.match.group("mid").split())
            tokens = [t for t in re.split(r"[,;]", mid) if t.strip(p.IP_TRIM)]
            ips = [ip for ip in map(_read_ip, tokens) if ip is not None]
            redacted = not tokens or len(ips) < len(tokens)
            denials.append(_Denial(hit.start, hit.end, tuple(ips), redacted))
        return denials

    def _cut_denials(self) -> tuple[list[_Denial], list[_Signal]]:
        """ACR's sentence cut before `is not allowed`: after the address, or before it."""
        denials: list[_Denial] = []
        cut: list[_Signal] = []
        for hit in self.find(p.DENIAL_HEAD, "client", _RULE_HITS):
            # Only ACR writes `denied: client with`; other products' `client with …` are not it.
            if "denied" not in self.low[max(0, hit.start - 40) : hit.start]:
                continue
            if hit.match.group("ip") is None:
                cut.append(_Signal(hit.start, hit.end, hint=_H.SENTENCE_CUT))
                continue
            ip, end = self._address_after(hit.end)
            if ip is not None:
                denials.append(_Denial(hit.start, end, (ip,), False))
            elif end > hit.end:
                denials.append(_Denial(hit.start, end, (), True))  # `client with IP 'x.x.x.x'`
            else:
                cut.append(_Signal(hit.start, hit.end, hint=_H.SENTENCE_CUT))
        return denials, cut

    def _address_after(self, pos: int) -> tuple[IPAddress | None, int]:
        """What is written right after `client with IP` at `pos`: an address, a redaction (None
        and the end of it) or nothing that belongs to the sentence (None and `pos`)."""
        rest = self.norm[pos : pos + 120]
        line, newline, following = rest.partition("\n")
        tokens = line.split()
        token = tokens[0] if tokens else ""
        more = following.split()[:1] if newline else []
        wrapped = not tokens or (len(tokens) == 1 and token.rstrip("'\"`").endswith((".", ":")))
        if more and wrapped and _ADDRESS_PART.fullmatch(more[0]):
            # The address wrapped onto the next line (`'4.175.` / `10.11'`).
            token += more[0]
        ip = _read_ip(token)
        end = pos + len(rest) - len(rest.lstrip()) + len(token)
        if ip is not None:
            return ip, end
        if token and _REDACTION.fullmatch(token.strip(p.IP_TRIM) or token):
            return None, end
        return None, pos

    def _firewall_signals(self) -> list[_Signal]:
        low = self.low
        signals = []
        for rule in p.FIREWALL_RULES:
            for hit in self._find_rule(rule):
                start, end = hit.start, hit.end
                hint = rule.label
                if hint is _H.REFRESH_TOKEN:
                    after = low[start : end + 400]
                    if p.FOLLOWING_403.search(after):
                        signals.append(_Signal(start, end, hint=hint))
                    elif p.FOLLOWING_401.search(after):
                        signals.append(_Signal(start, end, cause=_N.AUTHENTICATION))
                elif hint is _H.REGISTRY_ACCESS_DENIED and p.FOLLOWING_401.search(
                    low[end : end + 120]
                ):
                    signals.append(_Signal(start, end, cause=_N.AUTHENTICATION))
                elif hint is _H.CHALLENGE and p.FOLLOWING_404.search(
                    low[max(0, start - _BESIDE) : end + _BESIDE]
                ):
                    # Something answered `/v2/` with a 404: not the registry's API at all.
                    signals.append(_Signal(start, end, cause=_N.NOT_FROM_REGISTRY))
                elif isinstance(hint, FirewallHint):
                    signals.append(_Signal(start, end, hint=hint))
        return signals

    def _status_signals(self) -> list[_Signal]:
        signals = []
        for rule in p.STATUS_RULES:
            for hit in self._find_rule(rule):
                code = hit.match.groupdict().get("code") or "403"
                signal = self._status(int(code), hit.start, hit.end)
                if signal is not None:
                    signals.append(signal)
        return signals

    def _status(self, code: int, start: int, end: int) -> _Signal | None:
        if code == 403:
            return _Signal(start, end, hint=_H.STATUS_403)
        cause = {401: _N.AUTHENTICATION, 404: _N.NOT_FOUND, 429: _N.RATE_LIMITED}.get(code)
        if cause is None and 500 <= code <= 599 and not self._wrapped_5xx(start):
            cause = _N.SERVER_ERROR
        return None if cause is None else _Signal(start, end, cause=cause)

    def _wrapped_5xx(self, start: int) -> bool:
        # The docker SDK and App Service report every daemon error as a 500; the real error is
        # inside it, so their 500 says nothing about the registry.
        return p.WRAPPER_5XX.search(self.low, max(0, start - 300), start + 40) is not None

    def _cause_signals(self) -> list[_Signal]:
        signals = []
        low = self.low
        for rule in p.NOT_FIREWALL_RULES:
            for hit in self._find_rule(rule):
                start, end = hit.start, hit.end
                cause = rule.label
                remote: IPAddress | None = None
                if cause is _N.NOT_FOUND and low.startswith("not", start):
                    before = low[max(0, start - 60) : start]
                    if p.TOOL_NOT_FOUND_BEFORE.search(before) or p.TOOL_NOT_FOUND_AFTER.match(
                        low, end
                    ):
                        cause = _N.LOCAL_TOOL
                elif cause is _N.CONNECTIVITY:
                    remote = self._dialled(start)
                    if remote is not None:
                        cause = _N.PRIVATE_ENDPOINT
                elif cause is _N.SERVER_ERROR and self._wrapped_5xx(start):
                    continue
                if isinstance(cause, NotFirewallCause):
                    signals.append(_Signal(start, end, cause=cause, remote_ip=remote))
        return signals

    def _dialled(self, start: int) -> IPAddress | None:
        """A private address the connection error right before `start` says was dialled."""
        before = max(0, start - 200)
        targets = list(p.CONNECT_TARGET.finditer(self.low, before, start))
        target = targets[-1] if targets else None
        # Port 53 is the DNS server; after `proxyconnect` the address is the proxy's.
        if target is None or target["port"] == "53" or "proxyconnect" in self.low[before:start]:
            return None
        ip = _read_ip(target.group("ip"))
        if ip is None or ip.is_loopback or ip.is_link_local or not ip.is_private:
            return None
        return ip

    def _weigh_403s(self, signals: list[_Signal]) -> list[_Signal]:
        """A bare 403 is the firewall unless storage or the registry's own reason is beside it."""
        if not any(s.hint is _H.STATUS_403 for s in signals):
            return signals
        storage = sorted(
            m.start() for host in p.STORAGE_HOSTS for m in finditer(host, self.low, limit=1000)
        )
        reasons = sorted(s.start for s in signals if s.cause in _EXPLAINS_403)
        weighed = []
        for signal in signals:
            lo, hi = signal.start - _BESIDE, signal.end + _BESIDE
            if signal.hint is not _H.STATUS_403:
                weighed.append(signal)
            elif _any_within(storage, lo, hi):
                weighed.append(_Signal(signal.start, signal.end, cause=_N.STORAGE))
            elif not _any_within(reasons, lo, hi):
                weighed.append(signal)
        return weighed

    # -- registries and images --------------------------------------------------------------

    @cached_property
    def mentions(self) -> list[_Mention]:
        found = self._acr_mentions()
        if self.domains:
            pattern = _custom_pattern(tuple(sorted(self.domains)))
            for hit in self.views.find(pattern):
                if _starts_host(hit.match.string, hit.match.start()):
                    domain = hit.match.group("custom")
                    repo, ref = self._image_on(hit.match, hit.match.start())
                    found.append(
                        _Mention(hit.start, hit.end, self.domains[domain], domain, False, repo, ref)
                    )
        for hit in self.find(p.ARM_ID, "/registries/"):
            name = hit.match.group("name")
            if name[0] in "<{[":
                found.append(_Mention(hit.start, hit.end, None, redacted=True))
            elif login := safe_host(f"{name}.azurecr.io"):
                found.append(_Mention(hit.start, hit.end, login))
        for start, end, sub, flag, name in self._az_acr_args:
            if flag in ("-r", "--registry") or sub in p.AZ_NAME_SUBCOMMANDS:
                found.append(_Mention(start, end, f"{name}.azurecr.io"))
        return sorted(found, key=lambda m: m.start)

    def _acr_mentions(self) -> list[_Mention]:
        """ACR login servers, data endpoints and private-link names, found from `.azurecr.`.

        A log names the same image hundreds of times: each distinct spelling (with the text just
        before it, which decides where the name starts) is read once.
        """
        found = []
        views = self.views
        seen: dict[tuple[bool, str], tuple[int, str | None, bool, str | None, str | None,
                                           str | None] | None] = {}  # fmt: skip
        for hit in self.find(p.ACR_SUFFIX, ".azurecr."):
            m = hit.match
            at = m.start()
            flat = m.string is views.low_flat
            source = views.flat if flat else views.glued
            reversed_text = views.reversed_flat if flat else views.reversed_glued
            # The host-like run before `.azurecr.` and the character before it decide the name.
            run = p.HOST_RUN_REVERSED.match(reversed_text, len(m.string) - at)
            reach = run.end() - run.start() + 1 if run else 1
            key = (flat, source[max(0, at - reach) : m.end()])
            read = seen.get(key)
            if read is None and key not in seen:
                read = seen[key] = self._read_acr_mention(m)
            if read is None:
                continue
            name_length, registry, redacted, repo, ref, endpoint = read
            found.append(
                _Mention(hit.start - name_length, hit.end, registry, None, redacted, repo, ref,
                         endpoint)
            )  # fmt: skip
        return found

    def _read_acr_mention(
        self, m: re.Match[str]
    ) -> tuple[int, str | None, bool, str | None, str | None, str | None] | None:
        """(length of the name before `.azurecr.`, login server, redacted, repository,
        reference, endpoint) of one `ACR_SUFFIX` match, or None when it names nothing."""
        text, at, tld = m.string, m.start(), m.group("tld")
        views = self.views
        reversed_text = views.reversed_flat if text is views.low_flat else views.reversed_glued
        name = p.ACR_NAME_REVERSED.match(reversed_text, len(text) - at)
        endpoint = None
        if name and name.group("name")[::-1] != "privatelink":  # the DNS zone, not a name
            login = safe_host(f"{name.group('name')[::-1]}.azurecr.{tld}")
            if login is None:
                return None
            length = name.end() - name.start()
            if name.group("pl") or name.group("region"):
                endpoint = safe_host(f"{text[at - length : at]}.azurecr.{tld}")
            redacted = set(login.split(".", 1)[0]) == {"x"}  # `xxxxx.azurecr.io`
            registry: str | None = None if redacted else login
        elif _starts_host(text, at) and not name:
            length, registry, redacted = 0, None, True  # `<acrname>.azurecr.io`, `.azurecr.io`
        else:
            return None  # `$ACR.azurecr.io`, `a.b.azurecr.io`: not a login server we can name
        repo, ref = self._image_on(m, at - length)
        return length, registry, redacted, repo, ref, None if redacted else endpoint

    @cached_property
    def _az_acr_args(self) -> list[tuple[int, int, str, str, str]]:
        """`az acr <sub> … -n|-r <name>`: (start, end, subcommand, flag, name) of each flag."""
        if not self.gate("acr"):
            return []
        low = self.low
        found = []
        for head in finditer(p.AZ_ACR_HEAD, low, word=True, limit=2 * _RULE_HITS):
            # The first flag after the subcommand, on the same command line, within reach: two
            # searches of a bounded window per head, so a paste of `az acr …` repeated stays
            # linear (one pattern with a lazy gap would retry the gap from every head).
            end = head.end()
            stop = p.COMMAND_END.search(self.norm, end, end + p.AZ_ACR_REACH)
            flag = p.AZ_ACR_FLAG.search(low, end, stop.start() if stop else end + p.AZ_ACR_REACH)
            if flag is not None:
                found.append(
                    (flag.start("name"), flag.end("name"), head["sub"], "-" + flag["flag"],
                     flag["name"])
                )  # fmt: skip
        return found

    def _image_on(self, m: re.Match[str], host_start: int) -> tuple[str | None, str | None]:
        """The repository and tag/digest written after a registry host, if any."""
        if m.group("api"):
            repo = safe_repository(m.group("arepo"))
            manifest = m.group("akind") == "manifests" and m.group("aref")
            ref = self.views.original(m, "aref") if repo and manifest else None
            return repo, safe_reference(ref)
        if not m.group("path"):
            return None, None
        repo = safe_repository(m.group("repo"))
        # A URL path (`https://x.azurecr.io/oauth2/token`) is not an image, and neither is a
        # registry API path whose repository was unreadable (`/v2/<image-name>/…`, `/v2/` then a
        # wrapped line).
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
            return repo, safe_reference(self.views.original(m, "tag"))
        return repo, None

    def _tie_registry(self, anchors: list[tuple[int, int]], mentions: list[_Mention]) -> _Tie:
        size = len(self.norm)
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

    def _custom_domain(self, tie: _Tie, decision: _Decision) -> str | None:
        if tie.mention and tie.mention.host:
            return tie.mention.host
        lo, hi = tie.window
        for m in self.mentions:
            if (
                m.host
                and lo <= m.start < hi
                and (tie.mention is None or m.login == tie.mention.login)
            ):
                return m.host
        if decision.kind is not FailureKind.IP_DENIED or not decision.anchors:
            return None
        # An unconfigured gateway: ACR's own denial came back from a registry API URL on another
        # host.
        start = decision.anchors[0][0]
        for hit in self.api_urls:
            host = hit.match.group("host")
            if start - _TIE_BEFORE <= hit.start < start and not _is_acr_host(host):
                return safe_host(host)
        return None

    def _image(
        self, tie: _Tie, registry: str | None, custom: str | None
    ) -> tuple[str | None, str | None]:
        refs = [
            _ImageRef(m.start, m.login, m.host, m.repository, m.reference)
            for m in self.mentions
            if m.repository
        ]
        for hit in self.api_urls:
            host = hit.match.group("host")
            repo = safe_repository(hit.match.group("arepo"))
            if repo and not _is_acr_host(host):
                manifest = hit.match.group("akind") == "manifests" and hit.match.group("aref")
                ref = safe_reference(self.views.original(hit.match, "aref")) if manifest else None
                refs.append(_ImageRef(hit.start, None, host, repo, ref))
        scoped = [
            _ImageRef(h.start, None, None, repo, None)
            for h in self.find(p.SCOPE, "scope=", 2 * _RULE_HITS)
            if (repo := safe_repository(unquote(h.match.group("repo"))))
        ]

        def ours(ref: _ImageRef) -> bool:
            if registry is None and custom is None:
                return True
            return (registry is not None and ref.login == registry) or (
                custom is not None and ref.host == custom
            )

        anchor = tie.anchor[0] if tie.anchor else 0
        lo, hi = tie.window
        for window in ((lo, hi), (0, len(self.norm))):
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

    # -- the resource the pull ran on ------------------------------------------------------

    def _resource(self, anchors: list[tuple[int, int]], client: Client) -> PastedResource | None:
        """The resource the pull ran on, when the paste names it: of the kind the client runs
        on, the most certain mention nearest the evidence, completed by those that do not name
        another resource. A client that runs anywhere (docker, helm, the az CLI) most likely ran
        on someone's machine: a resource its paste names is where it deploys to, not where it
        pulled from, so none is read."""
        wanted = KIND_OF_CLIENT.get(client)
        if wanted is None:
            return None
        named = [n for n in self._named_resources() if n.kind is wanted]
        if not named:
            return None
        anchor = anchors[0][0] if anchors else len(self.norm)
        named.sort(key=lambda n: (-n.weight, n.name is None, abs(n.start - anchor)))
        best = named[0]
        fields: dict[str, str | None] = {"name": best.name}
        fields.update({f: getattr(best, f) for f in _FILLED})
        for other in named[1:]:
            if other.name and best.name and other.name.lower() != best.name.lower():
                continue  # another resource of the same kind
            for field in ("name", *_FILLED):
                if fields.get(field) is None:
                    fields[field] = getattr(other, field)
        try:
            return PastedResource(kind=wanted, **fields)
        except ValidationError:
            return None

    def _named_resources(self) -> list[_Named]:
        low, norm = self.low, self.norm
        found = []
        for rule in p.RESOURCE_RULES:
            if not self.gate(rule.gate):
                continue
            for m in finditer(rule.pattern, low, word=rule.word, limit=_RULE_HITS):
                # A platform names the resource on its message's line; across a break, the
                # words belong to two lines (`Starting container for site` / a timestamp).
                if "\n" in norm[m.start() : m.end()]:
                    continue
                named = self._read_named(rule, m)
                if named is not None:
                    found.append(named)
        found.extend(self._az_resources())
        return [n for n in found if _fits(n)]

    def _read_named(self, rule: p.ResourceRule, m: re.Match[str]) -> _Named | None:
        groups = m.groupdict()
        kind = rule.kind or _ARM_KINDS[m["type"]]
        if groups.get("node"):
            return _Named(m.start(), kind, rule.weight, node=m["node"])
        if groups.get("nodegroup"):
            group = self.views.original(m, "nodegroup")
            return _Named(m.start(), kind, rule.weight, node_resource_group=group)
        if groups.get("suffix"):
            name = self._web_host_name(m.start())
        else:
            name = _real_name(self.views.original(m, "name"))
        if name is None:
            return None
        return _Named(
            m.start(),
            kind,
            rule.weight,
            name=name,
            resource_group=_real_name(self.views.original(m, "rg")) if groups.get("rg") else None,
            subscription=groups.get("sub"),
            revision=groups.get("revision"),
        )

    def _web_host_name(self, suffix_at: int) -> str | None:
        """The site before `.azurewebsites.net` at `suffix_at` (`shop-web`, or Kudu's
        `shop-web.scm`), read backwards; None for a host of another shape."""
        reversed_low = self.views.reversed_flat
        m = p.WEB_HOST_NAME_REVERSED.match(reversed_low, len(reversed_low) - suffix_at)
        if m is None:
            return None
        start = suffix_at - (m.end() - m.start())
        return _real_name(self.views.flat[start : start + len(m["name"])])

    def _az_resources(self) -> list[_Named]:
        """`az containerapp|webapp|functionapp|aks|container <sub> … -n NAME -g GROUP`."""
        if not self.gate("az"):
            return []
        low, flat = self.low, self.views.flat
        found = []
        for head in finditer(p.AZ_RESOURCE_HEAD, low, word=True, limit=_RULE_HITS):
            tool, sub = head["tool"], head["sub"]
            if sub in p.AZ_OTHER_NAMES:
                continue
            end = head.end()
            stop = p.COMMAND_END.search(self.norm, end, end + p.AZ_RESOURCE_REACH)
            window_end = stop.start() if stop else end + p.AZ_RESOURCE_REACH
            name = group = None
            for flag in p.AZ_RESOURCE_FLAG.finditer(low, end, window_end):
                value = flat[flag.start("value") : flag.end("value")]
                option = flag["flag"]
                if option in ("-g", "--resource-group"):
                    group = group or _real_name(value)
                elif (option == "--cluster-name") == (tool == "aks" and sub == "nodepool"):
                    name = name or _real_name(value)
            if name is not None:
                kind = p.AZ_RESOURCE_TOOLS[tool]
                found.append(
                    _Named(head.start(), kind, _AZ_WEIGHT, name=name, resource_group=group)
                )
        return found

    # -- client, command, correlation id, evidence ------------------------------------------

    def _client(self, anchors: list[tuple[int, int]]) -> Client:
        size = len(self.low)
        windows: list[tuple[int, int]] = []
        if anchors:
            start, end = anchors[0]
            # The message itself first (a multi-tool paste names several), then its surroundings.
            windows += [(start - _CLIENT_NEAR, end + _CLIENT_NEAR // 2)]
            windows += [(start - _CLIENT_WINDOW, end + _CLIENT_WINDOW)]
            windows += [(start - _CLIENT_FAR, end + _CLIENT_FAR)]
        windows += [(0, _CLIENT_FAR), (size - _CLIENT_FAR, size)]
        searched: list[tuple[int, int]] = []
        for lo, hi in [(max(0, lo), min(size, hi)) for lo, hi in windows]:
            if any(a <= lo and hi <= b for a, b in searched):
                continue  # a short paste: the wider window was this one already
            searched.append((lo, hi))
            for client, pattern in p.CLIENT_RULES:
                if next(iter(finditer(pattern, self.low, word=True, pos=lo, endpos=hi)), None):
                    return Client(client)
        return Client.CI if self.is_ci else Client.UNKNOWN

    def _command(
        self, anchors: list[tuple[int, int]], registry: str | None, custom: str | None
    ) -> str | None:
        """The pull (or `az acr login`) the paste shows, nearest before the evidence."""
        commands = [c for c in self._pull_commands() if c is not None]
        for start, _end, sub, _flag, name in self._az_acr_args:
            if sub == "login":
                commands.append(
                    _Command(start, f"az acr login --name {name}", f"{name}.azurecr.io")
                )
        hosts = {h for h in (registry, custom) if h}
        if hosts:
            commands = [c for c in commands if c.host is None or c.host in hosts]
        if not commands:
            return None
        commands.sort()
        anchor = anchors[0][0] if anchors else len(self.norm)
        before = [c for c in commands if c.start <= anchor]
        chosen = before[-1] if before else commands[0]
        return chosen.text if COMMAND.fullmatch(chosen.text) else None

    def _pull_commands(self) -> Iterable[_Command | None]:
        if not self.gate("pull"):
            return
        low = self.low
        for m in finditer(p.PULL, low, word=True, limit=_COMMAND_HITS):
            tool = p.PULL_TOOL.search(low, max(0, m.start() - 60), m.start())
            if tool is None:
                continue
            line_end = self.norm.find("\n", m.end(), m.end() + 400)
            args = self.norm[m.end() : line_end if line_end >= 0 else m.end() + 400]
            yield _pull_command(m.start(), " ".join(tool.group("tool").split()), args)

    def _correlation(self, tie: _Tie) -> str | None:
        hits = self.find(p.CORRELATION, "correlation")
        lo, hi = tie.window
        for hit in hits:
            if lo <= hit.start < hi:
                return hit.match.group("id")
        return hits[0].match.group("id") if hits else None

    def _evidence(self, span: tuple[int, int]) -> str:
        norm = self.norm
        start, end = span
        line_start = norm.rfind("\n", 0, start) + 1
        line_end = norm.find("\n", end)
        line_end = len(norm) if line_end < 0 else line_end
        if line_end - line_start > _EVIDENCE_CHARS:
            # A long line (a JSON body, a joined CI log): keep the match and context each side.
            line_start = max(line_start, start - _EVIDENCE_CHARS // 2)
            line_end = min(line_end, max(end, start + _EVIDENCE_CHARS // 2) + _EVIDENCE_CHARS // 4)
        elif line_end - line_start < _SHORT_LINE:
            # A bare code (`"code": "InaccessibleImage",`) says little; the next line says more.
            following = norm.find("\n", line_end + 1)
            line_end = len(norm) if following < 0 else following
            line_end = min(line_end, line_start + _EVIDENCE_CHARS)
        return " ".join(norm[line_start:line_end].split())


#: Letters of English text, most frequent last; anything else counts as rare.
_LETTER_ORDER = "zqxjkvbpygfwmucldrhsnioate"


def _commonness(char: str) -> int:
    return _LETTER_ORDER.find(char)


def _spans(signals: list[_Signal]) -> list[tuple[int, int]]:
    return sorted((s.start, s.end) for s in signals)


def _any_within(positions: list[int], lo: int, hi: int) -> bool:
    """Whether sorted `positions` has one in [lo, hi)."""
    i = bisect_left(positions, lo)
    return i < len(positions) and positions[i] < hi


@lru_cache(maxsize=32)
def _custom_pattern(domains: tuple[str, ...]) -> re.Pattern[str]:
    return p.custom_domain_pattern(domains)


def _starts_host(text: str, pos: int) -> bool:
    """Whether a host name found at `pos` really starts there (nothing host-like before it)."""
    return pos == 0 or text[pos - 1] not in p.HOST_CHARS


def _fits(named: _Named) -> bool:
    """Whether each value of `named` is within its grammar (a name too long for its kind, say,
    is dropped on its own rather than spoil what the other mentions say)."""
    try:
        PastedResource(kind=named.kind, name=named.name, **{f: getattr(named, f) for f in _FILLED})
    except ValidationError:
        return False
    return True


def _real_name(value: str | None) -> str | None:
    """`value` unless it is what people write instead of a name (`name`, `xxxx`, `***`)."""
    value = (value or "").rstrip(".")  # the end of a sentence, not of the name
    if not value or value.lower() in p.RESOURCE_PLACEHOLDERS or not value.strip("xX*-_."):
        return None
    return value


def _is_acr_host(host: str) -> bool:
    return host.endswith((".azurecr.io", ".azurecr.cn", ".azurecr.us"))


#: Options of pull commands that take a value as the next word.
_VALUE_OPTIONS = frozenset({"--platform", "-n", "--namespace", "--version", "-u", "--username"})


def _pull_command(start: int, tool: str, args: str) -> _Command | None:
    """`<tool> pull <image>` rebuilt from checked parts, or None when no image can be read."""
    words = args.split()
    image: str | None = None
    host: str | None = None
    version: str | None = None
    i = 0
    while i < len(words) and i < 12:
        word = words[i]
        if word.startswith("-"):
            option, _, value = word.partition("=")
            if option == "--version":
                version = safe_reference(value or (words[i + 1] if i + 1 < len(words) else ""))
            i += 2 if option in _VALUE_OPTIONS and not value else 1
            continue
        if image is None:
            image, host = _image_reference(word.strip("'\"`,;)(."))
            if image is None:
                return None
        i += 1
    if image is None or (tool == "helm" and not image.startswith("oci://")):
        return None
    text = f"{tool} pull {image}" + (f" --version {version}" if tool == "helm" and version else "")
    return _Command(start, text, host)


def _image_reference(word: str) -> tuple[str | None, str | None]:
    """An image reference rebuilt from its checked parts, and its registry host."""
    m = p.IMAGE_REF.fullmatch(word)
    if m is None:
        return None, None
    host = safe_host(m.group("host")) if m.group("host") else None
    if m.group("host") and host is None and m.group("host").lower() != "localhost":
        return None, None
    repo = safe_repository(m.group("repo"))
    if repo is None:
        return None, None
    tag = safe_reference(m.group("tag")) if m.group("tag") else None
    if m.group("tag") and tag is None:
        return None, None
    text = (m.group("scheme") or "") + (
        f"{host or 'localhost'}{m.group('port') or ''}/" if m.group("host") else ""
    )
    text += (
        repo + (f":{tag}" if tag else "") + (f"@{m.group('digest')}" if m.group("digest") else "")
    )
    return text, host

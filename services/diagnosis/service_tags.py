"""Microsoft Service Tags: which Azure tag names an IP address belongs to.

The input is Microsoft's `ServiceTags_Public_<date>.json` (or `az network list-service-tags`):
`values[].name` and `values[].properties.addressPrefixes`, plus `region` and `systemService`.

CIDR prefixes nest or are disjoint, never partly overlap, so the index cuts the address line into
disjoint segments once, each carrying every tag that covers it (most specific first), and a lookup
is one `bisect` over the segment starts. IPv4 and IPv6 get separate segment lists.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.domain.ips import IPAddress, IPNetwork
from services.files import read_json


class ServiceTagsError(ValueError):
    """The document is not a usable ServiceTags JSON."""


@dataclass(frozen=True, slots=True)
class ServiceTag:
    """One tag as Microsoft publishes it (`AzureContainerApps.WestEurope`)."""

    name: str
    #: Lower-case Azure region (`westeurope`), or "" for a global tag.
    region: str
    #: The service the tag belongs to (`AzureContainerApps`), or "" (as for `AzureCloud`).
    system_service: str
    prefixes: tuple[IPNetwork, ...]

    @property
    def address_count(self) -> int:
        return sum(_size(net) for net in self.prefixes)


@dataclass(frozen=True, slots=True)
class _Segments:
    starts: list[int]
    ends: list[int]
    tags: list[tuple[str, ...]]

    def names_of_last(self) -> tuple[str, ...] | None:
        return self.tags[-1] if self.tags else None

    def find(self, value: int) -> tuple[str, ...]:
        i = bisect_right(self.starts, value) - 1
        if i >= 0 and value <= self.ends[i]:
            return self.tags[i]
        return ()


class ServiceTagIndex:
    """Tag lookup by IP address, built once from the published tags."""

    def __init__(self, tags: Iterable[ServiceTag]) -> None:
        self._tags: dict[str, ServiceTag] = {}
        for tag in tags:
            self._tags[tag.name] = tag
        # Among tags with the same matching prefix, the one covering fewer addresses overall is
        # the more specific: AzureContainerApps.WestEurope < AzureCloud.westeurope < AzureCloud.
        # Equal breadth (a service's global tag and its one regional tag): the regional one.
        breadth = {name: (tag.address_count, not tag.region) for name, tag in self._tags.items()}
        self._v4 = _build(self._tags.values(), 4, breadth)
        self._v6 = _build(self._tags.values(), 6, breadth)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceTagIndex:
        """Build from a parsed ServiceTags_Public document; raises ServiceTagsError if malformed."""
        if not isinstance(data, Mapping):
            raise ServiceTagsError("service tags JSON must be an object with a 'values' list")
        values = data.get("values")
        if not isinstance(values, list):
            raise ServiceTagsError("service tags JSON has no 'values' list")
        tags: list[ServiceTag] = []
        # The same prefix is listed under AzureCloud, AzureCloud.<region> and the service's
        # global and regional tags: parse each spelling once.
        parsed: dict[str, IPNetwork] = {}
        for entry in values:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ServiceTagsError("every service tag entry needs a 'name'")
            name: str = entry["name"]
            props = entry.get("properties") or {}
            if not isinstance(props, Mapping):
                raise ServiceTagsError(f"service tag {name!r}: 'properties' is not an object")
            raw_prefixes = props.get("addressPrefixes") or []
            if not isinstance(raw_prefixes, list):
                raise ServiceTagsError(f"service tag {name!r}: 'addressPrefixes' is not a list")
            prefixes: list[IPNetwork] = []
            for raw in raw_prefixes:
                net = parsed.get(raw) if isinstance(raw, str) else None
                if net is None:
                    try:
                        net = ipaddress.ip_network(str(raw).strip(), strict=False)
                    except ValueError as exc:
                        raise ServiceTagsError(f"service tag {name!r}: bad prefix {raw!r}") from exc
                    if isinstance(raw, str):
                        parsed[raw] = net
                prefixes.append(net)
            tags.append(
                ServiceTag(
                    name=name,
                    region=str(props.get("region") or "").lower(),
                    system_service=str(props.get("systemService") or ""),
                    prefixes=tuple(prefixes),
                )
            )
        return cls(tags)

    @classmethod
    def load(cls, path: str | Path) -> ServiceTagIndex:
        """Read a ServiceTags JSON file; raises ServiceTagsError for unreadable or invalid files."""
        data = read_json(path, "service tags", ServiceTagsError)
        return cls.from_json(data)

    def __len__(self) -> int:
        return len(self._tags)

    @property
    def segment_count(self) -> int:
        return len(self._v4.starts) + len(self._v6.starts)

    def lookup(self, ip: IPAddress | str) -> tuple[str, ...]:
        """Names of every tag covering `ip`, most specific first; () when it is not Azure's."""
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        segments = self._v4 if addr.version == 4 else self._v6
        return segments.find(int(addr))

    def tag(self, name: str) -> ServiceTag | None:
        return self._tags.get(name)

    def matches(self, ip: IPAddress | str) -> tuple[ServiceTag, ...]:
        """Like `lookup`, with each tag's region and service."""
        return tuple(self._tags[name] for name in self.lookup(ip))


def _build(
    tags: Iterable[ServiceTag], version: int, breadth: Mapping[str, tuple[int, bool]]
) -> _Segments:
    # The same prefix is usually listed by several tags: group the names per prefix first.
    groups: dict[tuple[int, int], set[str]] = {}
    for tag in tags:
        for net in tag.prefixes:
            if net.version == version:
                start = int(net.network_address)
                groups.setdefault((start, start + _size(net) - 1), set()).add(tag.name)

    out = _Segments([], [], [])
    # CIDRs nest or are disjoint, so walking them by start (widest first) keeps the open ones
    # on a stack whose top is the innermost; each stack entry carries its full ordered names:
    # its own (the longest prefix) first, then its parent's.
    stack: list[tuple[int, tuple[str, ...]]] = []
    pos = 0
    for (start, end), own in sorted(groups.items(), key=lambda g: (g[0][0], -g[0][1])):
        while stack and stack[-1][0] < start:
            top_end, top_names = stack.pop()
            if pos <= top_end:
                _emit(out, pos, top_end, top_names)
                pos = top_end + 1
        if stack and pos < start:
            _emit(out, pos, start - 1, stack[-1][1])
        pos = start
        mine = sorted(own, key=lambda n: (breadth.get(n, (0, False)), n))
        inherited = [n for n in stack[-1][1] if n not in own] if stack else []
        stack.append((end, tuple(mine + inherited)))
    while stack:
        top_end, top_names = stack.pop()
        if pos <= top_end:
            _emit(out, pos, top_end, top_names)
            pos = top_end + 1
    return out


def _emit(out: _Segments, start: int, end: int, names: tuple[str, ...]) -> None:
    if out.names_of_last() == names and out.ends[-1] + 1 == start:
        out.ends[-1] = end  # same tags as the segment just before: extend it
    else:
        out.starts.append(start)
        out.ends.append(end)
        out.tags.append(names)


def _size(net: IPNetwork) -> int:
    # `num_addresses` goes through the cached `broadcast_address`; this is the same, cheaper.
    return 1 << (net.max_prefixlen - net.prefixlen)

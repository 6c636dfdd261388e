"""Microsoft Service Tags: which Azure tag names an IP address belongs to.

The input is Microsoft's `ServiceTags_Public_<date>.json` (or `az network list-service-tags`):
`values[].name` and `values[].properties.addressPrefixes`, plus `region` and `systemService`.

CIDR prefixes nest or are disjoint, never partly overlap, so the index (`_intervals`) sorts them
once and links each to the prefix it is nested in; a lookup is one `bisect` plus a short walk up
the nesting. IPv4 and IPv6 get separate indexes.

Building it is paid once per process on ~50,000 prefixes, so each distinct prefix string is
parsed once, into integers, by `socket.inet_pton` (C) rather than `ipaddress.ip_network` (which
costs about ten times as much per prefix); `ipaddress` objects are made only when asked for.
"""

from __future__ import annotations

import gc
import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.diagnosis._intervals import NestedRanges
from services.domain.ips import IPAddress, IPNetwork
from services.files import read_json


class ServiceTagsError(ValueError):
    """The document is not a usable ServiceTags JSON."""


#: (IP version, first address, last address) of a prefix, as integers.
Range = tuple[int, int, int]

#: Where a stored document carries its prebuilt index, and the index's format.
COMPACT_KEY = "acrbotIndex"
COMPACT_FORMAT = "acrbot-service-tag-index/1"


@dataclass(frozen=True, slots=True)
class ServiceTag:
    """One tag as Microsoft publishes it (`AzureContainerApps.WestEurope`)."""

    name: str
    #: Lower-case Azure region (`westeurope`), or "" for a global tag.
    region: str
    #: The service the tag belongs to (`AzureContainerApps`), or "" (as for `AzureCloud`).
    system_service: str
    ranges: tuple[Range, ...]

    @property
    def address_count(self) -> int:
        return sum(last - first + 1 for _, first, last in self.ranges)

    @property
    def prefixes(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(_cidr(*r)) for r in self.ranges)


def _fetched_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class ServiceTagIndex:
    """Tag lookup by IP address, built once from the published tags."""

    def __init__(self, tags: Iterable[ServiceTag]) -> None:
        self._tags: dict[str, ServiceTag] = {}
        for tag in tags:
            self._tags[tag.name] = tag
        groups: dict[Range, list[str]] = {}
        for tag in self._tags.values():
            for prefix in tag.ranges:
                groups.setdefault(prefix, []).append(tag.name)
        self._index(groups, {tag.name: tag.address_count for tag in self._tags.values()})

    def _index(self, groups: dict[Range, list[str]], counts: Mapping[str, int]) -> None:
        """Index `groups`: each range with the names of the tags that list it."""
        # Among tags with the same matching prefix, the one covering fewer addresses overall is
        # the more specific: AzureContainerApps.WestEurope < AzureCloud.westeurope < AzureCloud.
        # Equal breadth (a service's global tag and its one regional tag): the regional one.
        ranked = sorted(self._tags.values(), key=lambda t: (counts[t.name], not t.region, t.name))
        rank = {tag.name: i for i, tag in enumerate(ranked)}
        for names in groups.values():
            if len(names) == 2:  # the usual case (a tag and its regional one): no sort call
                if rank[names[0]] > rank[names[1]]:
                    names.reverse()
            elif len(names) > 2:
                names.sort(key=rank.__getitem__)
        self._v4 = NestedRanges.from_groups(
            (first, last, names) for (v, first, last), names in groups.items() if v == 4
        )
        self._v6 = NestedRanges.from_groups(
            (first, last, names) for (v, first, last), names in groups.items() if v == 6
        )

    #: When the tags were fetched (a stored document's `fetchedAt`, a downloaded file's date);
    #: None when nothing says.
    published: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceTagIndex:
        """Build from a parsed ServiceTags_Public document (or use the prebuilt index a stored
        document carries); raises ServiceTagsError if malformed."""
        # Building allocates some hundred thousand small objects that all live on: the cyclic
        # collector would walk them again and again meanwhile, for nothing (it doubled the cost).
        with _collector_paused():
            index = cls._from_json(data)
        index.published = _fetched_at(data.get("fetchedAt"))
        return index

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ServiceTagIndex:
        """Build from a parsed ServiceTags_Public document; raises ServiceTagsError if malformed.

        One pass over the ~50,000 listed prefixes parses each spelling once, groups the tags by
        prefix and counts each tag's addresses; the index is then built from those groups.
        """
        if not isinstance(data, Mapping):
            raise ServiceTagsError("service tags JSON must be an object with a 'values' list")
        compact = data.get(COMPACT_KEY)
        if isinstance(compact, Mapping) and compact.get("format") == COMPACT_FORMAT:
            # Built by the daily refresh from this very document: skip the build.
            return cls._from_compact(compact)
        values = data.get("values")
        if not isinstance(values, list):
            raise ServiceTagsError("service tags JSON has no 'values' list")
        tags: dict[str, ServiceTag] = {}
        counts: dict[str, int] = {}
        groups: dict[Range, list[str]] = {}
        # The same prefix is listed under AzureCloud, AzureCloud.<region> and the service's
        # global and regional tags: parse each spelling once.
        parsed: dict[str, Range] = {}
        repeated = False
        for entry in values:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ServiceTagsError("every service tag entry needs a 'name'")
            name: str = entry["name"]
            repeated = repeated or name in tags
            props = entry.get("properties") or {}
            if not isinstance(props, Mapping):
                raise ServiceTagsError(f"service tag {name!r}: 'properties' is not an object")
            raw_prefixes = props.get("addressPrefixes") or []
            if not isinstance(raw_prefixes, list):
                raise ServiceTagsError(f"service tag {name!r}: 'addressPrefixes' is not a list")
            ranges: list[Range] = []
            count = 0
            for raw in raw_prefixes:
                try:
                    found = parsed.get(raw)
                except TypeError:  # a list or object where a prefix should be
                    found = None
                if found is None:
                    found = _parse_prefix(raw)
                    if found is None:
                        raise ServiceTagsError(f"service tag {name!r}: bad prefix {raw!r}")
                    if isinstance(raw, str):
                        parsed[raw] = found
                ranges.append(found)
                count += found[2] - found[1] + 1
                names = groups.get(found)
                if names is None:
                    groups[found] = [name]
                else:
                    names.append(name)
            tags[name] = ServiceTag(
                name=name,
                region=str(props.get("region") or "").lower(),
                system_service=str(props.get("systemService") or ""),
                ranges=tuple(ranges),
            )
            counts[name] = count
        if repeated:  # a name listed twice: its last listing counts, as for the constructor
            return cls(tags.values())
        index = cls.__new__(cls)
        index._tags = tags
        index._index(groups, counts)
        return index

    def to_compact(self) -> dict[str, Any]:
        """The built index as plain JSON data: `from_compact` restores it without parsing or
        sorting a prefix (stored beside the daily refresh's document, under `COMPACT_KEY`)."""
        names = list(self._tags)
        number = {name: i for i, name in enumerate(names)}
        families: dict[str, Any] = {}
        blocks: list[list[list[int]]] = [[[], []] for _ in names]
        for family, (key, ranges) in enumerate((("v4", self._v4), ("v6", self._v6))):
            firsts, lasts, parents, values = ranges.columns()
            own = [[number[n] for n in named] for named in values]
            for block, ids in enumerate(own):
                for tag in ids:
                    blocks[tag][family].append(block)
            families[key] = {"firsts": firsts, "lasts": lasts, "parents": parents, "own": own}
        return {
            "format": COMPACT_FORMAT,
            "tags": [[t.name, t.region, t.system_service] for t in self._tags.values()],
            "blocks": blocks,
            **families,
        }

    @classmethod
    def from_compact(cls, data: Mapping[str, Any]) -> ServiceTagIndex:
        """The index `to_compact` described; ServiceTagsError when it is not one."""
        with _collector_paused():
            return cls._from_compact(data)

    @classmethod
    def _from_compact(cls, data: Mapping[str, Any]) -> ServiceTagIndex:
        try:
            if data.get("format") != COMPACT_FORMAT:
                raise ServiceTagsError("not a compact service-tag index")
            tags = [(str(n), str(r), str(s)) for n, r, s in data["tags"]]
            names = [t[0] for t in tags]
            families: list[NestedRanges[str]] = []
            for key in ("v4", "v6"):
                part = data[key]
                ranges: NestedRanges[str] = NestedRanges.__new__(NestedRanges)
                ranges._firsts = list(part["firsts"])
                ranges._lasts = list(part["lasts"])
                ranges._parent = list(part["parents"])
                ranges._own = [[names[i] for i in ids] for ids in part["own"]]
                if (
                    not len(ranges._firsts)
                    == len(ranges._lasts)
                    == len(ranges._parent)
                    == len(ranges._own)
                ):
                    raise ServiceTagsError("compact service-tag index: columns differ in length")
                ranges._full = [None] * len(ranges._firsts)
                families.append(ranges)
            index = cls.__new__(cls)
            index._v4, index._v6 = families
            index._tags = {}
            for (name, region, service), (v4, v6) in zip(tags, data["blocks"], strict=True):
                spans = [(4, families[0]._firsts[b], families[0]._lasts[b]) for b in v4]
                spans += [(6, families[1]._firsts[b], families[1]._lasts[b]) for b in v6]
                index._tags[name] = ServiceTag(name, region, service, tuple(spans))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, ServiceTagsError):
                raise
            raise ServiceTagsError(f"compact service-tag index is damaged: {exc}") from exc
        return index

    @classmethod
    def load(cls, path: str | Path) -> ServiceTagIndex:
        """Read a ServiceTags JSON file; raises ServiceTagsError for unreadable or invalid files."""
        with _collector_paused():
            data = read_json(path, "service tags", ServiceTagsError)
            index = cls._from_json(data)
        # Microsoft's download is named for its week: ServiceTags_Public_20260105.json.
        dated = re.search(r"_(20\d{6})\.json$", str(path))
        index.published = _fetched_at(data.get("fetchedAt")) or (
            datetime.strptime(dated.group(1), "%Y%m%d").replace(tzinfo=UTC) if dated else None
        )
        return index

    def __len__(self) -> int:
        return len(self._tags)

    @property
    def range_count(self) -> int:
        """Distinct prefixes indexed."""
        return len(self._v4) + len(self._v6)

    def lookup(self, ip: IPAddress | str) -> tuple[str, ...]:
        """Names of every tag covering `ip`, most specific first; () when it is not Azure's."""
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        index = self._v4 if addr.version == 4 else self._v6
        return index.covering(int(addr))

    def tag(self, name: str) -> ServiceTag | None:
        return self._tags.get(name)

    def matches(self, ip: IPAddress | str) -> tuple[ServiceTag, ...]:
        """Like `lookup`, with each tag's region and service."""
        return tuple(self._tags[name] for name in self.lookup(ip))


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_FAMILIES = {4: (socket.AF_INET, 32), 6: (socket.AF_INET6, 128)}


def _parse_prefix(raw: object) -> Range | None:
    """`a.b.c.d/n` or `x::/n` as (version, first, last); host bits are ignored, as by
    `ip_network(strict=False)`. None when it is not a prefix."""
    if not isinstance(raw, str):
        return None
    address, slash, length = raw.strip().partition("/")
    # IPv4 first: nine in ten service-tag prefixes are.
    try:
        packed, version, bits = socket.inet_pton(socket.AF_INET, address), 4, 32
    except OSError:
        try:
            packed, version, bits = socket.inet_pton(socket.AF_INET6, address), 6, 128
        except (OSError, ValueError):
            return None
    except ValueError:  # an embedded NUL
        return None
    if not slash:
        prefix = bits
    elif length.isdigit() and length.isascii() and int(length) <= bits:
        prefix = int(length)
    else:
        return None
    size = 1 << (bits - prefix)
    first = int.from_bytes(packed, "big") & ~(size - 1)
    return version, first, first + size - 1


def _cidr(version: int, first: int, last: int) -> str:
    bits = _FAMILIES[version][1]
    address = ipaddress.IPv4Address(first) if version == 4 else ipaddress.IPv6Address(first)
    return f"{address}/{bits - (last - first + 1).bit_length() + 1}"

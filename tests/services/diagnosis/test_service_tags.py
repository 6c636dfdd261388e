from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.diagnosis.service_tags import ServiceTagIndex, ServiceTagsError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _doc(tags: dict[str, list[str]], **props: dict[str, str]) -> dict[str, Any]:
    return {
        "changeNumber": 1,
        "cloud": "Public",
        "values": [
            {
                "name": name,
                "id": name,
                "properties": {"addressPrefixes": prefixes, **props.get(name, {})},
            }
            for name, prefixes in tags.items()
        ],
    }


@pytest.fixture
def index() -> ServiceTagIndex:
    return ServiceTagIndex.from_json(
        _doc(
            {
                "AzureCloud": ["20.0.0.0/8", "4.175.0.0/16", "2603:1020::/32"],
                "AzureCloud.westeurope": ["20.103.0.0/16", "4.175.0.0/16"],
                "AzureContainerApps.WestEurope": ["20.103.128.0/17"],
                "AzureContainerApps": ["20.103.128.0/17"],
            },
            **{
                "AzureCloud.westeurope": {"region": "westeurope"},
                "AzureContainerApps.WestEurope": {
                    "region": "westeurope",
                    "systemService": "AzureContainerApps",
                },
                "AzureContainerApps": {"systemService": "AzureContainerApps"},
            },
        )
    )


def test_lookup_orders_most_specific_tag_first(index: ServiceTagIndex) -> None:
    assert index.lookup("20.103.186.69") == (
        "AzureContainerApps.WestEurope",
        "AzureContainerApps",
        "AzureCloud.westeurope",
        "AzureCloud",
    )


def test_same_prefix_in_regional_and_global_tag_prefers_the_regional_one(
    index: ServiceTagIndex,
) -> None:
    # Both tags list 4.175.0.0/16: the narrower tag overall wins the tie.
    assert index.lookup(ipaddress.ip_address("4.175.12.34")) == (
        "AzureCloud.westeurope",
        "AzureCloud",
    )


def test_lookup_respects_prefix_boundaries(index: ServiceTagIndex) -> None:
    assert index.lookup("20.103.127.255") == ("AzureCloud.westeurope", "AzureCloud")
    assert index.lookup("20.103.128.0")[0] == "AzureContainerApps.WestEurope"
    assert index.lookup("20.103.255.255")[0] == "AzureContainerApps.WestEurope"
    assert index.lookup("20.104.0.0") == ("AzureCloud",)
    assert index.lookup("20.255.255.255") == ("AzureCloud",)
    assert index.lookup("21.0.0.0") == ()
    assert index.lookup("19.255.255.255") == ()
    assert index.lookup("91.38.188.165") == ()


def test_ipv6_is_indexed_separately(index: ServiceTagIndex) -> None:
    assert index.lookup("2603:1020::1") == ("AzureCloud",)
    assert index.lookup("2a01:111::1") == ()
    # The IPv6 address numerically equal to an indexed IPv4 one must not match it.
    assert index.lookup(ipaddress.IPv6Address(int(ipaddress.IPv4Address("20.1.1.1")))) == ()


def test_matches_carries_region_and_service(index: ServiceTagIndex) -> None:
    best = index.matches("20.103.186.69")[0]
    assert best.region == "westeurope"
    assert best.system_service == "AzureContainerApps"
    assert index.tag("AzureCloud") is not None
    assert len(index) == 4


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "object"),
        ({"cloud": "Public"}, "values"),
        ({"values": [{"properties": {}}]}, "name"),
        ({"values": [{"name": "X", "properties": {"addressPrefixes": ["1.2.3/40"]}}]}, "prefix"),
        ({"values": [{"name": "X", "properties": {"addressPrefixes": "1.2.3.0/24"}}]}, "list"),
    ],
)
def test_malformed_documents_are_refused_with_a_reason(doc: Any, message: str) -> None:
    with pytest.raises(ServiceTagsError, match=message):
        ServiceTagIndex.from_json(doc)


def test_load_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ServiceTagsError, match="cannot read"):
        ServiceTagIndex.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ServiceTagsError, match="not JSON"):
        ServiceTagIndex.load(bad)


def test_example_file_loads_and_knows_the_seed_container_apps_ip() -> None:
    index = ServiceTagIndex.load(EXAMPLES / "service-tags.json")
    tags = index.lookup("20.103.186.69")
    assert tags[0].startswith("AzureContainerApps")
    assert "AzureCloud" in tags
    assert json.loads((EXAMPLES / "service-tags.json").read_text())["cloud"] == "Public"


_prefixes = st.builds(
    lambda addr, plen: ipaddress.IPv4Network((addr, plen), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)


@settings(max_examples=150, deadline=None)
@given(
    tags=st.dictionaries(
        st.sampled_from([f"Tag{i}" for i in range(8)]),
        st.lists(_prefixes, min_size=1, max_size=6),
        min_size=1,
    ),
    probes=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
)
def test_lookup_agrees_with_a_brute_force_scan(
    tags: dict[str, list[ipaddress.IPv4Network]], probes: list[int]
) -> None:
    index = ServiceTagIndex.from_json(_doc({k: [str(n) for n in v] for k, v in tags.items()}))
    # Probe the edges of every prefix as well as random points.
    edges = [int(n.network_address) for ns in tags.values() for n in ns]
    edges += [int(n.broadcast_address) for ns in tags.values() for n in ns]
    for value in probes + edges:
        ip = ipaddress.IPv4Address(value)
        expected = {name for name, nets in tags.items() if any(ip in n for n in nets)}
        got = index.lookup(ip)
        assert set(got) == expected
        assert len(got) == len(expected)
        best_len = [max(n.prefixlen for n in tags[name] if ip in n) for name in got]
        assert best_len == sorted(best_len, reverse=True)


def test_a_tag_listed_twice_counts_its_last_listing() -> None:
    index = ServiceTagIndex.from_json(
        _doc({"AzureCloud": ["20.0.0.0/8"]})
        | {
            "values": [
                {"name": "X", "properties": {"addressPrefixes": ["1.0.0.0/8"]}},
                {"name": "X", "properties": {"addressPrefixes": ["2.0.0.0/8"]}},
            ]
        }
    )
    assert index.lookup("1.2.3.4") == ()
    assert index.lookup("2.2.3.4") == ("X",)


def test_prefixes_are_read_without_host_bits_and_given_back_as_networks() -> None:
    index = ServiceTagIndex.from_json(_doc({"T": ["10.1.2.3/16", "2603:1020::1/32", "8.8.8.8"]}))
    tag = index.tag("T")
    assert tag is not None
    assert [str(n) for n in tag.prefixes] == ["10.1.0.0/16", "2603:1020::/32", "8.8.8.8/32"]
    assert tag.address_count == 2**16 + 2**96 + 1


def test_a_compact_index_restores_the_same_lookups() -> None:
    import json as _json
    import random

    from services.diagnosis.service_tags import COMPACT_KEY

    built = ServiceTagIndex.load(EXAMPLES / "service-tags.json")
    compact = _json.loads(_json.dumps(built.to_compact()))  # as stored: plain JSON
    restored = ServiceTagIndex.from_compact(compact)
    rng = random.Random(7)
    probes = ["20.103.186.69", "52.236.40.7", "4.175.12.34", "8.8.8.8"]
    probes += [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.1" for _ in range(2000)]
    for ip in probes:
        assert restored.lookup(ip) == built.lookup(ip), ip
    assert len(restored) == len(built)
    assert restored.range_count == built.range_count
    for name in ("AzureCloud", "AzureContainerApps.WestEurope"):
        if built.tag(name) is not None:
            assert restored.tag(name) == built.tag(name)
    # A stored document carrying the index is read through it (its values are not parsed).
    stored = {"values": [], COMPACT_KEY: compact}
    assert ServiceTagIndex.from_json(stored).lookup("20.103.186.69") == built.lookup(
        "20.103.186.69"
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c.pop("v4"),
        lambda c: c["v4"]["parents"].append(0),
        lambda c: c.update(format="something-else/9"),
        lambda c: c["v4"]["own"].__setitem__(0, [10**6]),
    ],
)
def test_a_damaged_compact_index_is_refused(damage) -> None:
    import json as _json

    compact = _json.loads(
        _json.dumps(ServiceTagIndex.load(EXAMPLES / "service-tags.json").to_compact())
    )
    damage(compact)
    with pytest.raises(ServiceTagsError):
        ServiceTagIndex.from_compact(compact)

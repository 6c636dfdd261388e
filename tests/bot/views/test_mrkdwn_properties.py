"""Invariant 9 end to end: whatever a paste holds, what the bot would send to Slack has no live
markup and no unbalanced backtick.

Thousands of generated pastes mix real error sentences with Slack control sequences (`<!here>`,
`<@U123>`, `<#C1>`, disguised links), their escaped forms, backticks, percent-encodings and IPv6
zone ids, placed where the parser reads values: the refused address, the registry host, the
repository (also percent-encoded in a token scope), the tag, and the text around. Each goes
through parse → diagnose → the mrkdwn boundary, the way the Slack views will render it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.views.mrkdwn import code, escape
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.service_tags import ServiceTagIndex
from services.diagnosis.verdicts import Diagnosis, diagnose
from services.domain.registry import RegistryState

LIVE = re.compile(r"<[!@#]|<https?:|<mailto:")
PAYLOADS = (
    "<!channel>", "<!here>", "<@U123>", "<#C1>", "<#C1|general>", "<http://evil.example|ok>",
    "<https://evil.example>", "&lt;!here&gt;", "&lt;@U123&gt;", "&amp;lt;!channel&amp;gt;", "`",
    "```", "``", "%60", "%0A", "%0a%60", "%3C!here%3E", "%3Chttp://evil%7Cok%3E", "\n", "\r\n",
    "\u2028", "%<!here>", "%&lt;!here&gt;", "*bold*", "_x_", "&", "<", ">", "|",
)  # fmt: skip
payload = st.sampled_from(PAYLOADS)
word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._/", min_size=1, max_size=12)
slot = st.one_of(payload, word, st.builds(lambda a, b: a + b, word, payload))
ipv4 = st.ip_addresses(v=4).map(str)
ipv6_zoned = st.builds(lambda ip, zone: f"{ip}%{zone}", st.ip_addresses(v=6).map(str), payload)


def _denial(ip: str, host: str, repo: str, tag: str) -> str:
    return (
        f'Error response from daemon: Head "https://{host}/v2/{repo}/manifests/{tag}": '
        f"denied: client with IP '{ip}' is not allowed access. Refer https://aka.ms/acr/firewall "
        "to grant access."
    )


def _scope(repo: str, host: str) -> str:
    return (
        f"failed to fetch anonymous token: unexpected status from GET request to https://{host}"
        f"/oauth2/token?scope=repository%3A{repo}%3Apull&service={host}: 403 Forbidden"
    )


def _pull(host: str, repo: str, tag: str) -> str:
    return f"$ docker pull {host}/{repo}:{tag}"


def _aci(host: str, repo: str, tag: str) -> str:
    return (
        f"The image '{host}/{repo}:{tag}' in container group 'g' is not accessible. Please check "
        "the image and registry credential."
    )


hosts = st.one_of(
    st.sampled_from(["contosoprod.azurecr.io", "cr.contoso.cloud", "x.privatelink.azurecr.io"]),
    st.builds(lambda s: f"contoso{s}.azurecr.io", slot),
    st.builds(lambda s: f"{s}.azurecr.io", slot),
)
sentences = st.one_of(
    st.builds(_denial, st.one_of(ipv4, ipv6_zoned, slot), hosts, slot, slot),
    st.builds(_scope, st.one_of(slot, st.builds(lambda p: "web" + p, payload)), hosts),
    st.builds(_pull, hosts, slot, slot),
    st.builds(_aci, hosts, slot, slot),
    st.builds(lambda h: f'Error response from daemon: Get "https://{h}/v2/": unauthorized', hosts),
    st.builds(lambda h: f"dial tcp: lookup {h} on 10.0.0.10:53: no such host", hosts),
    st.just("denied: client with"),
    payload,
    st.text(max_size=40),
)
pastes = st.builds(
    lambda parts, sep: sep.join(parts),
    st.lists(sentences, min_size=1, max_size=6),
    st.sampled_from([" ", "\n", "\n> ", "\n# ", "```", ""]),
)

REGISTRY = RegistryState.from_json(
    {
        "name": "contosoprod",
        "loginServer": "contosoprod.azurecr.io",
        "sku": {"name": "Premium"},
        "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"value": "85.214.10.0/24"}]},
    }
)
TAGS = ServiceTagIndex.from_json(
    {"values": [{"name": "AzureCloud", "properties": {"addressPrefixes": ["20.0.0.0/8"]}}]}
)


def _texts(value: Any) -> list[str]:
    """Every string inside a JSON-shaped value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return []


def _rendered(d: Diagnosis) -> list[str]:
    """What the Slack views send: texts through `escape`, the pasted evidence through `code`."""
    data = d.model_dump(mode="json")
    evidence = data["failure"].pop("evidence")
    texts = [escape(t) for t in _texts(data)]
    return texts + ([code(evidence)] if evidence is not None else [])


@settings(max_examples=2000, deadline=None)
@given(paste=pastes, gateway=st.booleans())
def test_no_paste_turns_into_slack_markup(paste: str, gateway: bool) -> None:
    domains = {"cr.contoso.cloud": "contosoprod.azurecr.io"} if gateway else None
    failure = parse_pull_failure(paste, custom_domains=domains)
    d = diagnose(failure, registries=[REGISTRY], service_tags=TAGS)
    for text in _rendered(d):
        assert not LIVE.search(text), text
        assert text.count("`") % 2 == 0, text
    # Values read from the paste are reduced to their grammar: nothing that could close a code
    # span, start markup or break a line.
    f = d.failure
    for value in (f.registry, f.endpoint, f.custom_domain, f.repository, f.reference, f.command):
        if value is not None:
            assert not set(value) & set("`<>&|*~\n\r\u2028 ") - (
                {" "} if value is f.command else set()
            )
    for ip in (*f.ips, *([d.facts.ip] if d.facts.ip else [])):
        assert not (isinstance(ip, ipaddress.IPv6Address) and ip.scope_id)
    for step in (d.summary, *d.steps, d.grant_warning or ""):
        assert "\n" not in step


def test_a_zone_id_never_reaches_the_summary() -> None:
    paste = "denied: client with IP '2603:1030::5%&lt;!here&gt;' is not allowed access."
    d = diagnose(parse_pull_failure(paste))
    assert d.failure.ips == (ipaddress.IPv6Address("2603:1030::5"),)
    assert "2603:1030::5" in d.summary
    assert "here" not in d.summary
    assert "%" not in d.summary


def test_a_percent_encoded_scope_cannot_inject_a_repository() -> None:
    paste = _scope("web%60%0A%3Chttp%3A%2F%2Fevil%7Cok%3E", "contosoprod.azurecr.io")
    d = diagnose(parse_pull_failure(paste), registries=[REGISTRY])
    assert d.failure.repository is None
    # The pasted line is shown as it was, in a closed code span; nothing else repeats it.
    *texts, evidence = _rendered(d)
    assert not any("evil" in text for text in texts)
    assert evidence.count("`") == 2

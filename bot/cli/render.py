"""The terminal's rendering of a diagnosis (the Block Kit one is `bot.views.diagnosis`)."""

from __future__ import annotations

from services.diagnosis.verdicts import Diagnosis


def format_diagnosis(d: Diagnosis) -> str:
    """A readable multi-line diagnosis for a terminal."""
    f, facts = d.failure, d.facts
    lines = [f"Verdict: {d.verdict.value}", f"  {d.summary}"]

    seen: list[str] = [f"kind {f.kind.value}", f"client {f.client.value}"]
    if f.cause:
        seen.append(f"cause {f.cause.value}")
    if f.hint:
        seen.append(f"hint {f.hint.value}")
    if f.ips:
        seen.append("IP " + ", ".join(str(ip) for ip in f.ips))
    elif f.ip_redacted:
        seen.append("IP redacted")
    if f.registry:
        seen.append(f"registry {f.registry}")
    if f.endpoint:
        seen.append(f"endpoint {f.endpoint}")
    if f.custom_domain:
        seen.append(f"via {f.custom_domain}")
    if f.image:
        seen.append(f"image {f.image}")
    if f.command:
        seen.append(f"command `{f.command}`")
    if f.resource is not None:
        seen.append(f"resource {f.resource.kind.value} {f.resource.name or '(unnamed)'}")
    lines.append("Paste:   " + "; ".join(seen))
    if f.read is not None and f.read.partial:
        read = f.read.describe().removeprefix("read ")
        lines.append(f"Read:    {read} (a long paste keeps its end, where errors are)")

    known: list[str] = []
    if facts.registry_name:
        assumed = " (assumed: the only registry given)" if facts.registry_assumed else ""
        known.append(
            f"registry {facts.registry_name}{assumed}: public access "
            f"{facts.public_network_access}, default action {facts.default_action}, "
            f"rules {facts.quota_used}/{facts.quota_limit}"
        )
    if facts.matched_rule:
        known.append(f"matching rule {facts.matched_rule}")
    if facts.gateway_label:
        known.append(f"known egress {facts.gateway_label} ({facts.gateway_network})")
    if facts.service_tags:
        known.append("service tags " + ", ".join(facts.service_tags))
    if facts.azure_egress:
        known.append(f"Azure egress {facts.azure_egress.value}")
    if facts.other_ips:
        known.append("other IPs " + ", ".join(str(ip) for ip in facts.other_ips))
    if known:
        lines.append("Facts:   " + "; ".join(known))

    if d.grant_eligible:
        lines.append(f"Grant:   a temporary allow rule for {d.grant_ip} can be requested")
        if d.grant_warning:
            lines.append(f"Warning: {d.grant_warning}")
    else:
        reason = (facts.grant_refusal or "not applicable").rstrip(".")
        lines.append(f"Grant:   not offered ({reason})")
    lines.append("What to do:")
    lines.extend(f"  - {step}" for step in d.steps)
    return "\n".join(lines)

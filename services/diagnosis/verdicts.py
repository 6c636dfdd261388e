"""The verdict engine: from a parsed pull failure and what is known about the registries, say why
the pull was refused and what a developer should do about it.

Checks run in this order, the first that applies wins:
not a firewall error → unrecognized → IP redacted → (no IP: registry checks, then no IP in error)
→ IPv6 → private/reserved → registry unknown → public access disabled → firewall open
→ already allowed → known gateway → Azure service IP → rule quota full → IP not allowed.

Several IPs in one paste: the subject is the first IP the registry does not already allow (the
first IP when no registry is known, or when all are allowed); the rest are listed in the facts.
A paste that names no registry is checked against the only snapshot when exactly one is given.

An Azure-owned address gets a temporary rule when the client's egress stays with its resource
(Container Apps, Container Instances, App Service, an AKS cluster), with a warning for the
approver that the address is Azure's and may be shared; never when it changes with every run
(hosted CI runners, ACR Tasks agents), when nothing says which service pulled, or when the
registry's policy refuses Azure-owned addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.diagnosis import _advice
from services.diagnosis.known_ips import KnownIp, KnownIps
from services.diagnosis.service_tags import ServiceTag, ServiceTagIndex
from services.domain.failure import (
    Client,
    FailureKind,
    FirewallHint,
    NotFirewallCause,
    PasteIp,
    PullFailure,
)
from services.domain.ips import IPAddress, non_public_reason
from services.domain.registry import IpRule, RegistryState

#: No propagation time is documented ("a few minutes"); this is when we tell people to retry.
RETRY_AFTER_MINUTES = 5


class Verdict(StrEnum):
    IP_NOT_ALLOWED = "ip_not_allowed"
    KNOWN_GATEWAY_NOT_ALLOWED = "known_gateway_not_allowed"
    AZURE_SERVICE_IP = "azure_service_ip"
    ALREADY_ALLOWED = "already_allowed"
    FIREWALL_OPEN = "firewall_open"
    PUBLIC_ACCESS_DISABLED = "public_access_disabled"
    PRIVATE_IP = "private_ip"
    IPV6_NOT_SUPPORTED = "ipv6_not_supported"
    IP_REDACTED = "ip_redacted"
    NO_IP_IN_ERROR = "no_ip_in_error"
    NOT_A_FIREWALL_ERROR = "not_a_firewall_error"
    REGISTRY_UNKNOWN = "registry_unknown"
    RULE_QUOTA_FULL = "rule_quota_full"
    UNRECOGNIZED = "unrecognized"


class AzureEgress(StrEnum):
    """How long the Azure-owned address a pull came from stays with the client."""

    #: Container Apps, Container Instances, App Service, an AKS cluster: for the resource's life.
    STAYS_WITH_RESOURCE = "stays_with_resource"
    #: Hosted CI runners, ACR Tasks agents, `az acr import`: a new address on every run.
    CHANGES_PER_RUN = "changes_per_run"
    #: Only generic Azure space, and the paste does not say which service pulled.
    UNKNOWN = "unknown"


class DiagnosisFacts(BaseModel):
    """What the verdict rests on; fields that do not apply stay None or empty.

    Built in one place (`_Diagnoser._make`) with keyword arguments: `extra="forbid"` makes the
    pydantic mypy plugin refuse a misspelt fact at type-checking time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The address the verdict is about.
    ip: PasteIp | None = None
    #: Other addresses in the paste, in order.
    other_ips: tuple[PasteIp, ...] = ()
    #: Addresses of the paste the registry's rules already allow.
    allowed_ips: tuple[PasteIp, ...] = ()
    registry_name: str | None = None
    login_server: str | None = None
    #: The paste named no registry; the only snapshot given was taken to be the one.
    registry_assumed: bool = False
    #: Login servers the bot has snapshots of (for registry_unknown and ambiguity).
    known_registries: tuple[str, ...] = ()
    sku: str | None = None
    public_network_access: str | None = None
    default_action: str | None = None
    network_rule_bypass_options: str | None = None
    network_rule_bypass_allowed_for_tasks: bool | None = None
    data_endpoint_enabled: bool | None = None
    data_endpoint_host_names: tuple[str, ...] = ()
    private_endpoint_count: int | None = None
    #: The rule, in the registry's own spelling, that covers `ip`.
    matched_rule: str | None = None
    gateway_label: str | None = None
    gateway_network: str | None = None
    #: Service tags covering `ip`, most specific first.
    service_tags: tuple[str, ...] = ()
    service_tag_region: str | None = None
    service_tag_service: str | None = None
    #: For an Azure-owned `ip`: whether it stays with the client's resource.
    azure_egress: AzureEgress | None = None
    #: The registry's policy refuses rules for Azure-owned addresses.
    azure_ips_refused_by_policy: bool = False
    quota_used: int | None = None
    quota_limit: int | None = None
    retry_after_minutes: int | None = None
    #: For `not_a_firewall_error`: what the error is instead.
    cause: NotFirewallCause | None = None
    #: For a refusal without an IP: what makes it look like the firewall.
    hint: FirewallHint | None = None
    #: Why a temporary grant is not offered, when it is not.
    grant_refusal: str | None = None


class Diagnosis(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    failure: PullFailure
    facts: DiagnosisFacts
    #: A temporary allow rule may be offered for `grant_ip`.
    grant_eligible: bool
    grant_ip: ipaddress.IPv4Address | None = None
    #: What the approver must know before allowing `grant_ip` (an Azure-owned, shared address).
    grant_warning: str | None = None
    summary: str
    #: What to do, one step each, in order.
    steps: tuple[str, ...]


def diagnose(
    failure: PullFailure,
    *,
    registries: Sequence[RegistryState] = (),
    known_ips: KnownIps | Mapping[str, str] | None = None,
    service_tags: ServiceTagIndex | None = None,
    refuse_azure_ips: frozenset[str] = frozenset(),
    tags_problem: str | None = None,
) -> Diagnosis:
    """Explain a refused pull.

    `registries` are the snapshots the bot knows (none: judge from the paste alone); `known_ips`
    the organisation's egress networks; `service_tags` Microsoft's Azure address index;
    `refuse_azure_ips` the login servers whose policy refuses rules for Azure-owned addresses.
    Fail closed (invariant 13): without an index, or with one that `tags_problem` says is not to
    be trusted (too old), no temporary rule is offered for a public address the bot cannot tell
    apart from Azure's, and the diagnosis says why.
    Pure: no I/O. Raises KnownIpsError if `known_ips` is a mapping with an invalid CIDR.
    """
    if service_tags is None and tags_problem is None:
        tags_problem = "the bot has no copy of Azure's service tags"
    if isinstance(known_ips, KnownIps):
        known = known_ips
    else:
        known = KnownIps(known_ips) if known_ips else _NO_KNOWN_IPS
    refused = frozenset(s.strip().lower() for s in refuse_azure_ips)
    return _Diagnoser(
        failure, registries, known, service_tags, refused, tags_problem=tags_problem
    ).run()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Found:
    """What a verdict found beyond the registry snapshot and the paste."""

    matched_rule: str | None = None
    gateway: KnownIp | None = None
    tags: tuple[ServiceTag, ...] = ()
    azure_egress: AzureEgress | None = None
    azure_ips_refused_by_policy: bool = False
    retry_after_minutes: int | None = None
    #: A login server to report instead of the resolved registry's (registry_unknown).
    login_server: str | None = None


_NO_KNOWN_IPS = KnownIps()

#: Which Azure services keep a pulling client's address, by service tag `systemService`.
_STAYING_SERVICES = {
    "azurecontainerapps": Client.CONTAINER_APPS,
    "azurecontainerinstance": Client.CONTAINER_INSTANCES,
    "appservice": Client.APP_SERVICE,
    "azureappservice": Client.APP_SERVICE,
}
_PER_RUN_CLIENTS = frozenset({Client.ACR_TASKS, Client.ACR_IMPORT, Client.CI})
_STAYING_CLIENTS = frozenset(
    {Client.CONTAINER_APPS, Client.CONTAINER_INSTANCES, Client.APP_SERVICE, Client.KUBELET,
     Client.CONTAINERD}
)  # fmt: skip


class _Diagnoser:
    def __init__(
        self,
        failure: PullFailure,
        registries: Sequence[RegistryState],
        known: KnownIps,
        tags: ServiceTagIndex | None,
        refuse_azure_ips: frozenset[str],
        *,
        tags_problem: str | None = None,
    ) -> None:
        self.failure = failure
        self.registries = tuple(registries)
        self.known = known
        self.tags = tags
        self.tags_problem = tags_problem
        self.refuse_azure_ips = refuse_azure_ips
        self.registry, self.assumed, self.unknown_name = self._resolve_registry()
        # The covering rule of each pasted IP, looked up once.
        self.covering: dict[IPAddress, IpRule | None] = (
            {ip: self.registry.rule_covering(ip) for ip in failure.ips}
            if self.registry is not None
            else {}
        )

    # -- resolution -------------------------------------------------------------------------

    def _resolve_registry(self) -> tuple[RegistryState | None, bool, str | None]:
        """(registry, assumed, name the paste gave that matches no snapshot)."""
        if not self.registries:
            return None, False, None
        named = self.failure.registry or self.failure.custom_domain
        if named:
            key = named.strip().lower().rstrip(".")
            for reg in self.registries:
                hosts = {reg.login_server, reg.name.lower()}
                hosts.update(h.lower() for h in reg.data_endpoint_host_names)
                if key in hosts:
                    return reg, False, None
            return None, False, named
        if len(self.registries) == 1:
            return self.registries[0], True, None
        return None, False, None

    def _pick_subject(self) -> IPAddress | None:
        ips = self.failure.ips
        if not ips:
            return None
        if self.registry is not None:
            for ip in ips:
                if self.covering[ip] is None:
                    return ip
        return ips[0]

    def _registry_name(self) -> str:
        if self.registry is not None:
            return self.registry.name
        if self.failure.registry:
            return self.failure.registry.split(".", 1)[0]
        return "<registry>"

    def _login_server(self) -> str:
        if self.registry is not None:
            return self.registry.login_server
        return self.failure.registry or "<registry>.azurecr.io"

    def _subject(self) -> _advice.Subject:
        f = self.failure
        return _advice.Subject(
            name=self._registry_name(),
            login=self._login_server(),
            repository=f.repository,
            reference=f.reference,
            custom_domain=f.custom_domain,
            endpoint=f.endpoint,
            remote_ip=f.remote_ip,
            client=f.client,
            private_endpoints=bool(self.registry and self.registry.private_endpoint_count),
        )

    # -- building a diagnosis ---------------------------------------------------------------

    def _make(
        self,
        verdict: Verdict,
        subject: IPAddress | None,
        summary: str,
        steps: list[str],
        *,
        found: _Found | None = None,
        grant_ip: ipaddress.IPv4Address | None = None,
        refusal: str | None = None,
        warning: str | None = None,
    ) -> Diagnosis:
        found = found or _Found()
        f = self.failure
        reg = self.registry
        if f.custom_domain and verdict not in _NOT_NETWORK_VERDICTS:
            steps.append(_custom_domain_note(f.custom_domain))
        if grant_ip is None and refusal:
            steps.append(f"The bot will not offer a temporary rule: {refusal}")
        tags = found.tags
        facts = DiagnosisFacts(
            ip=subject,
            other_ips=tuple(ip for ip in f.ips if ip != subject),
            allowed_ips=tuple(ip for ip in f.ips if self.covering.get(ip)),
            registry_name=reg.name if reg else None,
            login_server=found.login_server or (reg.login_server if reg else f.registry),
            registry_assumed=self.assumed,
            known_registries=tuple(r.login_server for r in self.registries),
            sku=reg.sku if reg else None,
            public_network_access=reg.public_network_access if reg else None,
            default_action=reg.default_action if reg else None,
            network_rule_bypass_options=reg.network_rule_bypass_options if reg else None,
            network_rule_bypass_allowed_for_tasks=(
                reg.network_rule_bypass_allowed_for_tasks if reg else None
            ),
            data_endpoint_enabled=reg.data_endpoint_enabled if reg else None,
            data_endpoint_host_names=reg.data_endpoint_host_names if reg else (),
            private_endpoint_count=reg.private_endpoint_count if reg else None,
            matched_rule=found.matched_rule,
            gateway_label=found.gateway.label if found.gateway else None,
            gateway_network=str(found.gateway.network) if found.gateway else None,
            service_tags=tuple(t.name for t in tags),
            service_tag_region=next((t.region for t in tags if t.region), None),
            service_tag_service=next((t.system_service for t in tags if t.system_service), None),
            azure_egress=found.azure_egress,
            azure_ips_refused_by_policy=found.azure_ips_refused_by_policy,
            quota_used=reg.rules_used if reg else None,
            quota_limit=reg.rules_limit if reg else None,
            retry_after_minutes=found.retry_after_minutes,
            cause=f.cause if verdict is Verdict.NOT_A_FIREWALL_ERROR else None,
            hint=f.hint if f.kind is FailureKind.FIREWALL_SUSPECTED else None,
            grant_refusal=None if grant_ip else (refusal or _DEFAULT_REFUSALS.get(verdict)),
        )
        return Diagnosis(
            verdict=verdict,
            failure=f,
            facts=facts,
            grant_eligible=grant_ip is not None,
            grant_ip=grant_ip,
            grant_warning=warning if grant_ip is not None else None,
            summary=summary,
            steps=tuple(step for step in steps if step),
        )

    # -- the decision -----------------------------------------------------------------------

    def run(self) -> Diagnosis:
        f = self.failure
        if f.kind is FailureKind.NOT_FIREWALL:
            return self._not_firewall()
        if f.kind is FailureKind.UNRECOGNIZED:
            return self._unrecognized()
        if not f.ips and f.ip_redacted:
            return self._redacted()
        if not f.ips:
            return self._registry_checks(None) or self._no_ip()

        subject = self._pick_subject()
        assert subject is not None  # f.ips is not empty
        if isinstance(subject, ipaddress.IPv6Address):
            return self._ipv6(subject)
        if non_public_reason(subject) is not None:
            return self._private(subject)
        found = self._registry_checks(subject)
        if found is not None:
            return found
        reg = self.registry
        rule = self.covering.get(subject)
        if reg is not None and rule is not None:
            return self._already_allowed(subject, reg, rule.value)
        gateway = self.known.lookup(subject)
        if gateway is not None:
            return self._known_gateway(subject, gateway)
        matches = self.tags.matches(subject) if self.tags is not None else ()
        if matches:
            return self._azure(subject, matches)
        if reg is not None and reg.rules_used >= reg.rules_limit:
            return self._quota_full(subject, reg)
        return self._ip_not_allowed(subject)

    def _registry_checks(self, subject: IPAddress | None) -> Diagnosis | None:
        if self.unknown_name is not None:
            return self._registry_unknown(subject, self.unknown_name)
        reg = self.registry
        if reg is None:
            return None
        if reg.public_access_disabled:
            return self._public_access_disabled(subject, reg)
        if reg.firewall_open:
            return self._firewall_open(subject, reg)
        return None

    def _grant_blocker(self) -> str | None:
        """Why no rule can be written for this pull even though its address could have one."""
        reg = self.registry
        if reg is not None and not reg.is_premium:
            return f"{reg.name} is {reg.sku or 'not Premium'}; IP rules need the Premium SKU."
        if reg is None and self.registries:
            return (
                "the paste does not say which registry it was; paste the error with the image "
                "name, or name the registry."
            )
        if reg is not None and reg.rules_used >= reg.rules_limit:
            return (
                f"the registry's IP rule quota is full, {reg.rules_used} of {reg.rules_limit} used."
            )
        return None

    # -- verdicts ---------------------------------------------------------------------------

    def _not_firewall(self) -> Diagnosis:
        if self.failure.other_registry:
            summary, steps = _advice.other_registry(self.failure.other_registry, self.failure.cause)
        else:
            summary, steps = _advice.not_firewall(self.failure.cause, self._subject())
        return self._make(Verdict.NOT_A_FIREWALL_ERROR, None, summary, steps)

    def _unrecognized(self) -> Diagnosis:
        return self._make(
            Verdict.UNRECOGNIZED,
            None,
            "I could not find a registry refusal in this text.",
            [
                "Paste the full error as printed, including the line with `denied` or the HTTP "
                "status, the image name (`<registry>.azurecr.io/<repo>:<tag>`) and, if present, "
                "`client with IP '…' is not allowed access`.",
                "For Kubernetes, paste the pod's Events (`kubectl describe pod <pod>`); for "
                "Container Apps or Container Instances, the deployment error JSON.",
            ],
        )

    def _redacted(self) -> Diagnosis:
        return self._make(
            Verdict.IP_REDACTED,
            None,
            "The registry firewall refused the pull, but the IP address in the paste was redacted.",
            [
                "Paste the original error with the IP left in: it is the public address the "
                "registry saw, which is what a rule has to allow.",
                "Or give the public IP of the machine that pulled (its outbound address, not its "
                "private one).",
            ],
        )

    def _no_ip(self) -> Diagnosis:
        client = self.failure.client
        steps: list[str] = _advice.suspected(self.failure.hint, self._subject())
        if client is Client.CONTAINER_APPS:
            steps += [
                "Container Apps does not always show the refused IP. Find the environment's "
                "outbound addresses: `az containerapp show -n <app> -g <rg> --query "
                "properties.outboundIpAddresses`, and paste the error with the one it used to "
                "ask for a temporary rule.",
                "Those addresses belong to Azure and can change; for lasting access give the "
                "environment a fixed egress (workload profiles with a NAT gateway) and allow "
                "that one IP permanently.",
            ]
        elif client is Client.CONTAINER_INSTANCES:
            steps += [
                "Container Instances hides the refused IP and its outbound IP is unknown until "
                "the group exists, so a rule cannot be added beforehand.",
                "Pull with a managed identity and let trusted Azure services through "
                "(`networkRuleBypassOptions: AzureServices`), or deploy the group into a VNet "
                "whose NAT gateway has a permanent rule.",
            ]
        elif client in (Client.KUBELET, Client.CONTAINERD):
            steps += [
                "The address that counts is the cluster's public egress: for AKS the outbound "
                "load balancer's or NAT gateway's public IP (`az aks show -n <cluster> -g <rg> "
                "--query networkProfile`). That egress is fixed, so it should get a permanent "
                "rule from the platform team. Or attach the registry privately (private "
                "endpoint in the cluster's VNet).",
            ]
        elif self.failure.hint is not FirewallHint.SENTENCE_CUT:
            steps += [
                "Run the same pull with `docker pull` from that machine, which prints the "
                "refused IP, and paste that error; or paste the machine's public egress IP "
                "(its NAT gateway, proxy or service outbound address), not its private one.",
            ]
        steps.append(self._bypass_note())
        return self._make(
            Verdict.NO_IP_IN_ERROR,
            None,
            "Most likely refused by the registry firewall, but the error does not say which IP.",
            steps,
        )

    def _ipv6(self, ip: IPAddress) -> Diagnosis:
        return self._make(
            Verdict.IPV6_NOT_SUPPORTED,
            ip,
            f"The pull came from the IPv6 address {ip}; registry IP rules are IPv4 only.",
            [
                "No rule can allow an IPv6 client. Make the client reach the registry over IPv4 "
                "(disable IPv6 egress or prefer IPv4 for `*.azurecr.io`), then pull again and "
                "paste the IPv4 address it reports.",
            ],
            refusal="IP rules only take IPv4 addresses.",
        )

    def _private(self, ip: IPAddress) -> Diagnosis:
        name, login = self._registry_name(), self._login_server()
        return self._make(
            Verdict.PRIVATE_IP,
            ip,
            f"{ip} is a private (non-public) address; the registry's IP rules only see public "
            "addresses.",
            [
                "A private address never reaches the public endpoint, so a rule for it does "
                "nothing. Either the client goes through a private endpoint or VNet path, or "
                "the error was produced behind a NAT.",
                f"Check DNS: `nslookup {login}` from the client should resolve to "
                f"`{name}.privatelink.azurecr.io` and a private IP if a private endpoint is "
                "meant to be used; fix the private DNS zone link if not.",
                "Otherwise find the public egress IP of that network (NAT gateway, firewall, "
                "proxy) and paste that.",
            ],
            refusal="only public IPv4 addresses can be allowed.",
        )

    def _registry_unknown(self, ip: IPAddress | None, name: str) -> Diagnosis:
        known = ", ".join(r.login_server for r in self.registries)
        return self._make(
            Verdict.REGISTRY_UNKNOWN,
            ip,
            f"{name} is not a registry this bot manages.",
            [
                f"The registries I know are: {known}.",
                "Check the image name in your deployment; if this is a custom domain of one of "
                "them, ask the bot's owner to add it to that registry's configuration. Otherwise "
                "ask that registry's owner for access.",
            ],
            found=_Found(login_server=name),
            refusal=f"{name} is not managed by this bot.",
        )

    def _public_access_disabled(self, ip: IPAddress | None, reg: RegistryState) -> Diagnosis:
        pe = (
            f" It has {reg.private_endpoint_count} private endpoint connection(s)."
            if reg.private_endpoint_count
            else ""
        )
        return self._make(
            Verdict.PUBLIC_ACCESS_DISABLED,
            ip,
            f"{reg.name} has public network access disabled, so no IP rule can let a client in.",
            [
                f"Rules do nothing while public access is disabled.{pe}",
                "Pull from a network linked to the registry's private endpoint (and check that "
                f"`{reg.login_server}` resolves to a private IP there), or ask the registry "
                "owner whether public access with selected IPs is intended.",
            ],
            refusal="public network access is disabled on this registry.",
        )

    def _firewall_open(self, ip: IPAddress | None, reg: RegistryState) -> Diagnosis:
        why = (
            f"its SKU is {reg.sku}, which has no firewall"
            if reg.sku and not reg.is_premium
            else "its firewall's default action is Allow"
        )
        return self._make(
            Verdict.FIREWALL_OPEN,
            ip,
            f"{reg.name} accepts every public IP ({why}); the firewall did not refuse this pull.",
            [
                "If the error still says `not allowed access`, the registry may have changed "
                "since the snapshot: retry, and ask again so the bot re-reads it.",
                "Otherwise look at authentication and permissions: `az acr login`, the AcrPull "
                "role of the identity, and the image name and tag.",
            ],
            refusal="the firewall is open, a rule would change nothing.",
        )

    def _already_allowed(self, ip: IPAddress, reg: RegistryState, rule: str) -> Diagnosis:
        steps = [
            f"The rule `{rule}` on {reg.name} already covers {ip}. A new or changed rule takes a "
            f"few minutes to take effect: retry in {RETRY_AFTER_MINUTES} minutes.",
            "If it still fails, check the address the registry really sees (a proxy, NAT or VPN "
            "may change it; the IP in the newest error is the one that counts) and that the "
            f"registry in the error is {reg.login_server}.",
        ]
        if reg.data_endpoint_enabled:
            hosts = (
                ", ".join(reg.data_endpoint_host_names) or "`<registry>.<region>.data.azurecr.io`"
            )
            steps.append(
                f"Dedicated data endpoints are on: layers come from {hosts}, which the client "
                "must also reach (proxy and firewall allow-lists)."
            )
        return self._make(
            Verdict.ALREADY_ALLOWED,
            ip,
            f"{ip} is already allowed on {reg.name} by the rule {rule}.",
            steps,
            found=_Found(matched_rule=rule, retry_after_minutes=RETRY_AFTER_MINUTES),
            refusal="the address is already allowed.",
        )

    def _known_gateway(self, ip: IPAddress, gateway: KnownIp) -> Diagnosis:
        where = f" on {self.registry.name}" if self.registry is not None else ""
        return self._make(
            Verdict.KNOWN_GATEWAY_NOT_ALLOWED,
            ip,
            f"{ip} is {gateway.label}, a known egress of the organisation, and is not "
            f"allowed{where}.",
            [
                f"{gateway.label} ({gateway.network}) is a fixed company address: it should have "
                "a permanent rule, added by the platform team through infrastructure-as-code, "
                "not a temporary one that expires.",
                "Ask the platform team to add it to the registry's network rule set.",
            ],
            found=_Found(gateway=gateway),
            refusal="known company egress addresses get a permanent rule, not a temporary one.",
        )

    def _azure_client(self, tags: tuple[ServiceTag, ...]) -> tuple[AzureEgress, Client | None]:
        """How long the address stays with the client, and which client that is."""
        client = self.failure.client
        services = {t.system_service.lower() for t in tags if t.system_service}
        if client in (Client.ACR_TASKS, Client.ACR_IMPORT) or "azurecontainerregistry" in services:
            return AzureEgress.CHANGES_PER_RUN, (
                client if client is Client.ACR_IMPORT else Client.ACR_TASKS
            )
        if client in _STAYING_CLIENTS and client not in (Client.KUBELET, Client.CONTAINERD):
            return AzureEgress.STAYS_WITH_RESOURCE, client
        staying = next((_STAYING_SERVICES[s] for s in services if s in _STAYING_SERVICES), None)
        if staying is not None and client in (Client.UNKNOWN, Client.DOCKER, Client.CI):
            return AzureEgress.STAYS_WITH_RESOURCE, staying
        if client in _PER_RUN_CLIENTS or self.failure.ci_log:
            return AzureEgress.CHANGES_PER_RUN, Client.CI
        if client in (Client.KUBELET, Client.CONTAINERD):
            return AzureEgress.STAYS_WITH_RESOURCE, Client.KUBELET
        return AzureEgress.UNKNOWN, None

    def _azure(self, ip: IPAddress, matches: tuple[ServiceTag, ...]) -> Diagnosis:
        best = matches[0]
        service = next((t.system_service for t in matches if t.system_service), "")
        egress, client = self._azure_client(matches)
        login = self._login_server()
        policy = login.lower() in self.refuse_azure_ips
        steps: list[str] = []
        warning: str | None = None
        grant_ip: ipaddress.IPv4Address | None = None
        if policy:
            refusal: str | None = (
                f"the policy of {login} refuses rules for Azure-owned addresses; it needs the "
                "lasting fix below."
            )
        elif egress is AzureEgress.CHANGES_PER_RUN:
            refusal = _PER_RUN_REFUSALS.get(client, _PER_RUN_REFUSALS[Client.CI])
        elif egress is AzureEgress.UNKNOWN:
            refusal = (
                "the paste does not say which Azure service pulled, and an Azure address with no "
                "service named may be a hosted runner's or an ACR Tasks agent's, which changes "
                "every run. Paste the error with its deployment or pipeline context."
            )
        else:
            refusal = self._grant_blocker()
        if refusal is None and isinstance(ip, ipaddress.IPv4Address) and client is not None:
            grant_ip = ip
            warning = _shared_address_warning(ip, best.name, client, self._registry_name())
            steps.append(
                f"Request a temporary allow rule for {ip}: it unblocks this deployment now. The "
                "approver is told the address is Azure's and may be shared; the bot removes the "
                f"rule when it expires. Retry about {RETRY_AFTER_MINUTES} minutes after it is "
                "granted."
            )
        else:
            steps.append(
                f"{ip} belongs to Azure ({best.name}). Azure addresses are shared and change, so "
                "a rule for it would not last and could let other tenants in."
            )
        steps += self._azure_advice(client, service)
        steps.append(self._bypass_note())
        if grant_ip is not None:
            summary = (
                f"{ip} is an Azure-owned address ({best.name}) that the pull came from; a "
                "temporary rule can unblock it now, a NAT gateway fixes it for good."
            )
        else:
            summary = (
                f"{ip} is an Azure-owned address ({best.name}); it needs a lasting fix, not an "
                "IP rule."
            )
        return self._make(
            Verdict.AZURE_SERVICE_IP,
            ip,
            summary,
            steps,
            found=_Found(tags=matches, azure_egress=egress, azure_ips_refused_by_policy=policy),
            grant_ip=grant_ip,
            refusal=refusal,
            warning=warning,
        )

    def _azure_advice(self, client: Client | None, service: str) -> list[str]:
        svc = service.lower()
        if client is Client.CONTAINER_APPS or "containerapps" in svc:
            return [
                "Lasting fix for Container Apps: give the environment a fixed egress (workload "
                "profiles environment in a VNet with a NAT gateway) and allow the NAT gateway's "
                "IP permanently.",
            ]
        if client is Client.CONTAINER_INSTANCES or "containerinstance" in svc:
            return [
                "Lasting fix for Container Instances: pull with a managed identity and allow "
                "trusted Azure services (`networkRuleBypassOptions: AzureServices`), or deploy "
                "into a VNet whose NAT gateway has a permanent rule.",
            ]
        if client is Client.APP_SERVICE or "appservice" in svc:
            return [
                "Lasting fix for App Service: trusted services do not cover App Service. Use "
                "VNet integration with a NAT gateway (a fixed egress with a permanent rule) or a "
                "private endpoint.",
            ]
        if client is Client.ACR_IMPORT:
            return [
                "`az acr import` runs on ACR's own shared addresses: allow trusted Azure services "
                "on the source registry (`az acr update --name <source> --allow-trusted-services "
                "true`) instead of an IP rule.",
            ]
        if client is Client.ACR_TASKS or "containerregistry" in svc:
            return [
                "ACR Tasks: set the registry property `networkRuleBypassAllowedForTasks` to true "
                "(the trusted-services switch does not cover task agents), or run the task on a "
                "dedicated agent pool in a VNet.",
            ]
        if client is Client.KUBELET:
            return [
                "Lasting fix for AKS: the cluster's outbound address belongs to its load "
                "balancer or NAT gateway and stays for the cluster's life; ask the platform team "
                "for a permanent rule for it (`az aks show -n <cluster> -g <rg> --query "
                "networkProfile.loadBalancerProfile`), or attach the registry privately.",
            ]
        if client is Client.CI:
            return [
                "Hosted CI runners get a new Azure address on every run. Use a self-hosted "
                "runner behind a NAT gateway with a permanent rule, or build in the registry "
                "with `az acr build`.",
            ]
        return [
            "If this is a hosted CI runner or ACR Tasks agent: use a self-hosted runner behind "
            "a NAT gateway, `az acr build`, or `networkRuleBypassAllowedForTasks` for tasks.",
            "If it is an Azure service (Container Apps, Container Instances, App Service): give "
            "it a fixed egress through a NAT gateway with a permanent rule, or use a managed "
            "identity with trusted services where the service supports it.",
        ]

    def _bypass_note(self) -> str:
        reg = self.registry
        if reg is None:
            return ""
        bypass = reg.network_rule_bypass_options or "not set"
        tasks = reg.network_rule_bypass_allowed_for_tasks
        tasks_text = "on" if tasks else ("off" if tasks is not None else "not set")
        return (
            f"On {reg.name} the trusted-services bypass is {bypass} and the ACR Tasks bypass "
            f"is {tasks_text}."
        )

    def _quota_full(self, ip: IPAddress, reg: RegistryState) -> Diagnosis:
        used, limit = reg.rules_used, reg.rules_limit
        return self._make(
            Verdict.RULE_QUOTA_FULL,
            ip,
            f"{ip} is not allowed on {reg.name}, and the registry has no room for another rule "
            f"({used} of {limit} used).",
            [
                f"{reg.name} has used {used} of its {limit} IP rules. Ask the registry owner to "
                "remove stale rules, or replace many client addresses with one NAT gateway and "
                "a single permanent rule.",
            ],
            refusal=f"the registry's IP rule quota is full, {used} of {limit} used.",
        )

    def _ip_not_allowed(self, ip: IPAddress) -> Diagnosis:
        reg = self.registry
        where = f"{reg.name}'s firewall" if reg is not None else "the registry firewall"
        steps = [
            f"Request a temporary allow rule for {ip}: the bot can add it once an approver "
            "agrees, and removes it when it expires. A new rule takes a few minutes to take "
            f"effect; retry about {RETRY_AFTER_MINUTES} minutes after it is granted.",
            "For lasting access from a fixed network, send its traffic through a NAT gateway "
            "and ask the platform team for a permanent rule for the gateway's IP.",
        ]
        assert isinstance(ip, ipaddress.IPv4Address)  # IPv6 was handled before
        refusal = self._grant_blocker()
        if refusal is None and self.tags_problem is not None:
            # Fail closed: an Azure address is shared with other tenants and may change owner.
            refusal = (
                f"the bot cannot tell whether {ip} is one of Azure's shared addresses: "
                f"{self.tags_problem}. Ask again once they are refreshed (the bot's owner can run "
                "`python -m bot refresh-service-tags`)."
            )
        return self._make(
            Verdict.IP_NOT_ALLOWED,
            ip,
            f"{ip} is not allowed by {where}.",
            steps,
            grant_ip=None if refusal else ip,
            refusal=refusal,
        )


_DEFAULT_REFUSALS = {
    Verdict.NOT_A_FIREWALL_ERROR: "the firewall did not refuse this pull.",
    Verdict.UNRECOGNIZED: "no registry refusal was found in the paste.",
    Verdict.IP_REDACTED: "the refused IP was redacted.",
    Verdict.NO_IP_IN_ERROR: "the error does not name the refused IP.",
}

_NOT_NETWORK_VERDICTS = frozenset(
    {Verdict.NOT_A_FIREWALL_ERROR, Verdict.UNRECOGNIZED, Verdict.REGISTRY_UNKNOWN}
)

_PER_RUN_REFUSALS: dict[Client | None, str] = {
    Client.CI: (
        "hosted CI runners get a new Azure address on every run: a rule would not help the next "
        "run, and it would stay open to whoever gets the address next."
    ),
    Client.ACR_TASKS: (
        "ACR Tasks agents run on shared Azure addresses that change with every run; the tasks "
        "bypass is the fix, not an IP rule."
    ),
    Client.ACR_IMPORT: (
        "`az acr import` runs on ACR's shared addresses, which change; trusted-services access "
        "is the fix, not an IP rule."
    ),
}

_RESOURCE_WARNINGS = {
    Client.CONTAINER_APPS: (
        "Container Apps environments without a NAT gateway send traffic from addresses Azure "
        "assigns, which can change and may be shared with other workloads in the region"
    ),
    Client.CONTAINER_INSTANCES: (
        "a container group's outbound address is assigned by Azure when the group starts, "
        "changes when it is recreated and may be shared with other groups in the region"
    ),
    Client.APP_SERVICE: (
        "App Service apps share their outbound addresses with every app on the same scale "
        "unit, including other customers' apps"
    ),
    Client.KUBELET: (
        "an AKS cluster's outbound address belongs to its load balancer or NAT gateway; it "
        "stays for the cluster's life, so it deserves a permanent rule rather than repeated "
        "temporary ones"
    ),
}


def _shared_address_warning(
    ip: ipaddress.IPv4Address, tag: str, client: Client, registry: str
) -> str:
    resource = _RESOURCE_WARNINGS.get(client, "the address is Azure's, not the organisation's")
    return (
        f"{ip} is an Azure-owned address ({tag}), not one of ours: {resource}. While the rule "
        f"exists, anything else using this address reaches {registry}'s endpoint too (it still "
        "needs credentials to pull). The lasting fix is a NAT gateway with a permanent rule."
    )


def _custom_domain_note(domain: str) -> str:
    return (
        f"You pulled through the custom domain {domain}. The gateway in front does not change "
        "which address the registry checks (it ignores X-Forwarded-For): the client's public IP, "
        "or the gateway's outbound IP depending on how the gateway connects, must be allowed."
    )

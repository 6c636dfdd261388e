"""The verdict engine: from a parsed pull failure and what is known about the registries, say why
the pull was refused and what a developer should do about it.

Checks run in this order, the first that applies wins:
not a firewall error → unrecognized → IP redacted → (no IP: registry checks, then no IP in error)
→ IPv6 → private/reserved → registry unknown → public access disabled → firewall open
→ already allowed → known gateway → Azure service IP → rule quota full → IP not allowed.

Several IPs in one paste: the subject is the first IP the registry does not already allow (the
first IP when no registry is known, or when all are allowed); the rest are listed in the facts.
A paste that names no registry is checked against the only snapshot when exactly one is given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.diagnosis.known_ips import KnownIp, KnownIps
from services.diagnosis.service_tags import ServiceTag, ServiceTagIndex
from services.domain.failure import Client, FailureKind, PullFailure
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


class DiagnosisFacts(BaseModel):
    """What the verdict rests on; fields that do not apply stay None or empty."""

    model_config = ConfigDict(frozen=True)

    #: The address the verdict is about.
    ip: IPAddress | None = None
    #: Other addresses in the paste, in order.
    other_ips: tuple[IPAddress, ...] = ()
    #: Addresses of the paste the registry's rules already allow.
    allowed_ips: tuple[IPAddress, ...] = ()
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
    quota_used: int | None = None
    quota_limit: int | None = None
    retry_after_minutes: int | None = None
    #: Why a temporary grant is not offered, when it is not.
    grant_refusal: str | None = None


class Diagnosis(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    failure: PullFailure
    facts: DiagnosisFacts
    #: A temporary allow rule may be offered for `grant_ip`.
    grant_eligible: bool
    grant_ip: ipaddress.IPv4Address | None = None
    summary: str
    recommendation: str


def diagnose(
    failure: PullFailure,
    *,
    registries: Sequence[RegistryState] = (),
    known_ips: KnownIps | Mapping[str, str] | None = None,
    service_tags: ServiceTagIndex | None = None,
) -> Diagnosis:
    """Explain a refused pull.

    `registries` are the snapshots the bot knows (none: judge from the paste alone); `known_ips`
    the organisation's egress networks; `service_tags` Microsoft's Azure address index. Pure: no
    I/O. Raises KnownIpsError if `known_ips` is a mapping with an invalid CIDR.
    """
    known = known_ips if isinstance(known_ips, KnownIps) else KnownIps(known_ips)
    return _Diagnoser(failure, registries, known, service_tags).run()


class _Diagnoser:
    def __init__(
        self,
        failure: PullFailure,
        registries: Sequence[RegistryState],
        known: KnownIps,
        tags: ServiceTagIndex | None,
    ) -> None:
        self.failure = failure
        self.registries = tuple(registries)
        self.known = known
        self.tags = tags
        self.registry, self.assumed, self.unknown_name = self._resolve_registry()
        # The covering rule of each pasted IP, looked up once.
        self.covering: dict[IPAddress, IpRule | None] = (
            {ip: self.registry.rule_covering(ip) for ip in failure.ips}
            if self.registry is not None
            else {}
        )

    # -- resolution --------------------------------------------------------------------------------

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

    # -- facts -------------------------------------------------------------------------------------

    def _base_facts(self, subject: IPAddress | None) -> dict[str, object]:
        reg = self.registry
        facts: dict[str, object] = {
            "ip": subject,
            "other_ips": tuple(ip for ip in self.failure.ips if ip != subject),
            "known_registries": tuple(r.login_server for r in self.registries),
            "registry_assumed": self.assumed,
        }
        if reg is not None:
            facts.update(
                registry_name=reg.name,
                login_server=reg.login_server,
                sku=reg.sku,
                public_network_access=reg.public_network_access,
                default_action=reg.default_action,
                network_rule_bypass_options=reg.network_rule_bypass_options,
                network_rule_bypass_allowed_for_tasks=reg.network_rule_bypass_allowed_for_tasks,
                data_endpoint_enabled=reg.data_endpoint_enabled,
                data_endpoint_host_names=reg.data_endpoint_host_names,
                private_endpoint_count=reg.private_endpoint_count,
                quota_used=reg.rules_used,
                quota_limit=reg.rules_limit,
                allowed_ips=tuple(ip for ip in self.failure.ips if self.covering[ip]),
            )
        elif self.failure.registry:
            facts["login_server"] = self.failure.registry
        return facts

    def _make(
        self,
        verdict: Verdict,
        facts: dict[str, object],
        summary: str,
        advice: list[str],
        *,
        grant_ip: ipaddress.IPv4Address | None = None,
        refusal: str | None = None,
    ) -> Diagnosis:
        if self.failure.custom_domain and verdict not in _NOT_NETWORK_VERDICTS:
            advice.append(_custom_domain_note(self.failure.custom_domain))
        if grant_ip is None and refusal:
            advice.append(f"The bot will not offer a temporary rule: {refusal}")
        if grant_ip is None:
            facts["grant_refusal"] = refusal or _DEFAULT_REFUSALS.get(verdict)
        return Diagnosis(
            verdict=verdict,
            failure=self.failure,
            facts=DiagnosisFacts.model_validate(facts),
            grant_eligible=grant_ip is not None,
            grant_ip=grant_ip,
            summary=summary,
            recommendation="\n".join(advice),
        )

    # -- the decision ------------------------------------------------------------------------------

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

    # -- verdicts ----------------------------------------------------------------------------------

    def _not_firewall(self) -> Diagnosis:
        facts = self._base_facts(None)
        name = self._registry_name()
        repo = self.failure.repository or "<repo>"
        return self._make(
            Verdict.NOT_A_FIREWALL_ERROR,
            facts,
            "This is not a firewall refusal: the registry answered, and refused on identity, "
            "permission or image name.",
            [
                f"Log in again: `az acr login --name {name}` (or `docker login` with a token "
                "that has not expired).",
                "Check the identity pulling has the AcrPull role on the registry "
                "(for AKS: `az aks check-acr`).",
                "Check the repository and tag exist: "
                f"`az acr repository show-tags --name {name} --repository {repo}`.",
                "A temporary IP rule would change nothing here.",
            ],
        )

    def _unrecognized(self) -> Diagnosis:
        return self._make(
            Verdict.UNRECOGNIZED,
            self._base_facts(None),
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
            self._base_facts(None),
            "The registry firewall refused the pull, but the IP address in the paste was redacted.",
            [
                "Paste the original error with the IP left in: it is the public address the "
                "registry saw, which is what a rule has to allow.",
                "Or give the public IP of the machine that pulled (its outbound address, not its "
                "private one).",
            ],
        )

    def _no_ip(self) -> Diagnosis:
        facts = self._base_facts(None)
        client = self.failure.client
        advice: list[str] = []
        if client is Client.CONTAINER_APPS:
            advice += [
                "Container Apps does not always show the refused IP. Find the environment's "
                "outbound addresses: `az containerapp show -n <app> -g <rg> --query "
                "properties.outboundIpAddresses`.",
                "Those addresses belong to Azure and can change; for lasting access give the "
                "environment a fixed egress (workload profiles with a NAT gateway) and allow "
                "that one IP permanently.",
            ]
        elif client is Client.CONTAINER_INSTANCES:
            advice += [
                "Container Instances hides the refused IP and its outbound IP is unknown until "
                "the group exists, so a rule cannot be added beforehand.",
                "Pull with a managed identity and let trusted Azure services through "
                "(`networkRuleBypassOptions: AzureServices`), or deploy the group into a VNet "
                "whose NAT gateway has a permanent rule.",
            ]
        elif client in (Client.KUBELET, Client.CONTAINERD):
            advice += [
                "A 403 on containerd's token request (`failed to fetch anonymous token`) is "
                "how the registry firewall refuses a Kubernetes node; containerd does not show "
                "the IP.",
                "The address that counts is the cluster's public egress: for AKS the outbound "
                "load balancer's or NAT gateway's public IP (`az aks show -n <cluster> -g <rg> "
                "--query networkProfile`). That egress is fixed, so it should get a permanent "
                "rule from the platform team. Or attach the registry privately (private "
                "endpoint in the cluster's VNet).",
            ]
        else:
            advice += [
                "The refusal looks like the registry firewall, but the error shows no IP; some "
                "clients and Azure services hide it.",
                "Run the same pull with `docker pull` from that machine, which prints the "
                "refused IP, and paste that error; or paste the machine's public egress IP "
                "(its NAT gateway, proxy or service outbound address), not its private one.",
            ]
        advice.append(self._bypass_note())
        return self._make(
            Verdict.NO_IP_IN_ERROR,
            facts,
            "Most likely refused by the registry firewall, but the error does not say which IP.",
            [a for a in advice if a],
        )

    def _ipv6(self, ip: IPAddress) -> Diagnosis:
        return self._make(
            Verdict.IPV6_NOT_SUPPORTED,
            self._base_facts(ip),
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
            self._base_facts(ip),
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
        facts = self._base_facts(ip)
        facts["login_server"] = name
        known = ", ".join(r.login_server for r in self.registries)
        return self._make(
            Verdict.REGISTRY_UNKNOWN,
            facts,
            f"{name} is not a registry this bot manages.",
            [
                f"The registries I know are: {known}.",
                "Check the image name in your deployment; if this is a custom domain of one of "
                "them, ask the bot's owner to add it to that registry's configuration. Otherwise "
                "ask that registry's owner for access.",
            ],
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
            self._base_facts(ip),
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
            self._base_facts(ip),
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
        facts = self._base_facts(ip)
        facts.update(matched_rule=rule, retry_after_minutes=RETRY_AFTER_MINUTES)
        advice = [
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
            advice.append(
                f"Dedicated data endpoints are on: layers come from {hosts}, which the client "
                "must also reach (proxy and firewall allow-lists)."
            )
        return self._make(
            Verdict.ALREADY_ALLOWED,
            facts,
            f"{ip} is already allowed on {reg.name} by the rule {rule}.",
            advice,
            refusal="the address is already allowed.",
        )

    def _known_gateway(self, ip: IPAddress, gateway: KnownIp) -> Diagnosis:
        facts = self._base_facts(ip)
        facts.update(gateway_label=gateway.label, gateway_network=str(gateway.network))
        where = f" on {self.registry.name}" if self.registry is not None else ""
        return self._make(
            Verdict.KNOWN_GATEWAY_NOT_ALLOWED,
            facts,
            f"{ip} is {gateway.label}, a known egress of the organisation, and is not "
            f"allowed{where}.",
            [
                f"{gateway.label} ({gateway.network}) is a fixed company address: it should have "
                "a permanent rule, added by the platform team through infrastructure-as-code, "
                "not a temporary one that expires.",
                "Ask the platform team to add it to the registry's network rule set.",
            ],
            refusal="known company egress addresses get a permanent rule, not a temporary one.",
        )

    def _azure(self, ip: IPAddress, matches: tuple[ServiceTag, ...]) -> Diagnosis:
        facts = self._base_facts(ip)
        best = matches[0]
        region = next((t.region for t in matches if t.region), "")
        service = next((t.system_service for t in matches if t.system_service), "")
        facts.update(
            service_tags=tuple(t.name for t in matches),
            service_tag_region=region or None,
            service_tag_service=service or None,
        )
        advice = [
            f"{ip} belongs to Azure ({best.name}). Azure addresses are shared and change, so a "
            "rule for it would not last and could let other tenants in.",
            *self._azure_advice(service),
        ]
        bypass = self._bypass_note()
        if bypass:
            advice.append(bypass)
        return self._make(
            Verdict.AZURE_SERVICE_IP,
            facts,
            f"{ip} is an Azure-owned address ({best.name}); it needs a lasting fix, not an IP "
            "rule.",
            advice,
            refusal="the address is shared Azure address space that changes.",
        )

    def _azure_advice(self, service: str) -> list[str]:
        client = self.failure.client
        svc = service.lower()
        if client is Client.CONTAINER_APPS or "containerapps" in svc:
            return [
                "Container Apps: give the environment a fixed egress (workload profiles "
                "environment in a VNet with a NAT gateway) and allow the NAT gateway's IP "
                "permanently.",
            ]
        if client is Client.CONTAINER_INSTANCES or "containerinstance" in svc:
            return [
                "Container Instances: pull with a managed identity and allow trusted Azure "
                "services (`networkRuleBypassOptions: AzureServices`), or deploy into a VNet "
                "whose NAT gateway has a permanent rule.",
            ]
        if client is Client.ACR_TASKS or "containerregistry" in svc:
            return [
                "ACR Tasks: set the registry property `networkRuleBypassAllowedForTasks` to true "
                "(the trusted-services switch does not cover task agents), or run the task on a "
                "dedicated agent pool in a VNet.",
            ]
        if client is Client.APP_SERVICE or "appservice" in svc:
            return [
                "App Service: trusted services do not cover App Service. Use VNet integration "
                "with a NAT gateway (a fixed egress with a permanent rule) or a private endpoint.",
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
            self._base_facts(ip),
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
        facts = self._base_facts(ip)
        where = f"{reg.name}'s firewall" if reg is not None else "the registry firewall"
        advice = [
            f"Request a temporary allow rule for {ip}: the bot can add it once an approver "
            "agrees, and removes it when it expires. A new rule takes a few minutes to take "
            f"effect; retry about {RETRY_AFTER_MINUTES} minutes after it is granted.",
            "For lasting access from a fixed network, send its traffic through a NAT gateway "
            "and ask the platform team for a permanent rule for the gateway's IP.",
        ]
        assert isinstance(ip, ipaddress.IPv4Address)  # IPv6 was handled before
        refusal: str | None = None
        if reg is not None and not reg.is_premium:
            refusal = f"{reg.name} is {reg.sku or 'not Premium'}; IP rules need the Premium SKU."
        elif reg is None and self.registries:
            refusal = (
                "the paste does not say which registry it was; paste the error with the image "
                "name, or name the registry."
            )
        return self._make(
            Verdict.IP_NOT_ALLOWED,
            facts,
            f"{ip} is not allowed by {where}.",
            advice,
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


def _custom_domain_note(domain: str) -> str:
    return (
        f"You pulled through the custom domain {domain}. The gateway in front does not change "
        "which address the registry checks (it ignores X-Forwarded-For): the client's public IP, "
        "or the gateway's outbound IP depending on how the gateway connects, must be allowed."
    )

"""What to tell a developer: the summary and steps for an error that is not the firewall (by
cause), and for a refusal that is most likely the firewall but names no IP (by hint).

Texts may put commands in backticks. Every value they interpolate is either the bot's own (a
registry snapshot, configuration) or came out of the grammar in `services.domain.failure`, so it
cannot close a code span or carry markup; the Slack layer still escapes `&`, `<` and `>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.domain.failure import Client, FirewallHint, NotFirewallCause
from services.domain.ips import IPAddress

_C = NotFirewallCause
_H = FirewallHint

NO_RULE_HELPS = "A temporary IP rule would change nothing here."


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """The registry and image the advice is about, as far as anyone knows."""

    #: Registry name for `az acr … --name` (`contoso`), or a placeholder.
    name: str
    #: Login server (`contoso.azurecr.io`), or a placeholder.
    login: str
    repository: str | None = None
    reference: str | None = None
    custom_domain: str | None = None
    #: A data endpoint or private-link name the paste used.
    endpoint: str | None = None
    remote_ip: IPAddress | None = None
    client: Client = Client.UNKNOWN
    #: The registry has private endpoint connections (from its snapshot).
    private_endpoints: bool = False

    @property
    def image(self) -> str:
        repo = self.repository or "<repository>"
        ref = self.reference or "<tag>"
        return f"{repo}@{ref}" if ref.startswith("sha256:") else f"{repo}:{ref}"


def not_firewall(cause: NotFirewallCause | None, s: Subject) -> tuple[str, list[str]]:
    """Summary and steps for an error that is not the registry's firewall."""
    if cause is _C.LOCAL_TOOL:
        return (
            "This is not a registry error: the command itself failed on the machine (the tool is "
            "not installed, not on the PATH, or its daemon is not running), so nothing reached a "
            "registry.",
            [
                "Install the tool or start its daemon where the command runs (`docker info` shows "
                "whether the Docker daemon answers; in CI, use a runner image that has it).",
                "Run the pull again and paste the error it gives then, if it still fails.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.KUBERNETES_API:
        return (
            "Not a registry error: the client could not reach the Kubernetes cluster's API "
            "server, so no image was being pulled.",
            [
                "Check the way to the API server: for AKS, whether the cluster is private or "
                "limits who may connect (`az aks show -n <cluster> -g <rg> --query "
                "apiServerAccessProfile`) and whether this machine's public IP is in its "
                "authorized ranges; then the VPN or proxy, and the kubeconfig's server address.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.DNS:
        return _dns(s)
    if cause is _C.TLS:
        return _tls(s)
    if cause is _C.PRIVATE_ENDPOINT:
        address = f" ({s.remote_ip})" if s.remote_ip is not None else ""
        return (
            f"Not a firewall refusal: the connection to a private address{address} timed out or "
            "was refused. That is the path to the registry's private endpoint, where IP rules "
            "do not apply.",
            [
                f"`{s.login}` resolved to a private endpoint address from the client. Check the "
                "route from the client's subnet to the endpoint's (VNet peering, a route table "
                "sending it through a firewall, an NSG), and that the endpoint connection is "
                f"Approved: `az acr private-endpoint-connection list --registry-name {s.name}`.",
                "If the client should not use the private endpoint at all, its DNS sends it "
                "there: check which private DNS zone (`privatelink.azurecr.io`) its VNet is "
                "linked to.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.CONNECTIVITY:
        return (
            "Not an IP-rule refusal: the connection to the registry timed out, was reset or was "
            "refused, so the registry never judged the request. ACR's firewall answers with a "
            "403 and `client with IP … is not allowed access`; it does not drop connections.",
            [
                "Something on the network path drops or resets the connection: an NSG or Azure "
                "Firewall rule, a corporate proxy, or an outbound allow-list that lacks "
                f"`{s.login}` or its data endpoints (`az acr show-endpoints --name {s.name}` "
                "lists every host a client must reach).",
                f"Test from the same machine: `curl -sv https://{s.login}/v2/` should connect and "
                "answer 401. If the network needs a proxy, set it for the Docker daemon or "
                "containerd (HTTPS_PROXY), not only for your shell.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.RATE_LIMITED:
        return (
            "Not a firewall refusal: the registry throttled the pull (HTTP 429, "
            "`toomanyrequests`).",
            [
                "Public registries limit pulls (Docker Hub per IP or account, MCR under load). "
                "Keep the images you depend on in your own registry: an artifact cache rule "
                f"(`az acr cache create --registry {s.name} --name <rule> --source-repo "
                "docker.io/library/<image> --target-repo <image>`) or a one-off copy with "
                f"`az acr import --name {s.name} --source docker.io/library/<image>:<tag>`.",
                "If the 429 came from your own registry, its SKU's request limit was reached: "
                "spread the pulls out (fewer parallel nodes pulling at once) or move to a higher "
                "SKU.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.SERVER_ERROR:
        gateway = (
            f" A 502 or 504 through `{s.custom_domain}` usually comes from the gateway in "
            "front: check its backend health."
            if s.custom_domain
            else ""
        )
        return (
            "Not a firewall refusal: the registry, or a gateway in front of it, failed with a "
            "server error (HTTP 5xx).",
            [
                "Retry in a few minutes; a 5xx is usually passing. "
                f"`az acr check-health --name {s.name} --yes` tests the registry end to end, and "
                f"the registry's Resource health in the portal shows an outage.{gateway}",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.NOT_FROM_REGISTRY:
        host = s.custom_domain or s.login
        return (
            "Not a firewall refusal: the answer did not come from the registry's API (an empty "
            "or HTML body, or a bare 404 on `/v2/`).",
            [
                "Something between the client and the registry answered instead: a custom domain "
                "or gateway routing to the wrong backend, a proxy, or a registry name that was "
                "just deleted and created again.",
                f"`curl -sv https://{host}/v2/` must answer 401 with a header `WWW-Authenticate: "
                f'Bearer realm="https://{s.login}/oauth2/token"`. Anything else means the '
                "request is not reaching the registry.",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.STORAGE:
        return (
            "Not the registry's IP rules: the registry accepted the request, but the download "
            "of a layer from its storage (a blob or data endpoint) was refused.",
            [
                "Layers come from `*.blob.core.windows.net` or from the registry's data "
                f"endpoints (`{s.name}.<region>.data.azurecr.io`); the client's proxy or "
                f"firewall must allow those too: `az acr show-endpoints --name {s.name}`.",
                "With dedicated data endpoints enabled, check the client resolves and reaches "
                "them (and, behind a private endpoint, that the private DNS zone has their "
                "records).",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.AUTHENTICATION:
        return (
            "Not a firewall refusal: the registry answered and asked for credentials "
            "(401, `authentication required`).",
            [
                f"Log in again: `az acr login --name {s.name}` (or `docker login {s.login}` "
                "with a token that has not expired).",
                _identity_step(s),
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.PERMISSION:
        return (
            "Not a firewall refusal: the registry knows who is pulling, but that identity may "
            "not do this (RBAC role, token scope).",
            [
                f"Give the identity the AcrPull role on {s.name}: `az role assignment create "
                f"--assignee <principal-id> --role AcrPull --scope $(az acr show --name {s.name} "
                "--query id -o tsv)`; with a repository-scoped token, check its scope map.",
                "Check the repository name too: a repository that does not exist is refused "
                "the same way (`az acr repository list --name "
                f"{s.name}`).",
                NO_RULE_HELPS,
            ],
        )
    if cause is _C.NOT_FOUND:
        steps = [
            "Check the repository and tag exist: "
            f"`az acr repository show-tags --name {s.name} --repository "
            f"{s.repository or '<repository>'}`.",
            f"Check the image name in the deployment: registry `{s.login}`, image `{s.image}`.",
        ]
        if s.custom_domain:
            steps.append(
                f"You pulled through `{s.custom_domain}`: a gateway routing `/v2/` to another "
                "backend also answers `not found`."
            )
        return (
            "Not a firewall refusal: the registry answered, and the image or tag does not exist.",
            [*steps, NO_RULE_HELPS],
        )
    return (
        "This is not a firewall refusal: the registry answered, and refused on identity, "
        "permission or image name.",
        [
            f"Log in again: `az acr login --name {s.name}` (or `docker login` with a token that "
            "has not expired).",
            _identity_step(s),
            "Check the repository and tag exist: "
            f"`az acr repository show-tags --name {s.name} --repository "
            f"{s.repository or '<repository>'}`.",
            NO_RULE_HELPS,
        ],
    )


def _identity_step(s: Subject) -> str:
    if s.client in (Client.KUBELET, Client.CONTAINERD):
        return (
            "For AKS, check the cluster's kubelet identity can pull: `az aks check-acr --name "
            f"<cluster> --resource-group <rg> --acr {s.login}`."
        )
    if s.client in (Client.CONTAINER_APPS, Client.CONTAINER_INSTANCES, Client.APP_SERVICE):
        return (
            "Check the registry credentials or the managed identity configured on the resource, "
            f"and that the identity has the AcrPull role on {s.name}."
        )
    return f"Check the identity pulling has the AcrPull role on {s.name}."


def _dns(s: Subject) -> tuple[str, list[str]]:
    private = (
        s.private_endpoints
        or (s.endpoint is not None and (".privatelink." in s.endpoint or ".data." in s.endpoint))
        or s.remote_ip is not None
    )
    steps = [
        f"From the client, `nslookup {s.endpoint or s.login}` must answer. A typo in the "
        f"registry name also gives `no such host`: `az acr show --name {s.name} --query "
        "loginServer`.",
    ]
    if private:
        steps.append(
            "Behind a private endpoint, the private DNS zone `privatelink.azurecr.io` must hold "
            f"A records for `{s.name}` and for each data endpoint "
            f"(`{s.name}.<region>.data`), and the zone must be linked to the client's VNet "
            "(`az network private-dns link vnet list --resource-group <rg> --zone-name "
            "privatelink.azurecr.io`). From a network without that link, the name resolves to "
            "the public endpoint or not at all."
        )
    steps += [
        "If the lookup itself failed (the DNS server at `…:53` refused or timed out), the "
        "client's resolver is down or unreachable: on a node, check `/etc/resolv.conf` and, in "
        "Kubernetes, CoreDNS. That DNS server's address is not the client's.",
        NO_RULE_HELPS,
    ]
    return (
        f"Not a firewall refusal: the client could not resolve `{s.endpoint or s.login}` (DNS), "
        "so no request reached the registry.",
        steps,
    )


def _tls(s: Subject) -> tuple[str, list[str]]:
    steps = []
    if s.endpoint and ".privatelink." in s.endpoint:
        steps.append(
            f"Use the registry's own name `{s.login}`, not `{s.endpoint}`: the certificate "
            "covers `*.azurecr.io`, and the private-link name is only the target of a DNS "
            "CNAME. With the private DNS zone linked, the usual name already resolves to the "
            "private endpoint."
        )
    if s.custom_domain:
        steps.append(
            f"A custom domain needs its own certificate on the gateway in front: "
            f"`{s.custom_domain}` must present a certificate for that name, trusted by the "
            "client."
        )
    steps += [
        "A proxy that inspects TLS presents its own certificate: its root CA must be trusted "
        "where the pull runs (Docker: `/etc/docker/certs.d/<host>/ca.crt`; containerd and "
        "AKS nodes: the system CA store).",
        NO_RULE_HELPS,
    ]
    return (
        "Not a firewall refusal: the TLS certificate check failed, so the client never sent "
        "its request.",
        steps,
    )


def suspected(hint: FirewallHint | None, s: Subject) -> list[str]:
    """Steps naming the other likely cause of a refusal without an IP, and how to tell."""
    curl = (
        f"From the machine (or node) that pulls, `curl -s https://{s.login}/v2/` shows the "
        "firewall's own answer: a 403 with `client with IP '…' is not allowed access` names the "
        "address to allow; a 401 means the network is fine and the problem is the credential."
    )
    if hint is _H.SENTENCE_CUT:
        return [
            "The paste stops after `client with`: ACR's message continues with the refused "
            "address (`client with IP '<address>' is not allowed access`). Paste the whole line.",
            curl,
        ]
    if hint is _H.INACCESSIBLE_IMAGE:
        return [
            "Container Instances says the same for a wrong image name, a wrong credential and a "
            "firewall refusal. Tell them apart: from an allowed network, `az acr repository show "
            f"--name {s.name} --image {s.image}` shows the image exists; `az role assignment "
            "list --assignee <identity> --scope $(az acr show --name "
            f"{s.name} --query id -o tsv)` shows the identity may pull; and "
            f"`az acr show --name {s.name} --query networkRuleSet.defaultAction` says `Deny` "
            "when only listed addresses get in.",
        ]
    if hint is _H.MANAGED_IDENTITY_PULL:
        return [
            "Container Apps says this when the managed identity cannot get a token or has no "
            "AcrPull role yet (common right after the role was assigned: it takes minutes to "
            "apply), as well as when the registry's firewall refuses the environment. Tell "
            "them apart: `az role assignment list --assignee <principal-id> --scope $(az acr "
            f"show --name {s.name} --query id -o tsv)` must list AcrPull; if it does and the "
            f"registry's default action is `Deny`, it is the firewall.",
        ]
    if hint is _H.REGISTRY_ACCESS_DENIED:
        return [
            "`az acr import` and ACR Tasks run inside Azure, not on your machine: a registry "
            "behind a firewall must let them through. For import, allow trusted Azure services "
            "on the source registry (`az acr update --name <source> --allow-trusted-services "
            "true`); for tasks, set `networkRuleBypassAllowedForTasks` on the registry.",
            "The other cause is permission: the identity running the import or task may not "
            "read the source. Tell them apart by running the same import with the source "
            "registry's firewall open briefly, or with `--username`/`--password` of a token "
            "that can read the image.",
        ]
    if hint is _H.REFRESH_TOKEN:
        return [
            "The registry refused `az acr login`'s token exchange with a 403. Besides the "
            "firewall, public network access being disabled does the same. Tell them apart: "
            f"`az acr show --name {s.name} --query "
            '"{public: publicNetworkAccess, default: networkRuleSet.defaultAction}"`, and '
            f"`az acr check-health --name {s.name} --yes` from the same machine.",
            curl,
        ]
    if hint is _H.CHALLENGE:
        return [
            "The registry did not answer `/v2/` with the usual 401 challenge. A firewall "
            "refusal (403) does that, and so does anything else answering in the registry's "
            "place (a proxy, a custom domain's gateway, a registry just recreated). "
            f"Tell them apart with `curl -sv https://{s.login}/v2/`: 403 with `client with IP` "
            "is the firewall and names the address; 404 or HTML is not the registry.",
        ]
    if hint is _H.FORBIDDEN:
        return [
            "`az acr login` got a 403 from the registry: its firewall, or public network access "
            f"disabled. `az acr show --name {s.name} --query "
            '"{public: publicNetworkAccess, default: networkRuleSet.defaultAction}"` tells '
            "which.",
            curl,
        ]
    if hint is _H.APP_SERVICE_DENIED:
        return [
            "App Service pulls from its own outbound addresses (`az webapp show --name <app> "
            "--resource-group <rg> --query outboundIpAddresses`), and the trusted-services "
            "bypass does not cover it. If those addresses are not allowed, it is the firewall; "
            "with VNet image pull (`vnetImagePullEnabled`), the pull goes through the VNet and "
            "the registry's private endpoint instead, and a wrong credential gives the same "
            "`denied`.",
        ]
    if hint is _H.IMAGE_PULL_FAILURE and s.client is Client.APP_SERVICE:
        return [
            "App Service reports `ImagePullFailure` when its site container could not pull, "
            "without the registry's answer: a firewall refusal, a route through a VNet that "
            "cannot reach the registry (VNet image pull) and a wrong credential look alike. The "
            "app's outbound addresses (`az webapp show --name <app> --resource-group <rg> "
            "--query outboundIpAddresses`) are the ones the registry sees without VNet image "
            "pull; check they are allowed.",
            "The registry's own answer is in the Docker log: `az webapp log tail --name <app> "
            "--resource-group <rg>`, or Kudu's `/api/logs/docker`.",
        ]
    if hint is _H.IMAGE_PULL_FAILURE:
        return [
            "Container Apps reports `ImagePullFailure` when the pull got no answer it could "
            "show: from an environment in a VNet, a route through a firewall, an NSG or the "
            "registry's firewall dropping the connection look alike. The environment's outbound "
            "address (or its NAT gateway's) is the one the registry sees; check it is allowed, "
            "and that the subnet may reach the registry on 443.",
            "A wrong credential or image name shows up in the revision's system logs as a 401 "
            "or `manifest unknown`: `az containerapp logs show -n <app> -g <rg> --type system`.",
        ]
    if hint is _H.ANONYMOUS_TOKEN or s.client in (Client.KUBELET, Client.CONTAINERD):
        return [
            "A 403 on the token request (`failed to fetch anonymous token` / `oauth token`) is "
            "how the registry firewall refuses a Kubernetes node; containerd does not show the "
            "IP. A wrong or missing credential gives a 401 instead.",
            curl,
        ]
    return [
        "The refusal looks like the registry firewall, but the error shows no IP; some clients "
        "and Azure services hide it. A proxy or a gateway in front of the registry that refuses "
        "on its own also answers 403.",
        curl,
    ]


_OTHER_CAUSES: dict[NotFirewallCause, str] = {
    _C.AUTHENTICATION: "it asked for credentials, or the login it was given has expired: log in "
    "to that registry again (with its own tool) and pull once more.",
    _C.PERMISSION: "it refused this identity: the image is not public there, or the identity has "
    "no pull access to that repository. Check the image's visibility and the identity's role on "
    "that registry; a stale login for it refuses even public images (log out and retry).",
    _C.NOT_FOUND: "the image or tag does not exist there: check the name and the tag.",
    _C.RATE_LIMITED: "it limits how often it may be pulled from: log in, wait, or mirror the "
    "image into your own registry.",
}


def other_registry(name: str, cause: NotFirewallCause | None) -> tuple[str, list[str]]:
    """Summary and steps for an error from a registry that is not an Azure Container Registry."""
    why = _OTHER_CAUSES.get(
        cause or _C.SERVER_ERROR,
        "its answer is in the error; that registry's own documentation explains it.",
    )
    return (
        f"This error came from {name}, not from an Azure Container Registry: no ACR firewall "
        "rule is involved.",
        [f"{name} refused the pull: {why}", NO_RULE_HELPS],
    )

# ruff: noqa: E501  (pasted text reads better unbroken)
"""Pasted pull errors and what `parse_pull_failure` must read from each.

Every case names its source. "seed" is the public report that started the project (docker through
an Application Gateway, Container Instances' `InaccessibleImage`, Container Apps'
`WebhookInvalidParameterValue`; docs/ARCHITECTURE.md, "The problem"). "docs" cases follow the
message shapes Microsoft documents (learn.microsoft.com, "Troubleshoot network issues with
registry", "Troubleshoot registry login", "Configure public IP network rules"). Cases marked
"constructed" were written from the known output format of the named tool (its source strings or
typical logs) around the ACR denial body; no case here was copied from a private log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.domain.failure import Client, FailureKind, FirewallHint, NotFirewallCause

K = FailureKind
C = Client
H = FirewallHint
N = NotFirewallCause
#: A `Case.command` left unchecked (the case is about something else).
UNCHECKED = "<unchecked>"

GATEWAY = {"cr.zuehlke.cloud": "tzuehlke.azurecr.io"}
DENIAL = "is not allowed access. Refer https://aka.ms/acr/firewall to grant access."


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    text: str
    kind: FailureKind
    ips: tuple[str, ...] = ()
    registry: str | None = None
    client: Client = Client.UNKNOWN
    repository: str | None = None
    reference: str | None = None
    correlation_id: str | None = None
    custom_domain: str | None = None
    ip_redacted: bool = False
    registry_redacted: bool = False
    custom_domains: dict[str, str] = field(default_factory=dict)
    cause: NotFirewallCause | None = None
    hint: FirewallHint | None = None
    endpoint: str | None = None
    command: str | None = UNCHECKED
    remote_ip: str | None = None


WRAP_ME = (
    'Error response from daemon: Head "https://contoso.azurecr.io/v2/platform/web/manifests/2.0":'
    " denied: client with IP '40.113.5.10' " + DENIAL
)
WRAP_HOST = (
    'Error response from daemon: Get "https://platform-shared-images-weu.azurecr.io/v2/web/'
    "manifests/2.0\": denied: client with IP '40.113.5.11' " + DENIAL
)


def hard_wrap(text: str, width: int) -> str:
    """Cut every `width` characters, as a terminal that copies its screen lines does."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


SEED_DOCKER = """docker pull cr.zuehlke.cloud/nginx
Using default tag: latest
Error response from daemon: Head "https://cr.zuehlke.cloud/v2/nginx/manifests/latest": denied: \
client with IP '91.38.188.165' is not allowed access. Refer https://aka.ms/acr/firewall to grant \
access.
"""
SEED_ACI = """{
    "status": "Failed",
    "error": {
        "code": "InaccessibleImage",
        "message": "The image 'tzuehlke.azurecr.io/nginx:latest' in container group 'ci' is not \
accessible. Please check the image and registry credential."
    }
}"""
SEED_ACI_GATEWAY = SEED_ACI.replace("tzuehlke.azurecr.io/nginx:latest", "cr.zuehlke.cloud/nginx")
SEED_ACA = r"""{
    "status": "Failed",
    "error": {
        "code": "WebhookInvalidParameterValue",
        "message": "The following field(s) are either invalid or missing. Invalid value: \"cr.zuehlke.cloud/nginx\": GET https:?scope=repository%3Anginx%3Apull&service=tzuehlke.azurecr.io: DENIED: client with IP '20.103.186.69' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.: template.containers.bbhh.image."
    }
}"""

CASES: list[Case] = [
    # --- the seed ------------------------------------------------------------------------------
    Case("seed-docker-gateway", "seed: docker pull through the Application Gateway",
         SEED_DOCKER, K.IP_DENIED, ("91.38.188.165",), "tzuehlke.azurecr.io", C.DOCKER,
         "nginx", "latest", custom_domain="cr.zuehlke.cloud", custom_domains=GATEWAY,
         command="docker pull cr.zuehlke.cloud/nginx"),
    Case("seed-docker-unconfigured-gateway",
         "seed: same paste, gateway not configured (custom domain inferred from the API URL)",
         SEED_DOCKER, K.IP_DENIED, ("91.38.188.165",), None, C.DOCKER, "nginx", "latest",
         custom_domain="cr.zuehlke.cloud"),
    Case("seed-aci-inaccessible", "seed: Container Instances InaccessibleImage",
         SEED_ACI, K.FIREWALL_SUSPECTED, (), "tzuehlke.azurecr.io", C.CONTAINER_INSTANCES,
         "nginx", "latest",
         hint=H.INACCESSIBLE_IMAGE),
    Case("seed-aci-through-gateway", "seed: Container Instances through the gateway",
         SEED_ACI_GATEWAY, K.FIREWALL_SUSPECTED, (), "tzuehlke.azurecr.io",
         C.CONTAINER_INSTANCES, "nginx", None, custom_domain="cr.zuehlke.cloud",
         custom_domains=GATEWAY,
         hint=H.INACCESSIBLE_IMAGE),
    Case("seed-aca-webhook", "seed: Container Apps WebhookInvalidParameterValue (service= names it)",
         SEED_ACA, K.IP_DENIED, ("20.103.186.69",), "tzuehlke.azurecr.io", C.CONTAINER_APPS,
         "nginx", None),
    Case("seed-aca-webhook-gateway", "seed: Container Apps, gateway configured",
         SEED_ACA, K.IP_DENIED, ("20.103.186.69",), "tzuehlke.azurecr.io", C.CONTAINER_APPS,
         "nginx", None, custom_domain="cr.zuehlke.cloud", custom_domains=GATEWAY),
    # --- docker shapes ---------------------------------------------------------------------------
    Case("docker-json-u0027", "constructed: docker Engine API body as printed by curl --unix-socket",
         '{"message":"denied: client with IP \\u002791.38.188.165\\u0027 is not allowed access. '
         'Refer https://aka.ms/acr/firewall to grant access."}\n',
         K.IP_DENIED, ("91.38.188.165",), None, C.UNKNOWN),
    Case("docker-sdk-apierror", "constructed: docker SDK for Python APIError around the daemon body",
         'docker.errors.APIError: 500 Server Error for http+docker://localhost/v1.43/images/create'
         '?tag=1.4&fromImage=contoso.azurecr.io%2Fshop%2Fapi: Internal Server Error ("Head '
         '\\"https://contoso.azurecr.io/v2/shop/api/manifests/1.4\\": denied: client with IP '
         '\\u0027198.51.100.23\\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to '
         'grant access.")',
         K.IP_DENIED, ("198.51.100.23",), "contoso.azurecr.io", C.UNKNOWN, "shop/api", "1.4"),
    Case("docker-upper-denied-correlation",
         "docs: ACR troubleshoot network issues, DENIED form with CorrelationId appended",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": DENIED: client with "
         "IP '52.174.10.20' is not allowed access. Refer https://aka.ms/acr/firewall to grant "
         "access. CorrelationId: 4b0a3d62-9f5c-4f0e-8a4e-2b6d6e1f9c11",
         K.IP_DENIED, ("52.174.10.20",), "contoso.azurecr.io", C.DOCKER,
         correlation_id="4b0a3d62-9f5c-4f0e-8a4e-2b6d6e1f9c11"),
    Case("docker-comma-variant", "constructed: older ACR wording, comma and lower-case refer",
         "Error response from daemon: Get https://contoso.azurecr.io/v2/: denied: client with IP "
         "'40.113.5.6' is not allowed access, refer https://aka.ms/acr/firewall to grant access",
         K.IP_DENIED, ("40.113.5.6",), "contoso.azurecr.io", C.DOCKER),
    Case("docker-unquoted-ip", "constructed: IP without quotes (retyped by a person)",
         "docker pull contoso.azurecr.io/web:2.0\nError response from daemon: denied: client with "
         "IP 40.113.5.7 is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("40.113.5.7",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("docker-typographic-quotes", "constructed: pasted through a word processor",
         "Error response from daemon: Head “https://contoso.azurecr.io/v2/web/manifests/2.0”: "
         "denied: client with IP ‘40.113.5.8’ is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("40.113.5.8",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("docker-wrapped-client-with-ip", "constructed: terminal wrap between `client with` and `IP`",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with\n  IP '40.113.5.9' is not allowed access. Refer\n"
         "  https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("40.113.5.9",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("docker-hard-wrap-80", "constructed: conhost copy, hard wrap at 80 inside the URLs",
         hard_wrap(WRAP_ME, 80),
         K.IP_DENIED, ("40.113.5.10",), "contoso.azurecr.io", C.DOCKER, "platform/web", "2.0"),
    Case("docker-hard-wrap-120", "constructed: hard wrap at 120 inside the IP",
         hard_wrap(WRAP_ME, 120),
         K.IP_DENIED, ("40.113.5.10",), "contoso.azurecr.io", C.DOCKER, "platform/web", "2.0"),
    Case("docker-hard-wrap-70-host", "constructed: hard wrap at 70 inside the registry host",
         hard_wrap(WRAP_HOST, 70),
         K.IP_DENIED, ("40.113.5.11",), "platform-shared-images-weu.azurecr.io", C.DOCKER, "web",
         "2.0"),
    Case("docker-hard-wrap-80-indented", "constructed: wrapped log with continuation indentation",
         hard_wrap(WRAP_HOST, 80).replace("\n", "\n    "),
         K.IP_DENIED, ("40.113.5.11",), "platform-shared-images-weu.azurecr.io", C.DOCKER, "web",
         "2.0"),
    Case("docker-crlf-ansi", "constructed: Windows terminal with colours, CRLF line ends",
         "\x1b[1mdocker pull contoso.azurecr.io/web:2.0\x1b[0m\r\n2.0: Pulling from web\r\n"
         "\x1b[31mError response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/"
         "2.0\": denied: client with IP '\x1b[1m40.113.5.12\x1b[22m' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\x1b[0m\r\n",
         K.IP_DENIED, ("40.113.5.12",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("docker-slack-formatted", "constructed: Slack message text (code fence, links, entities)",
         "pull fails from my laptop:\n```docker pull <http://contoso.azurecr.io/web:2.0|"
         "contoso.azurecr.io/web:2.0>\nError response from daemon: Head &quot;"
         "<https://contoso.azurecr.io/v2/web/manifests/2.0>&quot;: denied: client with IP "
         "`40.113.5.13` is not allowed access. Refer <https://aka.ms/acr/firewall> to grant "
         "access.```\n&gt; any idea?",
         K.IP_DENIED, ("40.113.5.13",), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         command="docker pull contoso.azurecr.io/web:2.0"),
    Case("docker-double-escaped-json", "constructed: daemon JSON inside a JSON log field",
         '{"log":"{\\"message\\":\\"Head \\\\\\"https://contoso.azurecr.io/v2/web/manifests/2.0'
         '\\\\\\": denied: client with IP \\\\u002740.113.5.14\\\\u0027 is not allowed access. '
         'Refer https://aka.ms/acr/firewall to grant access.\\"}\\n","stream":"stderr"}',
         K.IP_DENIED, ("40.113.5.14",), "contoso.azurecr.io", C.UNKNOWN, "web", "2.0"),
    Case("docker-rbac-denied", "docs: ACR troubleshoot login, token without pull permission",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: retrieving permissions failed",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         cause=N.PERMISSION),
    Case("docker-unauthorized", "docs: ACR troubleshoot login, anonymous pull disabled",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "unauthorized: authentication required, visit https://aka.ms/acr/authorization for more "
         "information.",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         cause=N.AUTHENTICATION),
    Case("docker-manifest-unknown", "constructed: docker pull of a tag that does not exist",
         "docker pull contoso.azurecr.io/web:9.9\nError response from daemon: manifest for "
         "contoso.azurecr.io/web:9.9 not found: manifest unknown: manifest tagged by \"9.9\" is "
         "not found",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "9.9",
         cause=N.NOT_FOUND, command="docker pull contoso.azurecr.io/web:9.9"),
    Case("docker-requested-access-denied", "constructed: docker push without a repository scope",
         "docker push contoso.azurecr.io/web:2.0\nThe push refers to repository "
         "[contoso.azurecr.io/web]\ndenied: requested access to the resource is denied",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         cause=N.PERMISSION),
    # --- kubelet / containerd ----------------------------------------------------------------------
    Case("kubelet-describe-denial", "constructed: kubectl describe pod events on AKS",
         "Events:\n  Type     Reason     Age                From               Message\n"
         "  ----     ------     ----               ----               -------\n"
         "  Normal   Scheduled  42s                default-scheduler  Successfully assigned "
         "shop/api-7d9c to aks-nodepool1-123-vmss000000\n"
         "  Normal   Pulling    20s (x2 over 41s)  kubelet            Pulling image "
         "\"contoso.azurecr.io/shop/api:1.4\"\n"
         "  Warning  Failed     20s (x2 over 41s)  kubelet            Failed to pull image "
         "\"contoso.azurecr.io/shop/api:1.4\": rpc error: code = Unknown desc = failed to pull and "
         "unpack image \"contoso.azurecr.io/shop/api:1.4\": failed to resolve reference "
         "\"contoso.azurecr.io/shop/api:1.4\": failed to authorize: failed to fetch oauth token: "
         "unexpected status from GET request to https://contoso.azurecr.io/oauth2/token?scope="
         "repository%3Ashop%2Fapi%3Apull&service=contoso.azurecr.io: 403 Forbidden\n"
         "  Warning  Failed     20s (x2 over 41s)  kubelet            Error: ErrImagePull\n",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.KUBELET, "shop/api", "1.4",
         hint=H.ANONYMOUS_TOKEN, command=None),
    Case("kubelet-anonymous-token-403", "constructed: AKS event, anonymous pull behind the firewall",
         "Failed to pull image \"contoso.azurecr.io/public/nginx:1.25\": rpc error: code = Unknown "
         "desc = failed to pull and unpack image \"contoso.azurecr.io/public/nginx:1.25\": failed "
         "to resolve reference \"contoso.azurecr.io/public/nginx:1.25\": failed to authorize: "
         "failed to fetch anonymous token: unexpected status: 403 Forbidden",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.KUBELET, "public/nginx", "1.25",
         hint=H.ANONYMOUS_TOKEN),
    Case("kubelet-events-table-denial", "constructed: kubectl get events -n shop",
         "LAST SEEN   TYPE      REASON    OBJECT          MESSAGE\n"
         "12s         Warning   Failed    pod/api-7d9c    Failed to pull image "
         "\"contoso.azurecr.io/shop/api@sha256:" + "a" * 64 + "\": rpc error: code = Unknown desc "
         "= failed to pull and unpack image \"contoso.azurecr.io/shop/api@sha256:" + "a" * 64 +
         "\": failed to resolve reference: unexpected status from HEAD request to "
         "https://contoso.azurecr.io/v2/shop/api/manifests/sha256:" + "a" * 64 + ": 403 "
         "Forbidden: denied: client with IP '20.31.40.50' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\n"
         "12s         Warning   Failed    pod/api-7d9c    Error: ErrImagePull\n",
         K.IP_DENIED, ("20.31.40.50",), "contoso.azurecr.io", C.KUBELET, "shop/api",
         "sha256:" + "a" * 64),
    Case("containerd-ctr-anonymous-403", "constructed: ctr images pull on a node (containerd 1.7)",
         "$ sudo ctr --version\nctr containerd.io 1.7.13.1\n"
         "$ sudo ctr images pull contoso.azurecr.io/base/alpine:3.19\n"
         "ctr: failed to resolve reference \"contoso.azurecr.io/base/alpine:3.19\": failed to "
         "authorize: failed to fetch anonymous token: unexpected status from GET request to "
         "https://contoso.azurecr.io/oauth2/token?scope=repository%3Abase%2Falpine%3Apull&service="
         "contoso.azurecr.io: 403 Forbidden",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.CONTAINERD, "base/alpine", "3.19",
         hint=H.ANONYMOUS_TOKEN, command="ctr images pull contoso.azurecr.io/base/alpine:3.19"),
    Case("containerd-head-403", "constructed: containerd resolver, 403 without a body",
         "time=\"2024-05-01T10:00:00.000000000Z\" level=error msg=\"PullImage "
         "\\\"contoso.azurecr.io/base/alpine:3.19\\\" failed\" error=\"failed to pull and unpack "
         "image: failed to resolve reference: unexpected status from HEAD request to "
         "https://contoso.azurecr.io/v2/base/alpine/manifests/3.19: 403 Forbidden\"",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.CONTAINERD, "base/alpine", "3.19",
         hint=H.STATUS_403),
    Case("containerd-crictl-denial", "constructed: crictl pull on an AKS node",
         "crictl pull contoso.azurecr.io/base/alpine:3.19\nE0501 10:00:00.000000 1234 "
         "remote_image.go:180] \"PullImage from image service failed\" err=\"rpc error: code = "
         "Unknown desc = failed to pull and unpack image: failed to resolve reference: pull "
         "access denied: denied: client with IP '10.224.0.4' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\"",
         K.IP_DENIED, ("10.224.0.4",), "contoso.azurecr.io", C.CONTAINERD, "base/alpine", "3.19",
         command="crictl pull contoso.azurecr.io/base/alpine:3.19"),
    Case("blob-storage-403", "constructed: containerd layer download refused by blob storage",
         "failed to copy: httpReadSeeker: failed open: unexpected status code "
         "https://weuprodreg1.blob.core.windows.net/abc/docker/registry/v2/blobs/sha256/aa/data?"
         "se=2024-05-01: 403 Forbidden",
         K.NOT_FIREWALL, (), None, C.CONTAINERD,
         cause=N.STORAGE),
    Case("data-endpoint-not-authorized",
         "constructed: docker layer from a data endpoint, storage answer",
         "Error response from daemon: Get \"https://contoso.westeurope.data.azurecr.io/docker/"
         "registry/v2/blobs/sha256/aa/data\": 403 Forbidden: This request is not authorized to "
         "perform this operation.",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER,
         cause=N.STORAGE, endpoint="contoso.westeurope.data.azurecr.io"),
    Case("data-endpoint-denial", "constructed: data endpoint answering with the firewall sentence",
         "Error response from daemon: Get \"https://contoso.westeurope.data.azurecr.io/docker/"
         "registry/v2/blobs/sha256/aa/data\": denied: client with IP '91.38.188.166' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.166",), "contoso.azurecr.io", C.DOCKER,
         endpoint="contoso.westeurope.data.azurecr.io"),
    # --- podman / skopeo -------------------------------------------------------------------------
    Case("podman-denial", "constructed: podman pull (containers/image wording)",
         "$ podman pull contoso.azurecr.io/web:2.0\nTrying to pull contoso.azurecr.io/web:2.0...\n"
         "Error: initializing source docker://contoso.azurecr.io/web:2.0: reading manifest 2.0 in "
         "contoso.azurecr.io/web: denied: client with IP '84.160.1.2' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("84.160.1.2",), "contoso.azurecr.io", C.PODMAN, "web", "2.0",
         command="podman pull contoso.azurecr.io/web:2.0"),
    Case("podman-ansi-no-command", "constructed: podman output only, with colours",
         "Trying to pull contoso.azurecr.io/web:2.0...\n\x1b[31mError\x1b[0m: initializing source "
         "docker://contoso.azurecr.io/web:2.0: reading manifest 2.0 in contoso.azurecr.io/web: "
         "DENIED: client with IP '84.160.1.3' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("84.160.1.3",), "contoso.azurecr.io", C.PODMAN, "web", "2.0"),
    Case("skopeo-denial", "constructed: skopeo inspect / copy",
         "$ skopeo copy docker://contoso.azurecr.io/web:2.0 dir:/tmp/web\n"
         "FATA[0001] initializing source docker://contoso.azurecr.io/web:2.0: reading manifest 2.0 "
         "in contoso.azurecr.io/web: denied: client with IP '84.160.1.4' is not allowed access. "
         "Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("84.160.1.4",), "contoso.azurecr.io", C.SKOPEO, "web", "2.0"),
    # --- az CLI, ACR Tasks, import -----------------------------------------------------------------
    Case("az-acr-login-refresh-403", "docs: ACR troubleshoot login, CONNECTIVITY_REFRESH_TOKEN_ERROR",
         "$ az acr login --name contoso\nUnable to get AAD authorization tokens with message: An "
         "error occurred: CONNECTIVITY_REFRESH_TOKEN_ERROR\nAccess to registry "
         "'contoso.azurecr.io' was denied. Response code: 403. Please try running 'az login' "
         "again to refresh permissions.",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.AZ_CLI,
         hint=H.REFRESH_TOKEN, command="az acr login --name contoso"),
    Case("az-acr-login-refresh-401", "docs: ACR troubleshoot login, same error with 401",
         "Unable to get AAD authorization tokens with message: An error occurred: "
         "CONNECTIVITY_REFRESH_TOKEN_ERROR\nAccess to registry 'contoso.azurecr.io' was denied. "
         "Response code: 401. Please try running 'az login' again to refresh permissions.",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.AZ_CLI,
         cause=N.AUTHENTICATION),
    Case("az-acr-repository-denial", "constructed: az acr repository list, registry only by -n",
         "$ az acr repository list -n Contoso -o table\n(DENIED) client with IP '91.38.188.167' is "
         "not allowed access. Refer https://aka.ms/acr/firewall to grant access.\nCode: DENIED\n"
         "Correlation ID: 0f6e3c1a-7b0b-4d43-9a55-0c8ad0f0a1b2",
         K.IP_DENIED, ("91.38.188.167",), "contoso.azurecr.io", C.AZ_CLI,
         correlation_id="0f6e3c1a-7b0b-4d43-9a55-0c8ad0f0a1b2"),
    Case("acr-build-denial", "constructed: az acr build, agent pulling the base image",
         "$ az acr build -r contoso -t shop/api:1.5 .\nPacking source code into tar to upload...\n"
         "Sending context (12.3 KiB) to registry: contoso...\nQueued a build with ID: ca7\n"
         "Waiting for an agent...\n2024/05/01 10:00:05 Downloading source code...\n"
         "2024/05/01 10:00:07 Launching container with name: build\n"
         "Step 1/4 : FROM contoso.azurecr.io/base/python:3.12\n"
         "Get \"https://contoso.azurecr.io/v2/base/python/manifests/3.12\": denied: client with IP "
         "'20.61.99.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.\n"
         "Run ID: ca7 failed after 14s. Error: failed during run, err: exit status 1",
         K.IP_DENIED, ("20.61.99.1",), "contoso.azurecr.io", C.ACR_TASKS, "base/python", "3.12"),
    Case("acr-run-push-denial", "constructed: az acr run quick task pushing",
         "Queued a run with ID: cb2\nWaiting for an agent...\n2024/05/01 10:00:01 Step ID: push "
         "marked as successful\nerror pushing image: DENIED: client with IP '20.61.99.2' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.\n"
         "Run ID: cb2 failed after 9s.",
         K.IP_DENIED, ("20.61.99.2",), None, C.ACR_TASKS),
    Case("acr-import-denial", "constructed: az acr import from a firewalled source registry",
         "$ az acr import -n target --source sourcereg.azurecr.io/shop/api:1.4 --image "
         "shop/api:1.4\n(InvalidParameters) Operation registries-8f2c failed. Resource "
         "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
         "Microsoft.ContainerRegistry/registries/target Image copy failed. Error: Get "
         "\"https://sourcereg.azurecr.io/v2/shop/api/manifests/1.4\": denied: client with IP "
         "'20.61.99.3' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("20.61.99.3",), "sourcereg.azurecr.io", C.ACR_IMPORT, "shop/api", "1.4"),
    Case("arm-resource-id-only", "constructed: ARM deployment error naming the registry by id",
         "Deployment failed. Correlation ID: 6d1e2f30-1111-4222-8333-944455556666. "
         "{\"code\":\"DeploymentFailed\",\"target\":\"/subscriptions/00000000-0000-0000-0000-"
         "000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/"
         "ProdReg01/importImage\",\"message\":\"DENIED: client with IP '20.61.99.4' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.\"}",
         K.IP_DENIED, ("20.61.99.4",), "prodreg01.azurecr.io", C.UNKNOWN,
         correlation_id="6d1e2f30-1111-4222-8333-944455556666"),
    # --- Container Apps / Instances / App Service ------------------------------------------------
    Case("aca-cli-operation-error", "constructed: az containerapp update failure",
         "(ContainerAppOperationError) Failed to provision revision for container app 'api'. "
         "Error details: Field 'template.containers.api.image' is invalid with details: 'Invalid "
         "value: \"contoso.azurecr.io/shop/api:1.4\": GET https:?scope=repository%3Ashop%2Fapi%3A"
         "pull&service=contoso.azurecr.io: DENIED: client with IP '4.210.1.2' is not allowed "
         "access. Refer https://aka.ms/acr/firewall to grant access.';",
         K.IP_DENIED, ("4.210.1.2",), "contoso.azurecr.io", C.CONTAINER_APPS, "shop/api", "1.4"),
    Case("aci-cli-inaccessible", "docs: Container Instances troubleshooting, InaccessibleImage",
         "$ az container create -g rg -n job --image contoso.azurecr.io/jobs/etl:2 "
         "--registry-login-server contoso.azurecr.io\n(InaccessibleImage) The image "
         "'contoso.azurecr.io/jobs/etl:2' in container group 'job' is not accessible. Please check "
         "the image and registry credential.\nCode: InaccessibleImage",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.CONTAINER_INSTANCES, "jobs/etl", "2",
         hint=H.INACCESSIBLE_IMAGE),
    Case("app-service-docker-api-denial", "constructed: App Service docker log (Log stream)",
         "2024-05-01T10:00:00.552Z INFO  - Pulling image: contoso.azurecr.io/web:latest\n"
         "2024-05-01T10:00:00.803Z ERROR - DockerApiException: Docker API responded with status "
         "code=InternalServerError, response={\"message\":\"Head \\\"https://contoso.azurecr.io/v2/"
         "web/manifests/latest\\\": denied: client with IP '20.50.2.3' is not allowed access. "
         "Refer https://aka.ms/acr/firewall to grant access.\"}\n"
         "2024-05-01T10:00:00.804Z ERROR - Pulling docker image contoso.azurecr.io/web:latest "
         "failed:\n",
         K.IP_DENIED, ("20.50.2.3",), "contoso.azurecr.io", C.APP_SERVICE, "web", "latest"),
    Case("app-service-message-denied", "constructed: App Service, daemon body is just denied",
         "2024-05-01T10:00:00.552Z INFO  - Pulling image: contoso.azurecr.io/web:latest\n"
         "2024-05-01T10:00:00.803Z ERROR - DockerApiException: Docker API responded with status "
         "code=InternalServerError, response={\"message\":\"denied\"}\n"
         "2024-05-01T10:00:00.804Z ERROR - Image pull failed: Verify docker image configuration "
         "and credentials (if using private repository)",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.APP_SERVICE, "web", "latest",
         hint=H.APP_SERVICE_DENIED),
    Case("app-service-unauthorized", "constructed: App Service with wrong registry credentials",
         "ERROR - DockerApiException: Docker API responded with status code=InternalServerError, "
         "response={\"message\":\"Get https://contoso.azurecr.io/v2/web/manifests/latest: "
         "unauthorized: authentication required\"}",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.APP_SERVICE, "web", "latest",
         cause=N.AUTHENTICATION),
    # --- helm / oras / buildkit --------------------------------------------------------------------
    Case("helm-pull-anonymous-403", "constructed: helm pull oci:// (helm 3.14 error wording)",
         "$ helm pull oci://contoso.azurecr.io/helm/shop --version 0.4.2\nError: failed to "
         "authorize: failed to fetch anonymous token: unexpected status from GET request to "
         "https://contoso.azurecr.io/oauth2/token?scope=repository%3Ahelm%2Fshop%3Apull&service="
         "contoso.azurecr.io: 403 Forbidden",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.HELM, "helm/shop", None,
         hint=H.ANONYMOUS_TOKEN, command="helm pull oci://contoso.azurecr.io/helm/shop --version 0.4.2"),
    Case("helm-install-denial", "constructed: helm install oci:// with the daemon-less resolver",
         "$ helm install shop oci://contoso.azurecr.io/helm/shop --version 0.4.2\nError: "
         "INSTALLATION FAILED: failed to do request: Head \"https://contoso.azurecr.io/v2/helm/"
         "shop/manifests/0.4.2\": denied: client with IP '91.38.188.168' is not allowed access. "
         "Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.168",), "contoso.azurecr.io", C.HELM, "helm/shop", "0.4.2"),
    Case("helm-error-only", "constructed: helm's error line pasted without the command",
         "Error: INSTALLATION FAILED: failed to do request: Head \"https://contoso.azurecr.io/v2/helm/"
         "shop/manifests/0.4.2\": denied: client with IP '91.38.188.180' is not allowed access. "
         "Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.180",), "contoso.azurecr.io", C.HELM, "helm/shop", "0.4.2"),
    Case("oras-pull-denial", "constructed: oras pull (oras 1.1 error wording)",
         "$ oras pull contoso.azurecr.io/artifacts/sbom:v1\nError: failed to resolve v1: GET "
         "\"https://contoso.azurecr.io/v2/artifacts/sbom/manifests/v1\": response status code 403: "
         "denied: client with IP '91.38.188.169' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.169",), "contoso.azurecr.io", C.ORAS, "artifacts/sbom", "v1",
         command="oras pull contoso.azurecr.io/artifacts/sbom:v1"),
    Case("oras-unauthorized", "constructed: oras pull without login",
         "$ oras pull contoso.azurecr.io/artifacts/sbom:v1\nError: failed to resolve v1: GET "
         "\"https://contoso.azurecr.io/v2/artifacts/sbom/manifests/v1\": response status code 401: "
         "unauthorized: authentication required",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.ORAS, "artifacts/sbom", "v1",
         cause=N.AUTHENTICATION, command="oras pull contoso.azurecr.io/artifacts/sbom:v1"),
    Case("buildkit-anonymous-403", "constructed: docker buildx build, FROM on a firewalled ACR",
         "#3 [internal] load metadata for contoso.azurecr.io/base/python:3.12\n#3 ERROR: failed "
         "to authorize: failed to fetch anonymous token: unexpected status from GET request to "
         "https://contoso.azurecr.io/oauth2/token?scope=repository%3Abase%2Fpython%3Apull&service="
         "contoso.azurecr.io: 403 Forbidden\n------\nERROR: failed to solve: "
         "contoso.azurecr.io/base/python:3.12: failed to resolve source metadata for "
         "contoso.azurecr.io/base/python:3.12: failed to authorize: failed to fetch anonymous "
         "token: unexpected status: 403 Forbidden",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.BUILDKIT, "base/python", "3.12",
         hint=H.ANONYMOUS_TOKEN),
    # --- SDKs ------------------------------------------------------------------------------------
    Case("sdk-python-http-response-error", "constructed: azure-containerregistry (Python) traceback",
         "Traceback (most recent call last):\n  File \"list.py\", line 9, in <module>\n"
         "    for name in client.list_repository_names():\n  File \"/usr/lib/python3.11/site-"
         "packages/azure/core/paging.py\", line 123, in __next__\n"
         "azure.core.exceptions.HttpResponseError: (DENIED) client with IP '203.0.113.7' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.\nCode: DENIED\n"
         "Message: client with IP '203.0.113.7' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\n(endpoint https://contoso.azurecr.io)",
         K.IP_DENIED, ("203.0.113.7",), "contoso.azurecr.io", C.SDK),
    Case("sdk-python-auth-error", "constructed: azure-containerregistry (Python), 401",
         "azure.core.exceptions.ClientAuthenticationError: (UNAUTHORIZED) authentication "
         "required, visit https://aka.ms/acr/authorization for more information.\n"
         "Code: UNAUTHORIZED\nContent: {\"errors\":[{\"code\":\"UNAUTHORIZED\"}]} (url "
         "https://contoso.azurecr.io/acr/v1/_catalog)",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.SDK,
         cause=N.AUTHENTICATION),
    Case("sdk-dotnet-request-failed", "constructed: Azure.Containers.ContainerRegistry (.NET)",
         "Unhandled exception. Azure.RequestFailedException: client with IP '203.0.113.8' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.\nStatus: 403 "
         "(Forbidden)\nErrorCode: DENIED\n\nContent:\n{\"errors\":[{\"code\":\"DENIED\",\"message\":"
         "\"client with IP '203.0.113.8' is not allowed access. Refer https://aka.ms/acr/firewall "
         "to grant access.\"}]}\n\nHeaders:\nx-ms-correlation-request-id: "
         "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\n   at Azure.Containers.ContainerRegistry."
         "ContainerRegistryClient.GetRepositoryNamesAsync() contoso.azurecr.io",
         K.IP_DENIED, ("203.0.113.8",), "contoso.azurecr.io", C.SDK,
         correlation_id="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
    # --- CI logs -----------------------------------------------------------------------------------
    Case("ci-github-docker", "constructed: GitHub Actions raw log of a docker pull step",
         "2024-05-01T10:00:00.1234567Z ##[group]Run docker pull contoso.azurecr.io/web:2.0\n"
         "2024-05-01T10:00:00.1234567Z docker pull contoso.azurecr.io/web:2.0\n"
         "2024-05-01T10:00:00.1234567Z shell: /usr/bin/bash -e {0}\n"
         "2024-05-01T10:00:00.1234567Z ##[endgroup]\n"
         "2024-05-01T10:00:01.2345678Z Error response from daemon: Head \"https://contoso.azurecr"
         ".io/v2/web/manifests/2.0\": denied: client with IP '4.175.10.\n"
         "2024-05-01T10:00:01.2345678Z 11' is not allowed access. Refer https://aka.ms/acr/firewall"
         " to grant access.\n"
         "2024-05-01T10:00:01.3456789Z ##[error]Process completed with exit code 1.\n",
         K.IP_DENIED, ("4.175.10.11",), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         command="docker pull contoso.azurecr.io/web:2.0"),
    Case("ci-azure-devops-docker", "constructed: Azure DevOps Docker@2 task log",
         "2024-05-01T10:00:00.1234567Z ##[section]Starting: Pull base image\n"
         "2024-05-01T10:00:00.2345678Z [command]/usr/bin/docker pull contoso.azurecr.io/base:1\n"
         "2024-05-01T10:00:01.2345678Z Error response from daemon: Get "
         "\"https://contoso.azurecr.io/v2/\": denied: client with IP '13.69.1.2' is not allowed "
         "access. Refer https://aka.ms/acr/firewall to grant access.\n"
         "2024-05-01T10:00:01.3456789Z ##[error]/usr/bin/docker failed with return code: 1\n",
         K.IP_DENIED, ("13.69.1.2",), "contoso.azurecr.io", C.DOCKER, "base", "1",
         command="docker pull contoso.azurecr.io/base:1"),
    Case("ci-github-unknown-tool", "constructed: GitHub Actions log, no tool named",
         "2024-05-01T10:00:00.1234567Z ##[group]Run ./deploy.sh\n"
         "2024-05-01T10:00:03.1234567Z fetch https://contoso.azurecr.io/v2/_catalog failed: "
         "DENIED: client with IP '4.175.10.12' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\n"
         "2024-05-01T10:00:03.2345678Z ##[error]Process completed with exit code 22.\n",
         K.IP_DENIED, ("4.175.10.12",), "contoso.azurecr.io", C.CI),
    Case("ci-buildx-in-actions", "constructed: docker/build-push-action log",
         "2024-05-01T10:00:00.1234567Z ##[group]Run docker/build-push-action@v5\n"
         "2024-05-01T10:00:09.1234567Z #4 ERROR: unexpected status from HEAD request to "
         "https://contoso.azurecr.io/v2/base/node/manifests/20: 403 Forbidden: denied: client "
         "with IP '4.175.10.13' is not allowed access. Refer https://aka.ms/acr/firewall to grant "
         "access.\n2024-05-01T10:00:09.2234567Z ##[error]buildx failed with: ERROR: failed to "
         "solve: contoso.azurecr.io/base/node:20: failed to resolve source metadata\n",
         K.IP_DENIED, ("4.175.10.13",), "contoso.azurecr.io", C.BUILDKIT, "base/node", "20"),
    # --- sovereign clouds ------------------------------------------------------------------------
    Case("sovereign-china", "constructed: docker pull against Azure China",
         "Error response from daemon: Head \"https://contosocn.azurecr.cn/v2/web/manifests/2.0\": "
         "denied: client with IP '139.219.1.2' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("139.219.1.2",), "contosocn.azurecr.cn", C.DOCKER, "web", "2.0"),
    Case("sovereign-usgov", "constructed: docker pull against Azure US Government, upper case host",
         "docker pull ContosoGov.AzureCR.us/web:2.0\nError response from daemon: denied: client "
         "with IP '52.227.1.2' is not allowed access. Refer https://aka.ms/acr/firewall to grant "
         "access.",
         K.IP_DENIED, ("52.227.1.2",), "contosogov.azurecr.us", C.DOCKER, "web", "2.0",
         command="docker pull contosogov.azurecr.us/web:2.0"),
    # --- redactions ----------------------------------------------------------------------------------
    Case("redacted-x-x-x-x", "docs: ACR network troubleshooting, placeholder address",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": denied: client with "
         "IP 'x.x.x.x' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), "contoso.azurecr.io", C.DOCKER, ip_redacted=True),
    Case("redacted-xx-pattern", "constructed: redacted by a person",
         "denied: client with IP 'xx.xx.xxx.xxx' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.UNKNOWN, ip_redacted=True),
    Case("redacted-XXX", "constructed: redacted by a person",
         "DENIED: client with IP 'XXX' is not allowed access. Refer https://aka.ms/acr/firewall "
         "to grant access.",
         K.IP_DENIED, (), None, C.UNKNOWN, ip_redacted=True),
    Case("redacted-your-ip-address-slack", "constructed: Slack-escaped placeholder",
         "denied: client with IP '&lt;your IP address&gt;' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.UNKNOWN, ip_redacted=True),
    Case("redacted-ip-address-tag", "docs: Q&A answers quoting the error with a placeholder",
         "Error response from daemon: denied: client with IP <ip-address> is not allowed access. "
         "Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.DOCKER, ip_redacted=True),
    Case("redacted-partial-spaced", "constructed: partial redaction with stray spaces",
         "denied: client with IP '52.xxx. xxx. xxx' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.UNKNOWN, ip_redacted=True),
    Case("redacted-partial", "constructed: partial redaction",
         "denied: client with IP '52.xxx.xxx.xxx' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.UNKNOWN, ip_redacted=True),
    Case("redacted-acrname", "docs: placeholder registry name in angle brackets",
         "docker pull <acrname>.azurecr.io/web:2.0\nError response from daemon: Head "
         "\"https://<acrname>.azurecr.io/v2/web/manifests/2.0\": denied: client with IP "
         "'91.38.188.170' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.170",), None, C.DOCKER, "web", "2.0", registry_redacted=True),
    Case("redacted-container-registry-braces", "constructed: portal-style placeholder",
         "Failed to pull image \"{Container registry}.azurecr.io/web:2.0\": rpc error: code = "
         "Unknown desc = failed to pull and unpack image: denied: client with IP 'x.x.x.x' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.KUBELET, "web", "2.0", ip_redacted=True,
         registry_redacted=True),
    Case("redacted-stars", "constructed: registry starred out",
         "Error response from daemon: Head \"https://*****.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with IP '91.38.188.171' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.171",), None, C.DOCKER, "web", "2.0", registry_redacted=True),
    Case("redacted-empty-name", "constructed: registry name deleted",
         "Error response from daemon: Get \"https://.azurecr.io/v2/\": denied: client with IP "
         "'91.38.188.172' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.172",), None, C.DOCKER, registry_redacted=True),
    Case("redacted-registry-braces", "constructed: template placeholder",
         "docker pull {registry}.azurecr.io/web:2.0\nError response from daemon: denied: client "
         "with IP '91.38.188.173' is not allowed access. Refer https://aka.ms/acr/firewall to "
         "grant access.",
         K.IP_DENIED, ("91.38.188.173",), None, C.DOCKER, "web", "2.0", registry_redacted=True),
    Case("placeholder-like-name-is-real", "constructed: `myregistry` is a name, not a redaction",
         "Error response from daemon: Head \"https://myregistry.azurecr.io/v2/hello-world/"
         "manifests/latest\": denied: client with IP '91.38.188.174' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.174",), "myregistry.azurecr.io", C.DOCKER, "hello-world",
         "latest"),
    # --- IPv6, several errors, odd cases -------------------------------------------------------------
    Case("ipv6-denial", "constructed: IPv6 client (dual-stack network)",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": denied: client with "
         "IP '2001:db8:85a3::8a2e:370:7334' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("2001:db8:85a3::8a2e:370:7334",), "contoso.azurecr.io", C.DOCKER),
    Case("multiple-denials-and-401", "constructed: a thread of several pastes",
         "first try:\nError response from daemon: Head \"https://contoso.azurecr.io/v2/web/"
         "manifests/2.0\": unauthorized: authentication required\nafter az acr login:\n"
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with IP '91.38.188.175' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.\nfrom the VPN:\nError response from daemon: "
         "Head \"https://other.azurecr.io/v2/web/manifests/2.0\": denied: client with IP "
         "'91.38.188.176' is not allowed access. Refer https://aka.ms/acr/firewall to grant "
         "access.\nagain:\ndenied: client with IP '91.38.188.175' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.175", "91.38.188.176"), "contoso.azurecr.io", C.DOCKER, "web",
         "2.0"),
    Case("version-numbers-not-ips", "constructed: docker info noise before a 403 without body",
         "Server Version: 24.0.7\ncontainerd version: 1.7.13.1\nKernel Version: 5.15.0.1057\n"
         "ctr: failed to resolve reference \"contoso.azurecr.io/web:2.0\": failed to authorize: "
         "failed to fetch anonymous token: unexpected status: 403 Forbidden\n"
         "at 2024-05-01 10:00:00.123 from 10.0.0.4",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.CONTAINERD, "web", "2.0",
         hint=H.ANONYMOUS_TOKEN),
    Case("correlation-json", "constructed: ARM-style JSON error with correlationId",
         "{\"error\":{\"code\":\"DENIED\",\"message\":\"client with IP '91.38.188.177' is not "
         "allowed access. Refer https://aka.ms/acr/firewall to grant access.\"},"
         "\"correlationId\":\"9e5a0c2b-3d4f-4a1b-9c8d-7e6f5a4b3c2d\","
         "\"target\":\"contoso.azurecr.io\"}",
         K.IP_DENIED, ("91.38.188.177",), "contoso.azurecr.io", C.UNKNOWN,
         correlation_id="9e5a0c2b-3d4f-4a1b-9c8d-7e6f5a4b3c2d"),
    Case("firewall-link-only", "constructed: message cut before the sentence, link kept",
         "...grant access. Refer https://aka.ms/acr/firewall to grant access.\n(that's all I have)",
         K.FIREWALL_SUSPECTED, (), None, C.UNKNOWN,
         hint=H.FIREWALL_LINK),
    Case("azure-sql-not-acr", "constructed: Azure SQL's firewall message is not ACR's",
         "Cannot open server 'contoso' requested by the login. Client with IP address "
         "'91.38.188.178' is not allowed to access the server.",
         K.UNRECOGNIZED, (), None, C.UNKNOWN),
    Case("unrecognized-chat", "constructed: a question without an error",
         "hi team, my pod in shop namespace keeps restarting since this morning, any idea?",
         K.UNRECOGNIZED, (), None, C.UNKNOWN),
    Case("ipv4-mapped-ipv6", "constructed: address logged in IPv4-mapped form",
         "denied: client with IP '::ffff:91.38.188.179' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("91.38.188.179",), None, C.UNKNOWN),
]  # fmt: skip

# Shapes reported in public issue trackers. Names, ids and addresses are changed and the
# surrounding text is shortened; the error shapes (line breaks, escapes, redactions) are kept.
REPORTED: list[Case] = [
    Case("acr-run-purge-agent", "report: github.com/Azure/azure-cli/issues/27253 (az acr run purge, agent IP blocked)",
         "Queued a run with ID: cg2\nWaiting for an agent...\n"
         "2023/08/24 12:43:22 Alias support enabled for version >= 1.1.0, please see "
         "https://aka.ms/acr/tasks/task-aliases for more information.\n"
         "2023/08/24 12:43:23 Logging in to registry: fabrikamimages.azurecr.io\n"
         "failed to login, ran out of retries: failed to set docker credentials: Error response "
         "from daemon: Get \"https://fabrikamimages.azurecr.io/v2/\": denied: client with IP "
         "'52.138.231.5' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.\n"
         "Run ID: cg2 failed after 4s. Error: failed during run, err: exit status 1",
         K.IP_DENIED, ("52.138.231.5",), "fabrikamimages.azurecr.io", C.ACR_TASKS),
    Case("gha-json-escaped-empty-registry", "report: github.com/docker/build-push-action/issues/1214 (registry name blanked, JSON escapes, URL on its own line)",
         "error response from daemon: Get \"https://.azurecr.io/v2/\": denied: "
         "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP \\u0027172.214.169.102\\u0027 "
         "is not allowed access. Refer\nhttps://aka.ms/acr/firewall\nto grant access.\"}]}*",
         K.IP_DENIED, ("172.214.169.102",), None, C.DOCKER, registry_redacted=True),
    Case("aci-redacted-ip-and-registry", "report: github.com/Azure/acr/issues/633 (ACI, both IP and registry redacted)",
         "Failed to pull image \"<acrname>.azurecr.io/<imagae-name>:02b6d84d\": rpc error: code "
         "Unknown desc Error response from daemon: Head \"https://<acrname>.azurecr.io/v2/"
         "<image-name>/manifests/02b6d84d\": denied: client with IP 'x.x.x.x' is not allowed "
         "access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, (), None, C.KUBELET, ip_redacted=True, registry_redacted=True),
    Case("aks-anonymous-token-401", "report: github.com/Azure/AKS/issues/4459 (AKS: anonymous token refused with 401, an auth problem)",
         "Failed to pull image \"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to pull and "
         "unpack image \"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to resolve reference "
         "\"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to authorize: failed to fetch "
         "anonymous token: unexpected status from GET request to "
         "https://fabrikam.azurecr.io/oauth2/token?scope=repository%3Amain%2Forders%3Apull"
         "&service=fabrikam.azurecr.io: 401 Unauthorized",
         K.NOT_FIREWALL, (), "fabrikam.azurecr.io", C.KUBELET, "main/orders", "v5.0.0",
         cause=N.AUTHENTICATION),
    Case("aks-anonymous-token-403", "report: same shape as Azure/AKS#4459 with 403, as Microsoft's AKS troubleshooting article shows for a firewall refusal",
         "Failed to pull image \"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to pull and "
         "unpack image \"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to resolve reference "
         "\"fabrikam.azurecr.io/main/orders:v5.0.0\": failed to authorize: failed to fetch "
         "anonymous token: unexpected status from GET request to "
         "https://fabrikam.azurecr.io/oauth2/token?scope=repository%3Amain%2Forders%3Apull"
         "&service=fabrikam.azurecr.io: 403 Forbidden",
         K.FIREWALL_SUSPECTED, (), "fabrikam.azurecr.io", C.KUBELET, "main/orders", "v5.0.0",
         hint=H.ANONYMOUS_TOKEN),
    Case("k8s-unauthorized", "report: github.com/helm/helm/issues/12189 (kubelet, authentication required)",
         "Failed to pull image \"fabrikamqa.azurecr.io/authbase:v2\": rpc error: code = Unknown "
         "desc = Error response from daemon: Head \"https://fabrikamqa.azurecr.io/v2/authbase/"
         "manifests/v2\": unauthorized: authentication required, visit "
         "https://aka.ms/acr/authorization for more information.",
         K.NOT_FIREWALL, (), "fabrikamqa.azurecr.io", C.KUBELET, "authbase", "v2",
         cause=N.AUTHENTICATION),
    Case("az-acr-login-ado-debug", "report: github.com/Azure/azure-cli/issues/28740 (az acr login --debug in Azure DevOps, registry redacted)",
         "2024-04-13T00:29:22.8113058Z DEBUG: cli.azure.cli.command_modules.acr._docker_utils: "
         "Could not get registry from service. Exception: The resource with name '<redacted>' and "
         "type 'Microsoft.ContainerRegistry/registries' could not be found in subscription "
         "'<redacted>)'.\n"
         "2024-04-13T00:29:22.8113917Z DEBUG: cli.azure.cli.command_modules.acr._docker_utils: "
         "Sending a HTTP Get request to https://<redacted>.azurecr.io/v2/\n"
         "2024-04-13T00:29:23.1000000Z WARNING: Unable to get AAD authorization tokens with "
         "message: An error occurred: CONNECTIVITY_REFRESH_TOKEN_ERROR\n"
         "2024-04-13T00:29:23.1000001Z Access to registry '<redacted>.azurecr.io' was denied. "
         "Response code: 403. Please try running 'az login' again to refresh permissions.",
         K.FIREWALL_SUSPECTED, (), None, C.AZ_CLI, registry_redacted=True,
         hint=H.REFRESH_TOKEN),
]  # fmt: skip

# Round 2 (issue 8): registry errors that are not the firewall, refusals without an IP that most
# likely are, damaged pastes and names. Shapes from public issue trackers, names and addresses
# changed; where a report was redacted inconsistently, one name is used throughout.
ROUND2: list[Case] = [
    # --- DNS ---------------------------------------------------------------------------------
    Case("dns-no-such-host-systemd-resolved", "report: github.com/docker/login-action/issues/718 (lookup on 127.0.0.53:53)",
         "Run docker/login-action@v3\nLogging into fabrikamapps.azurecr.io...\nError: Error response "
         "from daemon: Get \"https://fabrikamapps.azurecr.io/v2/\": dial tcp: lookup "
         "fabrikamapps.azurecr.io on 127.0.0.53:53: no such host",
         K.NOT_FIREWALL, (), "fabrikamapps.azurecr.io", C.DOCKER, cause=N.DNS),
    Case("dns-azure-resolver-ci", "report: github.com/virtual-kubelet/azure-aci/issues/65 (Azure's resolver 168.63.129.16 answered)",
         "Get https://fabrikamci.azurecr.io/v2/: dial tcp: lookup fabrikamci.azurecr.io on "
         "168.63.129.16:53: no such host\nThe process '/usr/bin/docker' failed with exit code 1",
         K.NOT_FIREWALL, (), "fabrikamci.azurecr.io", C.UNKNOWN, cause=N.DNS),
    Case("dns-resolver-refused-ipv6-loopback", "constructed: containerd on a node whose resolver is down ([::1]:53 refused)",
         "Failed to pull image \"contoso.azurecr.io/shop/api:1.4\": rpc error: code = Unknown desc "
         "= failed to pull and unpack image \"contoso.azurecr.io/shop/api:1.4\": failed to resolve "
         "reference \"contoso.azurecr.io/shop/api:1.4\": failed to do request: Head "
         "\"https://contoso.azurecr.io/v2/shop/api/manifests/1.4\": dial tcp: lookup "
         "contoso.azurecr.io on [::1]:53: read udp [::1]:52104->[::1]:53: read: connection refused",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.KUBELET, "shop/api", "1.4", cause=N.DNS),
    Case("dns-coredns-timeout", "constructed: kubelet event, cluster DNS timing out (the resolver's address is not the client)",
         "  Warning  Failed     3s    kubelet  Failed to pull image \"contoso.azurecr.io/web:2.0\": "
         "failed to pull and unpack image \"contoso.azurecr.io/web:2.0\": failed to resolve "
         "reference \"contoso.azurecr.io/web:2.0\": failed to do request: Head "
         "\"https://contoso.azurecr.io/v2/web/manifests/2.0\": dial tcp: lookup contoso.azurecr.io "
         "on 10.0.0.10:53: read udp 10.244.1.5:40000->10.0.0.10:53: i/o timeout",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.KUBELET, "web", "2.0", cause=N.DNS),
    Case("dns-data-endpoint-private", "constructed: layer download from a data endpoint whose private DNS record is missing",
         "Failed to pull image \"contoso.azurecr.io/web:2.0\": rpc error: code = Unknown desc = "
         "failed to pull and unpack image \"contoso.azurecr.io/web:2.0\": failed to copy: "
         "httpReadSeeker: failed open: failed to do request: Get \"https://contoso.westeurope.data."
         "azurecr.io/docker/registry/v2/blobs/sha256/aa/data\": dial tcp: lookup "
         "contoso.westeurope.data.azurecr.io: no such host",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.KUBELET, "web", "2.0", cause=N.DNS,
         endpoint="contoso.westeurope.data.azurecr.io"),
    Case("dns-temporary-failure-az", "constructed: az acr login from a machine without DNS (Python requests wording)",
         "$ az acr login --name contoso\nHTTPSConnectionPool(host='contoso.azurecr.io', port=443): "
         "Max retries exceeded with url: /v2/ (Caused by NewConnectionError('<urllib3.connection."
         "HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] "
         "Temporary failure in name resolution'))",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.AZ_CLI, cause=N.DNS,
         command="az acr login --name contoso"),
    # --- TLS ---------------------------------------------------------------------------------
    Case("tls-privatelink-name-used", "report: github.com/Azure/acr/issues/425 (pod image on the privatelink name)",
         "Failed to pull image \"fabrikamsafe.privatelink.azurecr.io/ubuntu-test:mytag\": rpc error: "
         "code = Unknown desc = Error response from daemon: Get "
         "https://fabrikamsafe.privatelink.azurecr.io/v2/: x509: certificate is valid for "
         "*.azurecr.io, not fabrikamsafe.privatelink.azurecr.io",
         K.NOT_FIREWALL, (), "fabrikamsafe.azurecr.io", C.KUBELET, "ubuntu-test", "mytag",
         cause=N.TLS, endpoint="fabrikamsafe.privatelink.azurecr.io"),
    Case("tls-docker-login-privatelink", "report: github.com/Azure/acr/issues/360 (docker login to the privatelink name)",
         "[root@registry user]# docker login fabrikamacr.privatelink.azurecr.io\nUsername: "
         "fabrikamacr\nPassword:\nError response from daemon: Get "
         "https://fabrikamacr.privatelink.azurecr.io/v2/: x509: certificate is valid for "
         "*.azurecr.io, not fabrikamacr.privatelink.azurecr.io",
         K.NOT_FIREWALL, (), "fabrikamacr.azurecr.io", C.DOCKER, cause=N.TLS,
         endpoint="fabrikamacr.privatelink.azurecr.io"),
    Case("tls-custom-domain-certificate", "constructed: custom domain in front of ACR without its own certificate",
         "docker pull cr.zuehlke.cloud/nginx:1.25\nError response from daemon: Get "
         "\"https://cr.zuehlke.cloud/v2/\": tls: failed to verify certificate: x509: certificate "
         "is valid for *.azurecr.io, azurecr.io, not cr.zuehlke.cloud",
         K.NOT_FIREWALL, (), "tzuehlke.azurecr.io", C.DOCKER, "nginx", "1.25", cause=N.TLS,
         custom_domain="cr.zuehlke.cloud", custom_domains=GATEWAY,
         command="docker pull cr.zuehlke.cloud/nginx:1.25"),
    Case("tls-proxy-unknown-authority", "constructed: corporate TLS inspection",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": tls: failed to "
         "verify certificate: x509: certificate signed by unknown authority",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, cause=N.TLS),
    # --- rate limits -------------------------------------------------------------------------
    Case("rate-docker-hub-run", "report: github.com/Azure/fleet/pull/981 (Docker Hub pull rate limit in CI)",
         "Unable to find image 'multiarch/qemu-user-static:5.2.0-2' locally\ndocker: Error response "
         "from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the "
         "limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit.",
         K.NOT_FIREWALL, (), None, C.DOCKER, cause=N.RATE_LIMITED, command=None),
    Case("rate-mcr-buildkit", "report: github.com/microsoft/containerregistry/issues/140 (MCR 429 in buildx)",
         "#3 [internal] load metadata for mcr.microsoft.com/dotnet/aspnet:8.0\n#3 ERROR: pulling "
         "from host mcr.microsoft.com failed with status code [manifests 8.0]: 429 Too Many "
         "Requests\n------\nERROR: failed to solve: mcr.microsoft.com/dotnet/aspnet:8.0: failed to "
         "resolve source metadata",
         K.NOT_FIREWALL, (), None, C.BUILDKIT, cause=N.RATE_LIMITED),
    Case("rate-acr-sku-toomanyrequests", "report: github.com/microsoft/containerregistry/issues/108 (ACR-served 429 wording)",
         "2022-03-29T07:00:30.5006078Z docker: error pulling image configuration: "
         "toomanyrequests: Too many requests. Please visit https://aka.ms/acr/skus#sku-feature-matrix"
         " to view limits of all service tiers.",
         K.NOT_FIREWALL, (), None, C.CI, cause=N.RATE_LIMITED),
    # --- server errors, answers that are not the registry's ----------------------------------
    Case("server-error-503", "constructed: docker pull during a registry incident",
         "docker pull contoso.azurecr.io/web:2.0\nError response from daemon: received unexpected "
         "HTTP status: 503 Service Unavailable",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         cause=N.SERVER_ERROR, command="docker pull contoso.azurecr.io/web:2.0"),
    Case("server-error-helm-500", "report: github.com/fluxcd/source-controller/issues/193 (ACR answering 500)",
         "failed to fetch https://fabrikamcharts.azurecr.io/helm/v1/repo/index.yaml : 500 Internal "
         "Server Error",
         K.NOT_FIREWALL, (), "fabrikamcharts.azurecr.io", C.UNKNOWN, cause=N.SERVER_ERROR),
    Case("not-registry-empty-404-custom-domain", "report: github.com/Azure/acr/issues/576 (custom domain, empty 404 body)",
         "docker pull cr.zuehlke.cloud/web:latest\nError response from daemon: error parsing HTTP "
         "404 response body: unexpected end of JSON input: \"\"",
         K.NOT_FIREWALL, (), "tzuehlke.azurecr.io", C.DOCKER, "web", "latest",
         cause=N.NOT_FROM_REGISTRY, custom_domain="cr.zuehlke.cloud", custom_domains=GATEWAY,
         command="docker pull cr.zuehlke.cloud/web:latest"),
    Case("not-registry-challenge-404", "report: github.com/Azure/acr/issues/847 (no challenge, /v2/ answered 404)",
         "Unable to get AAD authorization tokens with message: 2025-09-08 15:31:40.404189 An error "
         "occurred: CONNECTIVITY_CHALLENGE_ERROR\nRegistry 'fabrikamlab.azurecr.io' did not issue a "
         "challenge.\nError response from daemon: login attempt to https://fabrikamlab.azurecr.io"
         "/v2/ failed with status: 404 Not Found\nLogin failed.",
         K.NOT_FIREWALL, (), "fabrikamlab.azurecr.io", C.AZ_CLI, cause=N.NOT_FROM_REGISTRY),
    # --- connectivity ------------------------------------------------------------------------
    Case("conn-reset-by-peer-agent", "report: github.com/Azure/acr/issues/305 (private agent, reset by peer)",
         "The push refers to repository [fabrikamshared.azurecr.io/coesd/base-deploy-helm]\nGet "
         "https://fabrikamshared.azurecr.io/v2/: read tcp 10.232.61.203:43262->52.236.186.80:443: "
         "read: connection reset by peer\n##[error]Get https://fabrikamshared.azurecr.io/v2/: read "
         "tcp 10.232.61.203:43262->52.236.186.80:443: read: connection reset by peer",
         K.NOT_FIREWALL, (), "fabrikamshared.azurecr.io", C.CI, "coesd/base-deploy-helm",
         cause=N.CONNECTIVITY),
    Case("conn-private-endpoint-timeout", "report: github.com/Azure/acr/issues/594 (token exchange to the private endpoint timing out)",
         "[2021-12-29T14:41:37Z] Validating image pull permission: FAILED\n[2021-12-29T14:41:37Z] "
         "ACR d*****.azurecr.io rejected token exchange: failed to send token exchange request: "
         "Post https://d*****.azurecr.io/oauth2/exchange: dial tcp 10.201.3.5:443: i/o timeout",
         K.NOT_FIREWALL, (), None, C.UNKNOWN, cause=N.PRIVATE_ENDPOINT, registry_redacted=True,
         remote_ip="10.201.3.5"),
    Case("conn-az-login-unreachable", "report: github.com/Azure/acr/issues/659 (az acr login cannot connect)",
         "Could not connect to the registry login server 'fabrikamacr.azurecr.io'. Please verify "
         "that the registry exists and the URL 'https://fabrikamacr.azurecr.io/v2/' is reachable "
         "from your environment.\nTry running 'az acr check-health -n fabrikamacr --yes' to "
         "diagnose this issue.",
         K.NOT_FIREWALL, (), "fabrikamacr.azurecr.io", C.AZ_CLI, cause=N.CONNECTIVITY),
    Case("conn-client-timeout", "docs: ACR troubleshoot network issues (Client.Timeout exceeded)",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": net/http: request "
         "canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, cause=N.CONNECTIVITY),
    # --- refusals without an IP that most likely are the firewall -----------------------------
    Case("aci-not-accessible-no-code", "report: github.com/dgkanatsios/AzureContainerInstancesManagement/issues/15 (message without the code)",
         "ERROR: Error: The image 'fabrikamjobs.azurecr.io/image_name:latest' in container group "
         "'image_name' is not accessible. Please check the image and registry credential.",
         K.FIREWALL_SUSPECTED, (), "fabrikamjobs.azurecr.io", C.CONTAINER_INSTANCES, "image_name",
         "latest", hint=H.INACCESSIBLE_IMAGE),
    Case("aci-sdk-not-accessible", "report: github.com/Azure/azure-sdk-for-net/issues/36227 (.NET SDK, starred names)",
         "Azure.RequestFailedException: 'The image 'fabrikam.azurecr.io/jobs/report:7' in "
         "container group 'nightly' is not accessible. Please check the image and registry "
         "credential.\nStatus: 400 (Bad Request)\nErrorCode: InaccessibleImage",
         K.FIREWALL_SUSPECTED, (), "fabrikam.azurecr.io", C.CONTAINER_INSTANCES, "jobs/report",
         "7", hint=H.INACCESSIBLE_IMAGE),
    Case("aca-managed-identity-user-assigned", "report: a public repository's notes on Container Apps (user-assigned identity)",
         "Field 'template.containers.backend.image' is invalid with details: 'Invalid value: "
         "\"factorydevacr.azurecr.io/factory-agent/backend:d35241a\": unable to pull image using "
         "Managed identity /subscriptions/***/resourceGroups/factory-dev-rg/providers/Microsoft."
         "ManagedIdentity/userAssignedIdentities/factory-dev-identity for registry "
         "factorydevacr.azurecr.io'",
         K.FIREWALL_SUSPECTED, (), "factorydevacr.azurecr.io", C.CONTAINER_APPS,
         "factory-agent/backend", "d35241a", hint=H.MANAGED_IDENTITY_PULL),
    Case("aca-managed-identity-system", "report: a public repository's deploy notes (system identity, az containerapp update)",
         "ERROR: (ContainerAppOperationError) unable to pull image using Managed identity system "
         "for registry wealthprodacr.azurecr.io",
         K.FIREWALL_SUSPECTED, (), "wealthprodacr.azurecr.io", C.CONTAINER_APPS,
         hint=H.MANAGED_IDENTITY_PULL),
    Case("acr-task-import-access-denied", "report: github.com/Azure/acr/issues/571 (import inside a task)",
         "steps:\n - cmd: az acr import --name {{.Run.RegistryName}} --source "
         "fabrikamsrc.azurecr.io/dip-process-backend:1.4.7734 --image dip-process-backend:1.4.7734 "
         "--force\n2021/08/19 15:41:53 Launching container with name: acb_step_1\nERROR: Deployment "
         "failed. Correlation ID: 025f7991-e511-4863-89fc-685ad8f580f1. Operation "
         "registries-fac9ea94-0103-11ec-adfc-0242ac120002 failed. Resource /subscriptions/"
         "00000000-0000-0000-0000-000000000000/resourceGroups/rg-fabrikam/providers/"
         "Microsoft.ContainerRegistry/registries/fabrikamdst Access to fabrikamdst.azurecr.io "
         "denied.",
         K.FIREWALL_SUSPECTED, (), "fabrikamdst.azurecr.io", C.ACR_IMPORT,
         correlation_id="025f7991-e511-4863-89fc-685ad8f580f1", hint=H.REGISTRY_ACCESS_DENIED),
    Case("challenge-check-health", "report: github.com/Azure/acr/issues/645 (check-health; the DNS answer's IP is not the client)",
         "$ az acr check-health -n nimblecr\nDocker daemon status: available\nDocker version: "
         "Docker version 19.03.9, build 9d988398e7\nDocker pull of "
         "'mcr.microsoft.com/mcr/hello-world:latest' : OK\nAzure CLI version: 2.4.0\nDNS lookup to "
         "nimblecr.azurecr.io at IP 172.30.2.6 : OK\nAn error occurred: "
         "CONNECTIVITY_CHALLENGE_ERROR\nRegistry 'nimblecr.azurecr.io' did not issue a challenge."
         "\n\nPlease refer to https://aka.ms/acr/errors#connectivity_challenge_error for more "
         "information.",
         K.FIREWALL_SUSPECTED, (), "nimblecr.azurecr.io", C.AZ_CLI, hint=H.CHALLENGE),
    Case("az-forbidden-looks-like", "docs: ACR public network rules, troubleshoot (az CLI wording)",
         "$ az acr login --name contoso\nLooks like you don't have access to registry "
         "'contoso.azurecr.io'. Are firewalls and virtual networks enabled?",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.AZ_CLI, hint=H.FORBIDDEN,
         command="az acr login --name contoso"),
    # --- damaged pastes ----------------------------------------------------------------------
    Case("cut-after-not-allowed", "constructed: paste cut at the end of `is not allowed`",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with IP '91.38.188.190' is not allowed",
         K.IP_DENIED, ("91.38.188.190",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("cut-after-the-address", "constructed: paste cut right after the address",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "DENIED: client with IP '91.38.188.192'",
         K.IP_DENIED, ("91.38.188.192",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    Case("cut-after-client-with", "constructed: paste cut after `client with`",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         hint=H.SENTENCE_CUT),
    Case("hash-quoted-ip-wrapped", "constructed: log quoted with `# ` on every line, the address wrapped",
         "# $ docker pull contoso.azurecr.io/web:2.0\n# Error response from daemon: Head "
         "\"https://contoso.azurecr.io/v2/web/manifests/2.0\": denied: client with IP '4.175.10.\n"
         "# 11' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("4.175.10.11",), "contoso.azurecr.io", C.DOCKER, "web", "2.0",
         command="docker pull contoso.azurecr.io/web:2.0"),
    Case("gt-quoted-ip-wrapped", "constructed: Slack quote (`&gt; `) on every line, the address wrapped",
         "&gt; Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "denied: client with IP '4.175.\n&gt; 10.12' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.",
         K.IP_DENIED, ("4.175.10.12",), "contoso.azurecr.io", C.DOCKER, "web", "2.0"),
    # --- names -------------------------------------------------------------------------------
    Case("privatelink-name-denial", "constructed: the privatelink name is a real registry name, not a redaction",
         "Error response from daemon: Get \"https://contoso.privatelink.azurecr.io/v2/\": denied: "
         "client with IP '91.38.188.191' is not allowed access. Refer https://aka.ms/acr/firewall "
         "to grant access.",
         K.IP_DENIED, ("91.38.188.191",), "contoso.azurecr.io", C.DOCKER,
         endpoint="contoso.privatelink.azurecr.io"),
    Case("docker-not-found-sh", "constructed: CI image without docker (dash's wording)",
         "$ docker pull contoso.azurecr.io/web:2.0\n/bin/sh: 1: docker: not found",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0", cause=N.LOCAL_TOOL,
         command="docker pull contoso.azurecr.io/web:2.0"),
    Case("docker-command-not-found-bash", "constructed: bash's wording",
         "+ docker pull contoso.azurecr.io/shop/api:1.4\n./deploy.sh: line 12: docker: command not "
         "found",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "shop/api", "1.4",
         cause=N.LOCAL_TOOL, command="docker pull contoso.azurecr.io/shop/api:1.4"),
    Case("helm-command-not-found-zsh", "constructed: zsh's wording",
         "% helm pull oci://contoso.azurecr.io/helm/shop --version 0.4.2\nzsh: command not found: helm",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.HELM, "helm/shop", cause=N.LOCAL_TOOL,
         command="helm pull oci://contoso.azurecr.io/helm/shop --version 0.4.2"),
    Case("docker-daemon-not-running", "constructed: the daemon is not running",
         "docker pull contoso.azurecr.io/web:2.0\nCannot connect to the Docker daemon at "
         "unix:///var/run/docker.sock. Is the docker daemon running?",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0", cause=N.LOCAL_TOOL),
    Case("docker-not-recognized-windows", "constructed: Windows cmd without docker on the PATH",
         "C:\\src> docker pull contoso.azurecr.io/web:2.0\n'docker' is not recognized as an "
         "internal or external command,\noperable program or batch file.",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, "web", "2.0", cause=N.LOCAL_TOOL),
]  # fmt: skip

ROUND2 += [
    Case("check-health-dns-error", "docs: az acr check-health error reference (CONNECTIVITY_DNS_ERROR)",
         "$ az acr check-health -n fabrikamedge --yes\nDocker daemon status: available\nAn error "
         "occurred: CONNECTIVITY_DNS_ERROR\nDNS lookup to registry 'fabrikamedge.azurecr.io' "
         "failed.\nPlease refer to https://aka.ms/acr/errors#connectivity_dns_error for more "
         "information.",
         K.NOT_FIREWALL, (), "fabrikamedge.azurecr.io", C.AZ_CLI, cause=N.DNS),
    Case("check-health-ssl-error", "docs: az acr check-health error reference (CONNECTIVITY_SSL_ERROR, behind a proxy)",
         "An error occurred: CONNECTIVITY_SSL_ERROR\nUnable to establish a secure connection to "
         "'fabrikamedge.azurecr.io'.",
         K.NOT_FIREWALL, (), "fabrikamedge.azurecr.io", C.AZ_CLI, cause=N.TLS),
    Case("aci-registry-error-response", "constructed: Container Instances, the registry answered with an error",
         "(RegistryErrorResponse) An error response is received from the docker registry "
         "'index.docker.io'. Please retry later.\nCode: RegistryErrorResponse",
         K.NOT_FIREWALL, (), None, C.UNKNOWN, cause=N.SERVER_ERROR),
    Case("proxyconnect-refused", "constructed: containerd through an HTTPS proxy that is down (the proxy's address is private)",
         "failed to do request: Head \"https://contoso.azurecr.io/v2/web/manifests/2.0\": "
         "proxyconnect tcp: dial tcp 10.0.0.5:3128: connect: connection refused",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.UNKNOWN, "web", "2.0", cause=N.CONNECTIVITY),
    Case("tls-handshake-failure", "constructed: TLS refused by a middlebox",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": remote error: tls: "
         "handshake failure",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, cause=N.TLS),
]  # fmt: skip

ROUND2 += [
    Case("docker-head-bare-forbidden", "constructed: a HEAD refused with no body (docker prints the status text)",
         "Error response from daemon: Head \"https://contoso.azurecr.io/v2/web/manifests/1.0\": "
         "Forbidden",
         K.FIREWALL_SUSPECTED, (), "contoso.azurecr.io", C.DOCKER, "web", "1.0",
         hint=H.STATUS_403),
    Case("prose-forbidden-is-not-a-status", "constructed: the word in a sentence is not a 403",
         "Pushing to contoso.azurecr.io is forbidden on Fridays, see the wiki.",
         K.UNRECOGNIZED, (), "contoso.azurecr.io", C.UNKNOWN),
    Case("connection-cut-eof", "constructed: the connection closed before any answer",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": EOF",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, cause=N.CONNECTIVITY),
    Case("az-docker-command-error", "docs: az acr login without Docker (DOCKER_COMMAND_ERROR)",
         "$ az acr login -n contoso\nAn error occurred: DOCKER_COMMAND_ERROR\nPlease verify if "
         "Docker client is installed and running.",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.AZ_CLI, cause=N.LOCAL_TOOL,
         command="az acr login --name contoso"),
]  # fmt: skip

ROUND2 += [
    Case("podman-html-403-proxy", "constructed: podman through a proxy that answers with its own HTML page",
         "Error: initializing source docker://contoso.azurecr.io/web:2.0: reading manifest 2.0 in "
         "contoso.azurecr.io/web: StatusCode: 403, \"<html>\\r\\n<head><title>403 Forbidden</title>"
         "</head>\\r\\n<body>\\r\\n<center><h1>403 Forbidden</h1></center>\\r\\n</body>\\r\\n</html>\"",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.PODMAN, "web", "2.0",
         cause=N.NOT_FROM_REGISTRY),
    Case("http-answer-to-https", "constructed: something plain-HTTP answers on the registry's name",
         "Error response from daemon: Get \"https://contoso.azurecr.io/v2/\": http: server gave "
         "HTTP response to HTTPS client",
         K.NOT_FIREWALL, (), "contoso.azurecr.io", C.DOCKER, cause=N.NOT_FROM_REGISTRY),
]  # fmt: skip

"""The miss classes of issue 18, each from public reports this project had not seen before (the
source of each paste is beside it; values are kept as reported, identifiers shortened):
other registries' errors are named for their registry and cause, never ACR's firewall; a Container
Apps `ImagePullFailure` with no answer is a suspected network or firewall cause; a client that
cannot reach the Kubernetes API server is not a registry timeout."""

from __future__ import annotations

import pytest

from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.verdicts import Verdict, diagnose
from services.domain.failure import Client, FailureKind, FirewallHint, NotFirewallCause

OTHER_REGISTRIES = [
    pytest.param(
        # terraform-google-modules/terraform-google-kubernetes-engine#1779
        "gkhaikin@gke-dev ~ $ docker pull europe-west2-docker.pkg.dev/proj-1/ml/app:4.19.5\n"
        'Error response from daemon: Head "https://europe-west2-docker.pkg.dev/v2/proj-1/ml/app/'
        'manifests/4.19.5": denied: Permission "artifactregistry.repositories.downloadArtifacts" '
        'denied on resource "projects/proj-1/locations/europe-west2/repositories/ml" (or it may '
        "not exist)",
        "Google Artifact Registry",
        NotFirewallCause.PERMISSION,
        id="gar-docker-pull",
    ),
    pytest.param(
        # GoogleContainerTools/skaffold#6743
        "getting image id from finished build: getting image: GET https://europe-docker.pkg.dev/"
        "v2/token?scope=repository%3Aproj%2Frepo%2Fnodejs-hello-world%3Apull&service=europe-"
        'docker.pkg.dev: DENIED: Permission "artifactregistry.repositories.downloadArtifacts" '
        'denied on resource "projects/proj/locations/europe/repositories/repo" (or it may not '
        "exist)\nSkaffold exited with code 1.",
        "Google Artifact Registry",
        NotFirewallCause.PERMISSION,
        id="gar-skaffold",
    ),
    pytest.param(
        # CircleCI-Public/aws-ecr-orb#265
        "ERROR: denied: Your authorization token has expired. Reauthenticate and try again.",
        "Amazon ECR",
        NotFirewallCause.AUTHENTICATION,
        id="ecr-expired",
    ),
    pytest.param(
        # buildkite/elastic-ci-stack-for-aws#178
        "Pulling container_name (container details)...\nERROR: denied: Your Authorization Token "
        "has expired. Please run 'aws ecr get-login' to fetch a new one.",
        "Amazon ECR",
        NotFirewallCause.AUTHENTICATION,
        id="ecr-get-login",
    ),
    pytest.param(
        # coollabsio/coolify#5575
        "#2 [internal] load metadata for ghcr.io/railwayapp/nixpacks:ubuntu-1741046653\n"
        "#2 ERROR: failed to authorize: failed to fetch oauth token: unexpected status from GET "
        "request to https://ghcr.io/token?scope=repository%3Arailwayapp%2Fnixpacks%3Apull&"
        "service=ghcr.io: 403 Forbidden",
        "GitHub Container Registry (ghcr.io)",
        NotFirewallCause.PERMISSION,
        id="ghcr-buildkit-oauth-403",
    ),
    pytest.param(
        # epics-containers/epics-containers.github.io#109
        "Save error occurred:  could not download oci://ghcr.io/epics-containers/ioc-instance: "
        "failed to authorize: failed to fetch oauth token: unexpected status from GET request "
        "to https://ghcr.io/token?scope=repository%3Aepics-containers%2Fioc-instance%3Apull&"
        "service=ghcr.io: 403 Forbidden",
        "GitHub Container Registry (ghcr.io)",
        NotFirewallCause.PERMISSION,
        id="ghcr-helm-oauth-403",
    ),
]


@pytest.mark.parametrize(("paste", "registry", "cause"), OTHER_REGISTRIES)
def test_other_registries_are_named_for_registry_and_cause(
    paste: str, registry: str, cause: NotFirewallCause
) -> None:
    failure = parse_pull_failure(paste)
    assert failure.kind is FailureKind.NOT_FIREWALL
    assert (failure.other_registry, failure.cause, failure.hint) == (registry, cause, None)
    d = diagnose(failure)
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR
    assert registry in d.summary
    assert "not from an Azure Container Registry" in d.summary
    assert not d.grant_eligible


def test_the_same_403_from_an_acr_login_server_is_still_the_firewall() -> None:
    paste = OTHER_REGISTRIES[4].values[0].replace("ghcr.io", "contoso.azurecr.io")
    failure = parse_pull_failure(paste)
    assert failure.kind is FailureKind.FIREWALL_SUSPECTED
    assert failure.other_registry is None


def test_a_configured_custom_domain_is_not_another_registry() -> None:
    paste = OTHER_REGISTRIES[4].values[0].replace("ghcr.io", "cr.contoso.cloud")
    failure = parse_pull_failure(paste, custom_domains={"cr.contoso.cloud": "contoso.azurecr.io"})
    assert failure.other_registry is None
    assert failure.kind is FailureKind.FIREWALL_SUSPECTED


IMAGE_PULL_FAILURES = [
    pytest.param(
        # microsoft/azure-container-apps#1201 (consumption environment in a VNet, admin login)
        "Container 'testservice' was terminated with exit code '' and reason 'ImagePullFailure'",
        id="aca-1201",
    ),
    pytest.param(
        # the same report's revision status as the portal shows it
        "Revision activation failed. Container 'testservice' was terminated with exit code '' and "
        "reason 'ImagePullFailure'. Image: contosoprod.azurecr.io/testservice:1.0.3",
        id="aca-1201-with-image",
    ),
]


@pytest.mark.parametrize("paste", IMAGE_PULL_FAILURES)
def test_image_pull_failure_without_an_answer_is_a_suspected_network_cause(paste: str) -> None:
    failure = parse_pull_failure(paste)
    assert failure.kind is FailureKind.FIREWALL_SUSPECTED
    assert failure.hint is FirewallHint.IMAGE_PULL_FAILURE
    assert failure.client is Client.CONTAINER_APPS
    d = diagnose(failure)
    assert d.verdict is Verdict.NO_IP_IN_ERROR
    text = " ".join(d.steps)
    assert "ImagePullFailure" in text
    assert "outboundIpAddresses" in text


def test_image_pull_failure_with_the_registrys_answer_is_that_answer() -> None:
    paste = (
        "Container 'web' was terminated with exit code '' and reason 'ImagePullFailure'. "
        'failed to resolve reference "contosoprod.azurecr.io/web:2": '
        "contosoprod.azurecr.io/web:2: not found"
    )
    failure = parse_pull_failure(paste)
    assert (failure.kind, failure.cause) == (FailureKind.NOT_FIREWALL, NotFirewallCause.NOT_FOUND)


KUBERNETES_API = [
    pytest.param(
        # Azure/aks-engine#432
        "$ KUBECONFIG=_output/kubeconfig/kubeconfig.westus2.json kubectl get node\n"
        "Unable to connect to the server: dial tcp 13.66.162.75:443: i/o timeout",
        id="aks-engine-432",
    ),
    pytest.param(
        # MicrosoftDocs/azure-docs-cli#2252 (an Azure Pipelines log)
        "2020-10-23T16:02:25.9375398Z Unable to connect to the server: dial tcp 20.1.2.3:443: "
        "i/o timeout\n2020-10-23T16:02:25.9494281Z ##[error]Script failed with error: Error: The "
        "process '/bin/bash' failed with exit code 1",
        id="pipelines-2252",
    ),
    pytest.param(
        # Azure/AKS#141
        "vagrant@node2:~$ kubectl get nodes -o wide\nThe connection to the server "
        "simplimeda-aks-4ad96d-693e3b50.hcp.eastus.azmk8s.io:443 was refused - did you specify "
        "the right host or port?",
        id="aks-141-refused",
    ),
]


@pytest.mark.parametrize("paste", KUBERNETES_API)
def test_a_kubernetes_api_timeout_is_not_a_registry_timeout(paste: str) -> None:
    failure = parse_pull_failure(paste)
    assert (failure.kind, failure.cause) == (
        FailureKind.NOT_FIREWALL,
        NotFirewallCause.KUBERNETES_API,
    )
    d = diagnose(failure)
    assert "API server" in d.summary
    assert "registry" not in d.summary.replace("Not a registry", "")

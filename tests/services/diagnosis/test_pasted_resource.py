"""The resource a paste names (`PullFailure.resource`), read from where each platform writes it.

Shapes from public reports (names and registries as they were posted, or anonymised the way the
posters did): microsoft/azure-container-apps#1061, #723, #960 and #816,
Azure-Samples/get-started-with-ai-chat#64, Azure/acr#124, Azure/webapps-deploy#455,
MicrosoftDocs/azure-docs#51476, microsoft/AzureTRE#924, pglombardo/PasswordPusher#3633,
dotnet/dotnet-docker#2091, kubernetes/kubernetes#92326, Azure/AKS#4459 and #1314,
Azure/open-service-broker-azure#700, Azure/azure-cli#18596, jacobalberty/unifi-docker#641,
dgkanatsios/AzureContainerInstancesManagement#15.
"""

from __future__ import annotations

import pytest

from services.diagnosis.parsing import parse_pull_failure
from services.domain.failure import Client, FirewallHint, PastedResource, ResourceKind

CA, WEB = ResourceKind.CONTAINER_APP, ResourceKind.WEB_APP
AKS, ACI = ResourceKind.AKS_CLUSTER, ResourceKind.CONTAINER_GROUP
SUB = "6b2fd84b-7b72-4e54-a403-9303ecb51c00"

KUBELET_403 = (
    '  Warning  Failed     59m (x3 over 60m)    kubelet  Failed to pull image "contosoprod.azurecr'
    '.io/shop/api:1.4": failed to pull and unpack image "contosoprod.azurecr.io/shop/api:1.4": '
    'failed to resolve reference "contosoprod.azurecr.io/shop/api:1.4": failed to authorize: '
    "failed to fetch anonymous token: unexpected status from GET request to https://contosoprod."
    "azurecr.io/oauth2/token?scope=repository%3Ashop%2Fapi%3Apull&service=contosoprod.azurecr.io"
    ": 403 Forbidden"
)


def _resource(paste: str) -> PastedResource | None:
    return parse_pull_failure(paste).resource


# -- Container Apps ---------------------------------------------------------------------------


def test_container_apps_provisioning_error_names_the_app() -> None:
    # microsoft/azure-container-apps#1061, through Terraform's box-drawing prefix.
    paste = (
        '│ Status: "Failed"\n│ Code: "ContainerAppOperationError"\n'
        "│ Message: \"Failed to provision revision for container app 'ca-gsd-web-npd'. Error "
        "details: The following field(s) are either invalid or missing. Field 'template."
        "containers.gsd-web.image' is invalid with details: 'Invalid value: \\\"acrappnpd.azurecr."
        'io/admin.ui:latest\\": unable to pull image using Managed identity /subscriptions/'
        f"{SUB}/resourceGroups/rg-gsd-npd/providers/Microsoft.ManagedIdentity/"
        'userAssignedIdentities/id-gsd-web-npd for registry acrappnpd.azurecr.io\';..\\""'
    )
    failure = parse_pull_failure(paste)
    assert failure.client is Client.CONTAINER_APPS
    # The container (`gsd-web`) and the identity's id are not the app.
    assert failure.resource == PastedResource(kind=CA, name="ca-gsd-web-npd")


def test_azds_progress_line_names_the_app() -> None:
    # Azure-Samples/get-started-with-ai-chat#64: azd's own line, then ARM's error.
    paste = (
        " (x) Failed: Container App: ca-api-i5vjdm7dauiow (18.507s)\n"
        "ERROR: error executing step command 'provision': deployment failed: error deploying "
        "infrastructure: deploying to subscription:\n\nDeployment Error Details:\n"
        "ContainerAppOperationError: Failed to provision revision for container app "
        "'ca-api-i5vjdm7dauiow'. Error details: The following field(s) are either invalid or "
        "missing. Field 'template.containers.main.image' is invalid with details: 'Invalid "
        'value: "azdtemplate.azurecr.io/get-start-with-ai-chat:latest": unable to pull image '
        "using Managed identity system for registry azdtemplate.azurecr.io';.."
    )
    assert _resource(paste) == PastedResource(kind=CA, name="ca-api-i5vjdm7dauiow")


def test_container_apps_system_logs_name_the_app_and_revision() -> None:
    # `az containerapp logs show --type system`, as in microsoft/azure-container-apps#723.
    paste = (
        '{"TimeStamp":"2023-04-18 15:51:52 \\u002B0000 UTC","Type":"Warning","ContainerAppName":'
        '"revision-test","RevisionName":"revision-test--bvks0q4","ReplicaName":"revision-test--'
        'bvks0q4-5d65b5999-nm2l2","Msg":"Failed to pull image \\u0022contosoprod.azurecr.io/shop'
        '/api:1.4\\u0022","Reason":"ImagePullFailure","EventSource":"ContainerAppController",'
        '"Count":3}'
    )
    failure = parse_pull_failure(paste)
    assert failure.hint is FirewallHint.IMAGE_PULL_FAILURE
    assert failure.resource == PastedResource(
        kind=CA, name="revision-test", revision="revision-test--bvks0q4"
    )


def test_a_log_analytics_row_names_the_app_by_its_revision() -> None:
    # ContainerAppSystemLogs_CL exported as JSON (the columns of microsoft/azure-container-apps
    # #960): the revision alone says the app, whose name never has `--`.
    paste = (
        '{"EventSource_s": "ContainerAppController", "Reason_s": "ImagePullFailure", '
        '"RevisionName_s": "my-svc-prod--eu2u6is", "Log_s": "Persistent Image Pull Errors for '
        'image \\"contosoprod.azurecr.io/shop/api:1.4\\""}'
    )
    assert _resource(paste) == PastedResource(
        kind=CA, name="my-svc-prod", revision="my-svc-prod--eu2u6is"
    )


def test_an_az_containerapp_command_names_the_app_and_its_group() -> None:
    # microsoft/azure-container-apps#816: the command, then the portal's error.
    paste = (
        "$ az containerapp update -n orders-api -g rg-shop-prod --image contosoprod.azurecr.io/"
        "shop/orders:18808\nField 'template.containers.orders.image' is invalid with details: "
        '\'Invalid value: "contosoprod.azurecr.io/shop/orders:18808": unable to pull image using '
        "Managed identity system for registry contosoprod.azurecr.io'"
    )
    assert _resource(paste) == PastedResource(
        kind=CA, name="orders-api", resource_group="rg-shop-prod"
    )


def test_placeholders_in_a_command_name_nothing() -> None:
    # The same report's own command, with the poster's placeholders.
    paste = (
        "az containerapp update -n name -g rg --image someacr.azurecr.io/image:tag\n"
        "unable to pull image using Managed identity system for registry someacr.azurecr.io"
    )
    assert _resource(paste) is None


# -- App Service ------------------------------------------------------------------------------


def test_app_services_docker_run_names_the_site() -> None:
    # Azure/acr#124: the platform's `docker run` carries WEBSITE_SITE_NAME.
    paste = (
        "2018-08-27 19:58:27.129 INFO  - Issuing docker pull mitrust.azurecr.io/devlocalnodejs-"
        "mitrust:devlocalnodejs-20180827193841815-5c8e9c3\n2018-08-27 19:58:27.234 ERROR - docker "
        "pull returned STDERR>> Error response from daemon: Get https://mitrust.azurecr.io/v2/"
        "devlocalnodejs-mitrust/manifests/devlocalnodejs-20180827193841815-5c8e9c3: unauthorized: "
        "authentication required\n\n\n2018-08-27 19:58:27.239 INFO  - Starting container for site"
        "\n2018-08-27 19:58:27.241 INFO  - docker run -d -p 63699:8080 --name devlocalnodejs-"
        "mitrust_0 -e WEBSITES_PORT=8080 -e WEBSITE_SITE_NAME=devlocalnodejs-mitrust -e "
        "WEBSITE_AUTH_ENABLED=False"
    )
    # `Starting container for site` ends its line: the next line's date is no site.
    assert _resource(paste) == PastedResource(kind=WEB, name="devlocalnodejs-mitrust")


def test_app_services_site_container_log_is_app_service_and_names_the_site() -> None:
    # Azure/webapps-deploy#455: the sidecar-era log also says `ImagePullFailure`.
    paste = (
        "2025-06-06T09:51:04.8613412Z Pulling image: contosoprod.azurecr.io/docker.io/twin/gatus:"
        "v5.13.1.\n2025-06-06T09:51:06.1447951Z Container pull image failed with reason: "
        "ImagePullFailure. Revert by terminate.\n2025-06-06T09:51:06.1475587Z Site container: "
        "gatusf039 terminated during site startup.\n2025-06-06T09:51:06.1514548Z Failed to start "
        "site. Revert by stopping site.\n2025-06-06T09:51:06.1521246Z Site: gatusf039 stopped."
    )
    failure = parse_pull_failure(paste)
    assert failure.client is Client.APP_SERVICE
    assert failure.hint is FirewallHint.IMAGE_PULL_FAILURE
    assert failure.resource == PastedResource(kind=WEB, name="gatusf039")


def test_stopping_the_site_names_it() -> None:
    # MicrosoftDocs/azure-docs#51476 (the platform's own spelling).
    paste = (
        "2020-03-31 22:01:54.911 ERROR - DockerApiException: Docker API responded with status "
        'code=InternalServerError, response={"message":"denied"}\n'
        "2020-03-31 22:01:55.627 INFO  - Stoping site hybridbotpoc-approach1 because it failed "
        "during startup."
    )
    assert _resource(paste) == PastedResource(kind=WEB, name="hybridbotpoc-approach1")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("https://shop-web.scm.azurewebsites.net/api/logs/docker", "shop-web"),
        ("-e WEBSITE_HOSTNAME=MYAPPdocker.azurewebsites.net", "MYAPPdocker"),
        # A redacted name (microsoft/AzureTRE#924), and the unique default host name, whose first
        # label is not the site's name alone (pglombardo/PasswordPusher#3633).
        ("-e WEBSITE_HOSTNAME=api-****.azurewebsites.net", None),
        ("-e WEBSITE_HOSTNAME=passwordpush-webapp-d2f7a9c1.westeurope-01.azurewebsites.net", None),
    ],
)
def test_a_site_host_names_the_site(host: str, name: str | None) -> None:
    paste = (
        "2020-07-16T01:24:00.677Z INFO  - Pulling image: contosoprod.azurecr.io/shop/web:2.0\n"
        "2020-07-16T01:24:01.015Z ERROR - DockerApiException: Docker API responded with status "
        f'code=InternalServerError, response={{"message":"denied"}}\n{host}'
    )
    expected = PastedResource(kind=WEB, name=name) if name else None
    assert _resource(paste) == expected


# -- AKS --------------------------------------------------------------------------------------


def test_the_node_a_pod_was_scheduled_on_leads_to_its_cluster() -> None:
    # kubernetes/kubernetes#92326's events, with Azure/AKS#4459's refusal.
    paste = (
        "66s   Normal    Scheduled   Pod   Successfully assigned default/nginx-deployment-"
        f"7fd6966748-txsdm to aks-agentpool-17585647-vmss000001\n{KUBELET_403}"
    )
    failure = parse_pull_failure(paste)
    assert failure.client is Client.KUBELET
    assert failure.resource == PastedResource(kind=AKS, node="aks-agentpool-17585647-vmss000001")
    assert failure.resource.node_pool == "agentpool"


def test_a_provider_id_gives_the_node_resource_group() -> None:
    # `kubectl describe node`: the scale set and the cluster's node resource group.
    paste = (
        "ProviderID:  azure:///subscriptions/6b2fd84b-7b72-4e54-a403-9303ecb51c00/resourceGroups/"
        "mc_rg-aks_aks-prod_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/"
        f"aks-nodepool1-17585647-vmss/virtualMachines/1\n{KUBELET_403}"
    )
    assert _resource(paste) == PastedResource(
        kind=AKS,
        node="aks-nodepool1-17585647-vmss",
        node_resource_group="mc_rg-aks_aks-prod_westeurope",
    )


def test_a_value_outside_its_grammar_is_dropped_alone() -> None:
    # A resource group is at most 90 characters: this one is dropped, the node still counts.
    paste = (
        "Successfully assigned shop/api-7fd6966748-txsdm to aks-nodepool1-17585647-vmss000001\n"
        f"kubernetes.azure.com/cluster=MC_{'rg' * 45}_aks-prod_westeurope\n{KUBELET_403}"
    )
    assert _resource(paste) == PastedResource(kind=AKS, node="aks-nodepool1-17585647-vmss000001")


def test_an_az_aks_command_names_the_cluster() -> None:
    # Azure/AKS#1314's `az aks update -g <rg> -n <name>`, with real names.
    paste = f"$ az aks update -g rg-aks -n aks-prod --attach-acr contosoprod\n{KUBELET_403}"
    assert _resource(paste) == PastedResource(kind=AKS, name="aks-prod", resource_group="rg-aks")


def test_a_node_pool_command_names_the_cluster_not_the_pool() -> None:
    paste = f"az aks nodepool add --cluster-name aks-prod -g rg-aks --name gpu\n{KUBELET_403}"
    assert _resource(paste) == PastedResource(kind=AKS, name="aks-prod", resource_group="rg-aks")


def test_az_aks_check_acrs_placeholders_name_nothing() -> None:
    # Azure/AKS#4459, as posted.
    paste = (
        "az aks check-acr --resource-group rg  --name cluster_name --acr contosoprod.azurecr.io\n"
        f"{KUBELET_403}"
    )
    assert _resource(paste) is None


def test_an_aks_engine_node_is_not_an_aks_cluster() -> None:
    # Azure/open-service-broker-azure#700: `k8s-<pool>-<digits>-vmss…` is aks-engine's.
    paste = (
        "Normal   Scheduled  36s   default-scheduler   Successfully assigned osba/osba-7f59f8c7d7"
        f"-q684q to k8s-linuxpool-11683214-vmss000001\n{KUBELET_403}"
    )
    assert _resource(paste) is None


# -- Container Instances ----------------------------------------------------------------------


def test_inaccessible_image_names_the_container_group() -> None:
    # jacobalberty/unifi-docker#641's deployment error, on an ACR image.
    paste = (
        '{"code":"DeploymentFailed","message":"At least one resource deployment operation '
        'failed.","details":[{"code":"InaccessibleImage","message":"The image \'contosoprod.'
        "azurecr.io/unifi:latest' in container group 'migration-container-v1' is not accessible."
        ' Please check the image and registry credential."}]}'
    )
    failure = parse_pull_failure(paste)
    assert failure.client is Client.CONTAINER_INSTANCES
    assert failure.resource == PastedResource(kind=ACI, name="migration-container-v1")


@pytest.mark.parametrize(
    "group",
    [
        "XXXXX",  # Azure/azure-cli#18596, redacted
        "image_name",  # dgkanatsios/AzureContainerInstancesManagement#15: not a group's name
    ],
)
def test_a_redacted_or_impossible_group_name_names_nothing(group: str) -> None:
    paste = (
        f"ERROR: (InaccessibleImage) The image 'contosoprod.azurecr.io/jobs/nightly:3' in "
        f"container group '{group}' is not accessible. Please check the image and registry "
        "credential."
    )
    assert _resource(paste) is None


def test_an_arm_id_names_subscription_group_and_resource() -> None:
    paste = (
        "ERROR: (InaccessibleImage) The image 'contosoprod.azurecr.io/jobs/nightly:3' is not "
        f"accessible.\nResource: /subscriptions/{SUB}/resourceGroups/rg-jobs/providers/"
        "Microsoft.ContainerInstance/containerGroups/nightly"
    )
    resource = _resource(paste)
    assert resource == PastedResource(
        kind=ACI, name="nightly", resource_group="rg-jobs", subscription=SUB
    )
    assert resource.id == (
        f"/subscriptions/{SUB}/resourceGroups/rg-jobs/providers/Microsoft.ContainerInstance/"
        "containerGroups/nightly"
    )


# -- which resource, and when -----------------------------------------------------------------


def test_the_resource_is_of_the_kind_the_client_runs_on() -> None:
    # An App Service log beside an `az aks` command from the same session: the pull ran on the
    # web app.
    paste = (
        "$ az aks get-credentials -n aks-prod -g rg-aks\n"
        "2020-07-16T01:24:00.677Z INFO  - Pulling image: contosoprod.azurecr.io/shop/web:2.0\n"
        "2020-07-16T01:24:01.015Z ERROR - DockerApiException: Docker API responded with status "
        'code=InternalServerError, response={"message":"denied"}\n'
        "2020-07-16T01:24:01.030Z INFO  - docker run -d -p 4180:80 --name shop-web_0_963a0343 "
        "-e WEBSITE_SITE_NAME=shop-web -e WEBSITE_AUTH_ENABLED=False"
    )
    assert _resource(paste) == PastedResource(kind=WEB, name="shop-web")


def test_a_client_that_runs_anywhere_names_no_resource() -> None:
    # helm pulled the chart from the machine it ran on; the cluster is where it deploys to.
    paste = (
        "$ az aks get-credentials -n aks-prod -g rg-aks\n$ helm install shop oci://contosoprod."
        "azurecr.io/helm/shop --version 1.4.0\nError: INSTALLATION FAILED: failed to authorize: "
        "failed to fetch anonymous token: unexpected status: 403 Forbidden"
    )
    failure = parse_pull_failure(paste)
    assert failure.client is Client.HELM
    assert failure.resource is None


def test_a_paste_that_shows_the_address_names_no_resource() -> None:
    # The lookup is for an address the error hid; this one is shown.
    paste = (
        "Failed to provision revision for container app 'shop-api'. Error details: "
        "DENIED: client with IP '20.103.186.69' is not allowed access. Refer "
        "https://aka.ms/acr/firewall to grant access."
    )
    failure = parse_pull_failure(paste)
    assert [str(ip) for ip in failure.ips] == ["20.103.186.69"]
    assert failure.resource is None

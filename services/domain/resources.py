"""The kinds of Azure resources whose egress the bot can look up. Small on purpose: the HTTP
function's lookup form imports it."""

from __future__ import annotations

from enum import StrEnum


class ResourceKind(StrEnum):
    """The Azure resources whose egress the bot can look up: where a refused pull ran."""

    CONTAINER_APP = "container_app"
    WEB_APP = "web_app"
    AKS_CLUSTER = "aks_cluster"
    CONTAINER_GROUP = "container_group"

    @property
    def arm_type(self) -> str:
        """The ARM resource type, lower case as Resource Graph writes it."""
        return _ARM_TYPES[self]

    @property
    def display(self) -> str:
        return _DISPLAY[self]


#: The ARM resource type as the REST API spells it.
ARM_CASED = {
    ResourceKind.CONTAINER_APP: "Microsoft.App/containerApps",
    ResourceKind.WEB_APP: "Microsoft.Web/sites",
    ResourceKind.AKS_CLUSTER: "Microsoft.ContainerService/managedClusters",
    ResourceKind.CONTAINER_GROUP: "Microsoft.ContainerInstance/containerGroups",
}
_ARM_TYPES = {kind: arm_type.lower() for kind, arm_type in ARM_CASED.items()}
_DISPLAY = {
    ResourceKind.CONTAINER_APP: "Container App",
    ResourceKind.WEB_APP: "App Service / Function app",
    ResourceKind.AKS_CLUSTER: "AKS cluster",
    ResourceKind.CONTAINER_GROUP: "Container group",
}

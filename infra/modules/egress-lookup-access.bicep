// Optional egress lookups (`grantEgressLookupRead`): on one subscription holding managed
// registries, a custom role that reads only what the lookups read (Resource Graph and the compute
// and network resources whose outbound addresses they follow), assigned to the app's identity.
// Without it Azure refuses the lookups and the cards give the manual advice.
targetScope = 'subscription'

@description('Object id of the Function app\'s system-assigned identity.')
param principalId string

@description('The azd environment name, to tell this deployment\'s role apart from others.')
param environmentName string

@description('The deployment\'s resource token: role names are unique per tenant, so the name carries it and the subscription.')
param resourceToken string

// Exactly EGRESS_LOOKUP_ACTIONS in services/azure/permissions.py; a test compares.
var egressLookupActions = [
  'Microsoft.ResourceGraph/resources/read'
  'Microsoft.App/containerApps/read'
  'Microsoft.App/managedEnvironments/read'
  'Microsoft.Web/sites/read'
  'Microsoft.ContainerService/managedClusters/read'
  'Microsoft.ContainerInstance/containerGroups/read'
  'Microsoft.Network/virtualNetworks/subnets/read'
  'Microsoft.Network/natGateways/read'
  'Microsoft.Network/publicIPAddresses/read'
  'Microsoft.Network/publicIPPrefixes/read'
]

resource egressLookupRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'acrbot-egress-lookup')
  properties: {
    roleName: 'ACR firewall bot egress lookup (${environmentName}, ${resourceToken}, ${take(uniqueString(subscription().id), 6)})'
    description: 'Query Azure Resource Graph and read Container Apps, web apps, AKS clusters, container groups, subnets, NAT gateways and public IPs. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: egressLookupActions
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource egressLookupAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, environmentName, principalId, 'acrbot-egress-lookup-assignment')
  properties: {
    roleDefinitionId: egressLookupRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

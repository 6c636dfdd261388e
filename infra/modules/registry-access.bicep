// One managed registry: the app's identity gets the bot's custom role on this registry alone.
// Deployed at the registry's resource group, which may be in another subscription than the app.

@description('Name of an existing container registry in this resource group.')
param registryName string

@description('Object id of the Function app\'s system-assigned identity.')
param principalId string

@description('Name (a GUID) of the custom role definition holding the registry rule actions.')
param roleDefinitionName string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource rulesAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, roleDefinitionName)
  scope: registry
  properties: {
    // The role is defined once, in the app's subscription; ARM resolves the same definition
    // through the registry's subscription.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleAssignmentId string = rulesAssignment.id

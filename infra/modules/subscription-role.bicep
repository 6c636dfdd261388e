// A role on the subscription for the app's identity (the service-tag reader). A module of its own
// so the assignment's name derives from the principal id: after `azd down` and `azd up` the new
// identity gets a new assignment instead of colliding with the old one, which `azd down` leaves
// behind (the README says how to remove it).
targetScope = 'subscription'

@description('Object id of the Function app\'s system-assigned identity.')
param principalId string

@description('Name (a GUID) of the custom role definition to assign.')
param roleDefinitionName string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleAssignmentId string = assignment.id

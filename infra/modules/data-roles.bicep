// Data-plane roles of one principal on the app's own resources: the app's identity, or an
// operator. A module so each assignment's name derives from the principal id (a new app identity
// after `azd down` / `azd up` gets new assignments instead of colliding with the old ones).

@description('Object id of the identity, person or group that gets the roles.')
param principalId string

@description('User, Group or ServicePrincipal; empty: ARM finds out.')
param principalType string = ''

param storageAccountName string
param keyVaultName string
param appInsightsName string

@description('Built-in role definition ids to assign on the storage account.')
param storageRoles array = []

@description('Built-in role definition ids to assign on the Key Vault.')
param keyVaultRoles array = []

@description('Built-in role definition ids to assign on the Application Insights component.')
param appInsightsRoles array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource onStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in storageRoles: {
  name: guid(storage.id, principalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: empty(principalType) ? null : principalType
  }
}]

resource onKeyVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in keyVaultRoles: {
  name: guid(keyVault.id, principalId, roleId)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: empty(principalType) ? null : principalType
  }
}]

resource onAppInsights 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in appInsightsRoles: {
  name: guid(appInsights.id, principalId, roleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: empty(principalType) ? null : principalType
  }
}]

// One managed registry, deployed at its resource group (which may be in another subscription than
// the app):
// - the bot's custom role for the app's identity on this registry alone;
// - Azure Policy guard rails on the registry (built-in definitions): the role has to include
//   `registries/write` (ARM has no narrower action for `ipRules`), and the same write could open
//   the firewall, turn on anonymous pull or the admin user. With the effect Deny, ARM refuses such
//   a write from anyone, the app's identity included;
// - with alertOnWrites (the first managed registry of its resource group), an Activity Log alert
//   on every write the app's identity makes in this resource group (each firewall change of the
//   bot, and any attempt at something else), to the action group.

@description('Name of an existing container registry in this resource group.')
param registryName string

@description('Object id of the Function app\'s system-assigned identity.')
param principalId string

@description('Name (a GUID) of the custom role definition holding the registry rule actions.')
param roleDefinitionName string

@allowed([
  'Deny'
  'Audit'
  'Disabled'
])
@description('Effect of the guard rails.')
param policyEffect string = 'Deny'

@description('Resource id of the action group the alert notifies.')
param actionGroupId string

@description('azd environment name, so two environments managing one registry keep their own alert.')
param environmentName string

@description('Raise the resource group\'s Activity Log alert here: true for one managed registry of the group only.')
param alertOnWrites bool = true

// Built-in policy definitions (the same ids in every tenant; Azure/azure-policy,
// built-in-policies/policyDefinitions/Container Registry/).
var guardRails = [
  {
    // ACR_AnonymousPullDisabled_AuditDeny.json
    definition: '9f2dea28-e834-476c-99c5-3507b4728395'
    title: 'no anonymous pull'
  }
  {
    // ACR_AdminAccountDisabled_AuditDeny.json
    definition: 'dc921057-6b28-4fbe-9b83-f7bec05db6c2'
    title: 'no admin user'
  }
  {
    // ACR_NetworkRulesExist_AuditDeny.json: public access only with defaultAction Deny.
    definition: 'd0793b48-0edc-4296-a390-4c75d1bdfd71'
    title: 'selected networks only'
  }
]

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

resource guardRail 'Microsoft.Authorization/policyAssignments@2024-04-01' = [for rail in guardRails: {
  name: guid(registry.id, rail.definition)
  scope: registry
  properties: {
    displayName: 'ACR firewall bot guard rail: ${rail.title} (${registryName})'
    description: 'Keeps the registry the bot manages from being widened, by the bot\'s identity or anyone else.'
    policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', rail.definition)
    enforcementMode: 'Default'
    parameters: {
      effect: {
        value: policyEffect
      }
    }
    nonComplianceMessages: [
      {
        message: 'The ACR firewall bot guard rail refuses this: ${rail.title} on ${registryName}.'
      }
    ]
  }
}]

resource writesAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (alertOnWrites) {
  name: 'acrbot-${take(uniqueString(resourceGroup().id, environmentName), 8)}-writes'
  location: 'global'
  properties: {
    description: 'A write by the ACR firewall bot\'s identity (${environmentName}) in this resource group: a firewall change of a registry it manages, or an attempt at something else.'
    enabled: true
    scopes: [
      resourceGroup().id
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'Administrative'
        }
        {
          // The Activity Log names a service principal's caller by its object id.
          field: 'caller'
          equals: principalId
        }
      ]
    }
    actions: {
      actionGroups: [
        {
          actionGroupId: actionGroupId
        }
      ]
    }
  }
}

output roleAssignmentId string = rulesAssignment.id

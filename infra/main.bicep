// acr-firewall-bot on Azure, provisioned by `azd up` (parameters: main.parameters.json; every one
// is described in the README's deployment section).
//
// Subscription scope, because besides the resource group of the app it defines two custom roles
// and assigns one of them on every managed registry, wherever that registry lives.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Azure region for the app and its resources (one that offers Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd; gets Key Vault Secrets Officer to set the Slack secrets. Empty: nobody.')
param principalId string = ''

@description('Managed registries: objects with name, subscription_id, resource_group and optional login_server, custom_domains, approvers, approver_group, approvals_channel, required_approvals, allow_azure_service_ips. The app may change the firewall of these and of no other registry.')
param registries array = []

@description('Slack workspace (team) ids whose requests the app accepts.')
param slackTeamIds array = []

@description('The bot user id of the Slack app (U...), so the app never has to call auth.test on a request.')
param slackBotUserId string = ''

@description('Channel id where approval requests go when a registry names no channel of its own.')
param slackApprovalsChannel string = ''

@description('Slack user ids who approve requests for registries that name no approvers of their own.')
param defaultApprovers array = []

@description('Slack user-group id (S...) whose members approve for registries that name no approvers of their own. Empty: none.')
param defaultApproverGroup string = ''

@description('The organisation\'s known egress IPs: object of IP or CIDR to label (see `python -m bot discover-egress`).')
param knownIps object = {}

@description('Longest grant anyone may ask for (ISO 8601 duration).')
param policyMaxDuration string = 'PT24H'

@description('Grant length offered first (ISO 8601 duration).')
param policyDefaultDuration string = 'PT4H'

@description('Grant lengths offered to the requester (ISO 8601 durations).')
param policyAllowedDurations array = [
  'PT1H'
  'PT4H'
  'PT8H'
  'PT24H'
]

@description('A request nobody decides within this time lapses (ISO 8601 duration).')
param policyPendingTtl string = 'PT8H'

@description('NCRONTAB schedule of the sweep (expiries, reminders, re-drives).')
param sweepSchedule string = '0 */5 * * * *'

@description('Azure regions whose service tags the daily refresh fetches. Empty: the deployment region.')
param serviceTagsLocations array = []

@description('NCRONTAB schedule of the daily service-tag refresh (six fields, with seconds).')
param serviceTagsSchedule string = '0 30 3 * * *'

@description('Grant the app Microsoft.Network/locations/serviceTags/read on this subscription (for the daily service-tag refresh).')
param grantServiceTagsRead bool = true

@description('Let the app read the registries\' subscriptions for egress lookups (a custom read-only role per subscription). Off: cards give the manual advice.')
param grantEgressLookupRead bool = false

@minValue(0)
@maxValue(10)
@description('Always-ready instances of the HTTP function group. Keep at least 1: a Python cold start misses Slack\'s 3-second deadline.')
param alwaysReadyHttpInstances int = 1

@minValue(40)
@maxValue(1000)
@description('Upper bound of Flex Consumption instances.')
param maximumInstanceCount int = 40

var tags = {
  'azd-env-name': environmentName
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

// Exactly the actions in services/azure/permissions.py (REGISTRY_RULES_ACTIONS); a test compares.
var registryRulesActions = [
  'Microsoft.ContainerRegistry/registries/read'
  'Microsoft.ContainerRegistry/registries/write'
  'Microsoft.ContainerRegistry/registries/listUsages/read'
  'Microsoft.ContainerRegistry/registries/operationStatuses/read'
]

// Exactly SERVICE_TAGS_ACTIONS in services/azure/permissions.py.
var serviceTagsActions = [
  'Microsoft.Network/locations/serviceTags/read'
]

var registrySubscriptions = [for r in registries: r.subscription_id]

var registryResourceGroupScopes = [for r in registries: '/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}']

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module app 'modules/app.bicep' = {
  name: 'acrbot-app'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    principalId: principalId
    registries: registries
    slackTeamIds: slackTeamIds
    slackBotUserId: slackBotUserId
    slackApprovalsChannel: slackApprovalsChannel
    defaultApprovers: defaultApprovers
    defaultApproverGroup: defaultApproverGroup
    knownIps: knownIps
    policyMaxDuration: policyMaxDuration
    policyDefaultDuration: policyDefaultDuration
    policyAllowedDurations: policyAllowedDurations
    policyPendingTtl: policyPendingTtl
    sweepSchedule: sweepSchedule
    serviceTagsLocations: empty(serviceTagsLocations) ? [location] : serviceTagsLocations
    serviceTagsSchedule: serviceTagsSchedule
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    maximumInstanceCount: maximumInstanceCount
  }
}

// Only what the bot does to a registry's firewall: read it, PATCH it, read its quota, and poll the
// PATCH's long-running operation. Assignable on this subscription and on the registries'
// resource groups (which may sit in other subscriptions); assigned only on each registry.
resource registryRulesRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(registries)) {
  name: guid(subscription().id, environmentName, 'acrbot-registry-rules')
  properties: {
    roleName: 'ACR firewall bot registry rules (${environmentName})'
    description: 'Read a container registry, update its network rules, list its usages and read the status of its update operations. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: registryRulesActions
        notActions: []
      }
    ]
    assignableScopes: union([subscription().id], registryResourceGroupScopes)
  }
}

module registryAccess 'modules/registry-access.bicep' = [for (r, i) in registries: {
  name: 'acrbot-registry-${i}-${uniqueString(r.subscription_id, r.resource_group, r.name)}'
  scope: resourceGroup(r.subscription_id, r.resource_group)
  params: {
    registryName: r.name
    principalId: app.outputs.principalId
    roleDefinitionName: registryRulesRole.name
  }
}]

module egressLookupAccess 'modules/egress-lookup-access.bicep' = [for sub in (grantEgressLookupRead ? union(registrySubscriptions, []) : []): {
  name: 'acrbot-egress-lookup-${uniqueString(sub, environmentName)}'
  scope: subscription(sub)
  params: {
    principalId: app.outputs.principalId
    environmentName: environmentName
  }
}]

resource serviceTagsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (grantServiceTagsRead) {
  name: guid(subscription().id, environmentName, 'acrbot-service-tags')
  properties: {
    roleName: 'ACR firewall bot service tag reader (${environmentName})'
    description: 'Read Azure service tags (the address ranges of Azure services). Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: serviceTagsActions
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource serviceTagsAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantServiceTagsRead) {
  name: guid(subscription().id, environmentName, 'acrbot-service-tags-assignment')
  properties: {
    roleDefinitionId: serviceTagsRole.id
    principalId: app.outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output SLACK_REQUEST_URL string = '${app.outputs.functionAppUrl}/api/slack/events'
output AZURE_KEY_VAULT_NAME string = app.outputs.keyVaultName
output AZURE_STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName

// acr-firewall-bot on Azure, provisioned by `azd up` (parameters: main.parameters.json; every one
// is described in the README's deployment section).
//
// Subscription scope, because besides the resource group of the app it defines two custom roles,
// assigns one of them on every managed registry (with Azure Policy guard rails and an Activity
// Log alert there), wherever that registry lives.
//
// Redeployable: `azd down` then `azd up` works. Role assignment names derive from the principal
// they assign (a new app identity gets new assignments instead of colliding with the old ones),
// custom role names carry the resource token (unique per subscription and environment, and role
// names are unique per tenant), and the Key Vault name can be chosen or its soft-deleted copy
// recovered (purge protection keeps a deleted vault's name for 90 days).
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

@description('Object id of the person or pipeline running azd: gets Key Vault Secrets Officer (the postprovision hook sets the Slack secrets) and the operator data roles. Empty: nobody.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
@description('What principalId is (azd sets AZURE_PRINCIPAL_TYPE: User, or ServicePrincipal in a pipeline).')
param principalType string = 'User'

@description('Object ids of people or groups who operate the bot: table, queue and blob data roles on its storage and Key Vault Secrets Officer (python -m bot grants/audit/report/doctor, requeueing a poison message, rotating a Slack secret).')
param operatorPrincipalIds array = []

@description('Managed registries: objects with name, subscription_id, resource_group and optional login_server, custom_domains, approvers, approver_group, approvals_channel, required_approvals, allow_azure_service_ips. The app may change the firewall of these and of no other registry.')
param registries array = []

@minLength(1)
@description('Slack workspace (team) ids whose requests the app accepts; at least one.')
param slackTeamIds array

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

@description('E-mail address the alerts go to (poison messages, failing reconciles, a failed service-tag refresh, the health route down, writes by the app\'s identity). Empty: the alerts fire in the portal only.')
param alertEmail string = ''

@minValue(5)
@maxValue(300)
@description('Alert when a registry\'s reconciles keep failing for this many minutes (expired rules may stay open meanwhile).')
param reconcileFailureMinutes int = 30

@allowed([
  'Deny'
  'Audit'
  'Disabled'
])
@description('Effect of the Azure Policy guard rails on each managed registry (no anonymous pull, no admin user, no unrestricted network access). Deny: nobody, the bot included, can widen a registry.')
param registryPolicyEffect string = 'Deny'

@description('Private networking like the Flex Consumption samples: the app in a virtual network (outbound through a NAT gateway: one fixed egress IP), storage and Key Vault behind private endpoints.')
param vnetEnabled bool = false

@description('With vnetEnabled: public IPs or CIDRs (your laptop, a build agent) that may still reach storage and Key Vault, for the hooks and python -m bot doctor. Empty: none.')
param operatorIpRanges array = []

@maxLength(24)
@description('Key Vault name. Empty: kv-acrbot-<token>. A vault deleted by `azd down` keeps its name for 90 days (purge protection): choose another here, or recover it with keyVaultRecover.')
param keyVaultName string = ''

@description('Recover the soft-deleted Key Vault of this name (after `azd down`) instead of creating it.')
param keyVaultRecover bool = false

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

// Exactly REGISTRY_ACCESS_CHECK_ACTIONS: the doctor reads what the app may do on a registry.
var registryAccessCheckActions = [
  'Microsoft.Authorization/permissions/read'
]

// Exactly SERVICE_TAGS_ACTIONS in services/azure/permissions.py.
var serviceTagsActions = [
  'Microsoft.Network/locations/serviceTags/read'
]

var registrySubscriptions = [for r in registries: r.subscription_id]

var registryResourceGroupList = [for r in registries: '/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}']
// union() drops the duplicates of registries sharing a resource group.
var registryResourceGroupScopes = union(registryResourceGroupList, [])

// The person running azd and the named operators, each once.
var operators = union(empty(principalId) ? [] : [principalId], operatorPrincipalIds)

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
    principalType: principalType
    operators: operators
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
    alertEmail: alertEmail
    reconcileFailureMinutes: reconcileFailureMinutes
    vnetEnabled: vnetEnabled
    operatorIpRanges: operatorIpRanges
    keyVaultName: empty(keyVaultName) ? 'kv-acrbot-${take(resourceToken, 13)}' : keyVaultName
    keyVaultRecover: keyVaultRecover
  }
}

// Only what the bot does to a registry's firewall: read it, PATCH it, read its quota, poll the
// PATCH's long-running operation, and read its own permissions there (the doctor). Assignable
// only on the registries' resource groups (which may sit in other subscriptions); assigned only
// on each registry.
resource registryRulesRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(registries)) {
  name: guid(subscription().id, environmentName, 'acrbot-registry-rules')
  properties: {
    roleName: 'ACR firewall bot registry rules (${environmentName}, ${resourceToken})'
    description: 'Read a container registry, update its network rules, list its usages, read the status of its update operations and the caller\'s own permissions on it. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: concat(registryRulesActions, registryAccessCheckActions)
        notActions: []
      }
    ]
    assignableScopes: registryResourceGroupScopes
  }
}

module registryAccess 'modules/registry-access.bicep' = [for (r, i) in registries: {
  name: 'acrbot-registry-${i}-${uniqueString(r.subscription_id, r.resource_group, r.name)}'
  scope: resourceGroup(r.subscription_id, r.resource_group)
  params: {
    registryName: r.name
    principalId: app.outputs.principalId
    roleDefinitionName: registryRulesRole.name
    policyEffect: registryPolicyEffect
    actionGroupId: app.outputs.actionGroupId
    environmentName: environmentName
    // One alert per resource group: registries sharing one would each report every write twice.
    alertOnWrites: indexOf(registryResourceGroupList, registryResourceGroupList[i]) == i
  }
}]

module egressLookupAccess 'modules/egress-lookup-access.bicep' = [for sub in (grantEgressLookupRead ? union(registrySubscriptions, []) : []): {
  name: 'acrbot-egress-lookup-${uniqueString(sub, environmentName)}'
  scope: subscription(sub)
  params: {
    principalId: app.outputs.principalId
    environmentName: environmentName
    resourceToken: resourceToken
  }
}]

resource serviceTagsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (grantServiceTagsRead) {
  name: guid(subscription().id, environmentName, 'acrbot-service-tags')
  properties: {
    roleName: 'ACR firewall bot service tag reader (${environmentName}, ${resourceToken})'
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

// A module, so the assignment's name can derive from the app's principal id (known only once the
// app exists).
module serviceTagsAccess 'modules/subscription-role.bicep' = if (grantServiceTagsRead) {
  name: 'acrbot-service-tags-access'
  params: {
    principalId: app.outputs.principalId
    roleDefinitionName: serviceTagsRole.name
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_URL string = app.outputs.functionAppUrl
output AZURE_FUNCTION_APP_PRINCIPAL_ID string = app.outputs.principalId
output SLACK_REQUEST_URL string = '${app.outputs.functionAppUrl}/api/slack/events'
output AZURE_KEY_VAULT_NAME string = app.outputs.keyVaultName
output AZURE_STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName
// The same values under the names the app's settings read, so `python -m bot doctor --env-file
// .azure/<env>/.env` finds them.
output ACRBOT_STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName
output ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID string = subscription().subscriptionId
output AZURE_APP_EGRESS_IP string = app.outputs.egressIp

// The app's own resource group: storage, monitoring, Key Vault, the Flex Consumption plan and the
// Function app, the data-plane roles its system-assigned identity and the operators need on them,
// the alerts, and with vnetEnabled its virtual network.

param location string
param tags object
param resourceToken string
param principalId string
@description('What principalId is: User, Group or ServicePrincipal.')
param principalType string
@description('Object ids of the operators (the person running azd among them).')
param operators array
param registries array
param slackTeamIds array
param slackBotUserId string
param slackApprovalsChannel string
param defaultApprovers array
param defaultApproverGroup string
param knownIps object
param policyMaxDuration string
param policyDefaultDuration string
param policyAllowedDurations array
param policyPendingTtl string
param sweepSchedule string
param serviceTagsLocations array
param serviceTagsSchedule string
param alwaysReadyHttpInstances int
param maximumInstanceCount int
param alertEmail string
param reconcileFailureMinutes int
param vnetEnabled bool
param operatorIpRanges array
param keyVaultName string
param keyVaultRecover bool

var functionAppName = 'func-acrbot-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 13)}'
// Settings the app reads as "not set" only when they are absent: an empty string would be a value.
var optionalSettings = union(
  empty(slackBotUserId) ? {} : { ACRBOT_SLACK_BOT_USER_ID: slackBotUserId },
  empty(slackApprovalsChannel) ? {} : { ACRBOT_SLACK_APPROVALS_CHANNEL: slackApprovalsChannel },
  empty(defaultApproverGroup) ? {} : { ACRBOT_POLICY__DEFAULT_APPROVER_GROUP: defaultApproverGroup }
)
var slackBotTokenSecretName = 'slack-bot-token'
var slackSigningSecretName = 'slack-signing-secret'

// Built-in roles (ids are the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// With vnetEnabled the data services answer only the private endpoints, and the operators'
// addresses when some are given (for the hooks and the doctor); otherwise their public endpoints
// answer Entra ID callers only (no shared keys, RBAC-only vault).
var operatorIpRules = [for range in operatorIpRanges: {
  value: range
  action: 'Allow'
}]
var privateAccess = vnetEnabled && empty(operatorIpRanges) ? 'Disabled' : 'Enabled'

// -- storage ------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: The default action is Deny only with vnetEnabled (private endpoints); without a virtual network the Function app reaches its storage over the public endpoint, so the default action is Allow and only Entra ID callers get in (shared keys off).
  // checkov:skip=CKV_AZURE_206: Zone-redundant, not geo-redundant: the grants, the rules the bot owns and the audit trail survive the loss of a zone; the app runs in this one region, so a geo-secondary (asynchronous, failed over by hand) would serve nothing until the app is redeployed elsewhere. python -m bot audit exports the trail for keeping elsewhere.
  // checkov:skip=CKV_AZURE_43: The name is 'st' plus uniqueString(): 15 lower-case letters and digits, within the rules; Checkov cannot evaluate the expression.
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  // Zone-redundant: the grants, the rules the bot owns and the audit trail live only in these
  // tables; the registries cannot tell which of their rules the bot added or why.
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateAccess
    networkAcls: {
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
      ipRules: vnetEnabled ? operatorIpRules : []
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// The Flex Consumption deployment package.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// One empty blob per registry whose lease is that registry's write lock (services/azure/lock.py).
resource locksContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'acrbot-locks'
  properties: {
    publicAccess: 'None'
  }
}

// Data the app builds for itself, such as the daily service-tag document.
resource dataContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'acrbot-data'
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The job queue; the Functions host creates `acrbot-jobs-poison` next to it on the first poison.
resource jobsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: 'acrbot-jobs'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The app creates these too when they are missing; declared so they exist from the start (a cold
// process then lists them once and creates none).
resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for name in [
  'acrbotgrants'
  'acrbotgrantindex'
  'acrbotentries'
  'acrbotmessages'
  'acrbotoffers'
  'acrbotaudit'
  'acrbotdeliveries'
]: {
  parent: tableService
  name: name
}]

// -- monitoring ---------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-acrbot-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-acrbot-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry only with an Entra ID token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING below).
    DisableLocalAuth: true
  }
}

// -- secrets ------------------------------------------------------------------------------------

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: The default action is Deny only with vnetEnabled (the app resolves its references through the private endpoint); without a virtual network App Service, which is not a trusted service, needs the public endpoint, so the default action is Allow and access is RBAC-only.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    // After `azd down` the vault is soft-deleted for 90 days (purge protection): recover it, or
    // give the new one another name (keyVaultName).
    createMode: keyVaultRecover ? 'recover' : 'default'
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: privateAccess
    networkAcls: {
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
      ipRules: vnetEnabled ? operatorIpRules : []
    }
  }
}

// Who read or changed a secret, in the workspace (table AzureDiagnostics, category AuditEvent).
resource keyVaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: keyVault
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

module network 'network.bicep' = if (vnetEnabled) {
  name: 'acrbot-network'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    storageAccountId: storage.id
    keyVaultId: keyVault.id
  }
}

// -- the Function app ---------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption exists only in some regions and needs at least two always-ready instances per group; a zonal outage only delays this bot (Slack retries, the queue keeps the jobs). Turn it on where the region offers it and the cost is wanted.
  name: 'plan-acrbot-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Slack does not present client certificates.
  // checkov:skip=CKV_AZURE_222: Slack calls the app from the internet, so the endpoint must be public; requests without a valid Slack signature are refused.
  // checkov:skip=CKV_AZURE_212: Flex Consumption allocates instances on demand; the always-ready HTTP instance is the floor, and queued work survives an instance loss.
  // checkov:skip=CKV_AZURE_213: App Service health-check eviction manages a fixed instance pool, which Flex Consumption does not have; an availability test probes the health route from five regions instead (alerts.bicep).
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    // With vnetEnabled all the app's outbound traffic (storage, Key Vault, ARM, Slack) leaves
    // through the virtual network.
    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : null
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
        // Slack gives an answer 3 seconds and a Python cold start can take longer: keep the
        // HTTP function group warm. The queue worker and the timer may start cold.
        alwaysReady: alwaysReadyHttpInstances > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  resource appSettings 'config' = {
    // Checkov reads every sites/config resource as the 'web' configuration; these are app settings, so
    // its web-configuration checks do not apply here:
    // checkov:skip=CKV_AZURE_13: Slack cannot sign in to App Service Authentication; every request is authenticated by its Slack signature, checked before anything else runs.
    // checkov:skip=CKV_AZURE_222: Slack calls the app from the internet, so the endpoint must be public (see the site above).
    // checkov:skip=CKV_AZURE_63: Web-server HTTP logs do not exist for Flex Consumption; requests are logged to Application Insights.
    // checkov:skip=CKV_AZURE_65: Detailed error pages are a web-server feature Flex Consumption does not have; errors go to Application Insights.
    // checkov:skip=CKV_AZURE_66: Failed request tracing is a web-server feature Flex Consumption does not have; failures go to Application Insights.
    // checkov:skip=CKV_AZURE_80: A Python app; no .NET Framework.
    // checkov:skip=CKV_AZURE_88: Azure Files mounts are for content shares, which Flex Consumption does not use (the package is in blob storage).
    name: 'appsettings'
    properties: union(optionalSettings, {
      // The Functions host's own storage, through the identity (no connection string exists).
      AzureWebJobsStorage__accountName: storage.name
      AzureWebJobsStorage__credential: 'managedidentity'
      APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
      // The Python worker sends the app's OpenTelemetry itself (host.json's telemetryMode), so
      // the host stops forwarding every worker log line as a second copy.
      PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
      ACRBOT_SLACK_BOT_TOKEN: '@Microsoft.KeyVault(SecretUri=${keyVault.properties.vaultUri}secrets/${slackBotTokenSecretName}/)'
      ACRBOT_SLACK_SIGNING_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.properties.vaultUri}secrets/${slackSigningSecretName}/)'
      ACRBOT_SLACK_TEAM_IDS: string(slackTeamIds)
      ACRBOT_REGISTRIES: string(registries)
      ACRBOT_KNOWN_IPS: string(knownIps)
      ACRBOT_POLICY__DEFAULT_APPROVERS: string(defaultApprovers)
      ACRBOT_POLICY__MAX_DURATION: policyMaxDuration
      ACRBOT_POLICY__DEFAULT_DURATION: policyDefaultDuration
      ACRBOT_POLICY__ALLOWED_DURATIONS: string(policyAllowedDurations)
      ACRBOT_POLICY__PENDING_TTL: policyPendingTtl
      ACRBOT_SWEEP_SCHEDULE: sweepSchedule
      ACRBOT_SERVICE_TAGS__LOCATIONS: string(serviceTagsLocations)
      ACRBOT_SERVICE_TAGS__SCHEDULE: serviceTagsSchedule
      // The daily service-tag fetch asks the app's own subscription (where it may read them).
      ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID: subscription().subscriptionId
    })
    dependsOn: [
      // Settings that reference storage and secrets only work once the identity may use them.
      identityRoles
    ]
  }
}

// No FTP or basic-auth deployments: azd deploys with an Entra ID token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// -- data-plane roles -----------------------------------------------------------------------------

// The app's identity. Blob Data Owner: the Functions host's storage (timer and queue-listener
// leases, keys) and the Flex deployment package, plus the registry locks (blob leases). Queue Data
// Contributor: the job queue and its poison queue. Table Data Contributor: grants, audit,
// deliveries. Key Vault Secrets User: read the two Slack secrets behind the references (it cannot
// list or change secrets). Monitoring Metrics Publisher: telemetry with Entra ID, since the
// component accepts no instrumentation-key-only ingestion.
module identityRoles 'data-roles.bicep' = {
  name: 'acrbot-app-identity-roles'
  params: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    storageAccountName: storage.name
    keyVaultName: keyVault.name
    appInsightsName: appInsights.name
    storageRoles: [
      storageBlobDataOwner
      storageQueueDataContributor
      storageTableDataContributor
    ]
    keyVaultRoles: [
      keyVaultSecretsUser
    ]
    appInsightsRoles: [
      monitoringMetricsPublisher
    ]
  }
}

// The operators (and the person running azd): python -m bot grants/audit/report/doctor read the
// tables, requeueing a poison message needs the queues, refresh-service-tags and a reconcile by
// hand write blobs (the document, the lock's lease); they set and rotate the Slack secrets.
module operatorRoles 'data-roles.bicep' = [for (operator, i) in operators: {
  name: 'acrbot-operator-roles-${i}'
  params: {
    principalId: operator
    principalType: operator == principalId ? principalType : ''
    storageAccountName: storage.name
    keyVaultName: keyVault.name
    appInsightsName: appInsights.name
    storageRoles: [
      storageBlobDataContributor
      storageQueueDataContributor
      storageTableDataContributor
    ]
    keyVaultRoles: [
      keyVaultSecretsOfficer
    ]
  }
}]

module alerts 'alerts.bicep' = {
  name: 'acrbot-alerts'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    alertEmail: alertEmail
    workspaceId: logAnalytics.id
    appInsightsId: appInsights.id
    appUrl: 'https://${functionApp.properties.defaultHostName}'
    reconcileFailureMinutes: reconcileFailureMinutes
  }
}

output principalId string = functionApp.identity.principalId
output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
output keyVaultName string = keyVault.name
output storageAccountName string = storage.name
output slackBotTokenSecretName string = slackBotTokenSecretName
output slackSigningSecretName string = slackSigningSecretName
output actionGroupId string = alerts.outputs.actionGroupId
output egressIp string = vnetEnabled ? network.outputs.egressIp : ''

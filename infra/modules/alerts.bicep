// What tells the operators that the bot needs them, through one action group (e-mail):
// - jobs that failed for good (the poison queue);
// - a registry whose reconciles keep failing (a missing role, say: expired rules stay open);
// - a failed daily service-tag refresh;
// - the health route down (an availability test from five regions).
// The log alerts read the app's own log lines in the workspace (table AppTraces); their wording is
// in bot/bus.py, bot/handlers/reconcile.py and bot/functions.py.

param location string
param tags object
param resourceToken string

@description('E-mail address of the operators; empty: the alerts fire in the portal only.')
param alertEmail string

@description('Id of the Log Analytics workspace behind Application Insights.')
param workspaceId string

@description('Id of the Application Insights component.')
param appInsightsId string

@description('https://<host> of the Function app.')
param appUrl string

@description('Alert when a registry\'s reconciles keep failing for this many minutes.')
param reconcileFailureMinutes int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-acrbot-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'acrbot'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Poison: bot/bus.py logs "job <ref> (<kind>) failed for good", or "poison message <ref> is
// not a job", for every message that reached the poison queue.
var poisonQuery = '''
AppTraces
| where Message startswith "poison message " or (Message startswith "job " and Message endswith " failed for good")
'''

// A reconcile logs "reconcile <registry>: <status>" (bot/handlers/reconcile.py). Failing:
// `retry` (ARM or the verification failed for now) or `failed` (not found, no permission); the
// sweep asks again every few minutes. Alert when one registry has failed for the threshold with no
// success in between.
var reconcileQuery = replace('''
AppTraces
| where TimeGenerated > ago(6h)
| where Message startswith "reconcile " and not(Message startswith "reconcile of ")
| parse Message with "reconcile " registry ": " status
| where status in ("done", "nothing_to_do", "retry", "failed")
| summarize lastOk = maxif(TimeGenerated, status in ("done", "nothing_to_do")),
            firstBad = minif(TimeGenerated, status in ("retry", "failed")),
            lastBad = maxif(TimeGenerated, status in ("retry", "failed")) by registry
| where isnotnull(lastBad) and (isnull(lastOk) or lastOk < firstBad)
| where lastBad - firstBad >= THRESHOLD
''', 'THRESHOLD', '${reconcileFailureMinutes}m')

// bot/functions.py logs "service tag refresh failed: <why>" when the daily refresh fails.
var serviceTagsQuery = '''
AppTraces
| where Message startswith "service tag refresh failed"
'''

var logAlerts = [
  {
    name: 'poison'
    title: 'ACR firewall bot: jobs failed for good'
    description: 'Messages reached the poison queue: the person who asked was told; find the job in Application Insights, fix the cause and requeue it.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT5M'
    query: poisonQuery
  }
  {
    name: 'reconcile'
    title: 'ACR firewall bot: reconciles keep failing'
    description: 'A registry\'s reconciles have failed for ${reconcileFailureMinutes} minutes: approved rules are not applied and expired ones stay open. python -m bot doctor says why.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT6H'
    query: reconcileQuery
  }
  {
    name: 'service-tags'
    title: 'ACR firewall bot: service-tag refresh failed'
    description: 'The daily service-tag refresh failed; yesterday\'s tags stay in use. python -m bot refresh-service-tags shows why.'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    query: serviceTagsQuery
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for alert in logAlerts: {
  name: 'alert-acrbot-${alert.name}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: alert.title
    description: alert.description
    severity: alert.severity
    enabled: true
    evaluationFrequency: alert.frequency
    windowSize: alert.window
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

// The anonymous health route from five regions, every five minutes.
resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: 'webtest-acrbot-health-${resourceToken}'
  location: location
  // Application Insights shows a test only with this tag linking it to the component.
  tags: union(tags, {
    'hidden-link:${appInsightsId}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: 'webtest-acrbot-health-${resourceToken}'
    Name: 'ACR firewall bot /api/health'
    Description: 'The health route answers 200: storage reachable, the app running.'
    Enabled: true
    Frequency: 300
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      {
        Id: 'emea-nl-ams-azr'
      }
      {
        Id: 'emea-gb-db3-azr'
      }
      {
        Id: 'us-va-ash-azr'
      }
      {
        Id: 'us-ca-sjc-azr'
      }
      {
        Id: 'apac-sg-sin-azr'
      }
    ]
    Request: {
      RequestUrl: '${appUrl}/api/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-acrbot-health-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    description: 'The health route failed from two or more regions: Slack gets no answer, or the app cannot reach its storage.'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      appInsightsId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: appInsightsId
      failedLocationCount: 2
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupId string = actionGroup.id

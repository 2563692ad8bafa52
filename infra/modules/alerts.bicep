// Azure Monitor alerts on the telemetry the app already sends to (workspace-based)
// Application Insights, and an availability test of GET /api/health.
//
// Signals (names are the code's, see bookker_sync/telemetry.py):
//   customMetrics  bookker.queue.poison (queue), bookker.sync.lag (tenant, mailbox; one sample
//                  per successful sync run: value = sum, valueMax = worst), bookker.graph.requests
//                  (status)
//   traces         the worker's log lines ("renewal: due=... needs-consent=N ...") and the
//                  Functions host's ("Message has reached MaxDequeueCount of 5. Moving message
//                  to queue 'mailbox-sync-poison'.")
//   requests       one per function invocation, named after the function (graph_notifications)
// Log search alerts run their query over the rule's window (windowSize, or
// overrideQueryTimeRange when set) against the Application Insights component (its classic
// table names work there). Measured queries bin by timestamp; the rule then aggregates the
// bins of its window (Total: sum, Maximum: worst).
// https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule
// https://learn.microsoft.com/azure/templates/microsoft.insights/scheduledqueryrules

@description('Azure region of the alert rules and the availability test.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Short name used in the rules\' names (the Function App\'s name).')
param appName string

@description('The Application Insights component the app reports to.')
param applicationInsightsName string

@description('Host name of the Function App (<app>.azurewebsites.net).')
param functionAppHostName string

@description('Existing action group to notify (resource id). Empty: create one from alertEmails, if any.')
param actionGroupId string = ''

@description('E-mail addresses of a new action group (used when actionGroupId is empty). Empty too: the alerts fire in the portal only.')
param alertEmails array = []

@description('Minutes between reconcile passes of a room (RECONCILE_INTERVAL_MINUTES).')
param reconcileIntervalMinutes int

@description('p99 of Graph webhook answers above which to alert, ms (Graph wants an answer within 3 s).')
param webhookP99ThresholdMs int = 2000

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------------------------------------------------------------- who gets told

var createActionGroup = empty(actionGroupId) && !empty(alertEmails)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (createActionGroup) {
  name: 'ag-${appName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'bookkersync'
    enabled: true
    emailReceivers: [
      for email in alertEmails: {
        name: email
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = !empty(actionGroupId) ? [actionGroupId] : (createActionGroup ? [actionGroup.id] : [])

// ---------------------------------------------------------------- log search alerts

// Messages moved to a poison queue: by the host after maxDequeueCount failed tries (its
// log line) or by the app itself for a message that can never succeed (bookker.queue.poison).
// Messages already sitting in a poison queue also make /api/health "degraded" (below).
var poisonQuery = '''
union
  (traces
    | where message has "MaxDequeueCount" and message has "-poison"
    | extend queue = extract(@"'([a-z0-9-]+-poison)'", 1, message), moved = 1.0),
  (customMetrics
    | where name == "bookker.queue.poison"
    | extend queue = strcat(tostring(customDimensions.queue), "-poison"), moved = value)
| summarize moved = sum(moved) by queue, bin(timestamp, 5m)
'''

// A room is behind when its last successful sync (each one records a bookker.sync.lag
// sample, reconcile passes included) is older than two reconcile intervals, or when a
// recent sync served a notification later than one reconcile interval. Failing rooms stop
// recording samples, so they show up as stale.
var roomsBehindQuery = replace('''
let interval = {minutes}m;
customMetrics
| where timestamp > ago(1d) and name == "bookker.sync.lag"
| extend tenant = tostring(customDimensions.tenant), mailbox = tostring(customDimensions.mailbox)
| summarize lastSync = max(timestamp), recentLagSeconds = maxif(valueMax, timestamp > ago(interval))
    by tenant, mailbox
| where lastSync < ago(2 * interval) or recentLagSeconds > {minutes} * 60
| project tenant, mailbox, lastSync, recentLagSeconds
''', '{minutes}', string(reconcileIntervalMinutes))

// Graph refused the app (401/403): the customer hasn't consented, revoked consent, or the
// mailbox is outside the tenant's Exchange RBAC scope. The renewal timer counts the
// subscriptions it leaves in needs-consent; the transport counts every 401/403.
var needsConsentQuery = '''
union
  (traces
    | where message has "renewal: due="
    | extend count_ = todouble(extract(@"needs-consent=(\d+)", 1, message)), signal = "renewal needs-consent"),
  (customMetrics
    | where name == "bookker.graph.requests" and tostring(customDimensions.status) in ("401", "403")
    | extend count_ = value, signal = strcat("graph ", tostring(customDimensions.status)))
| where count_ > 0
| summarize occurrences = sum(count_) by signal, bin(timestamp, 30m)
'''

// Graph marks an endpoint slow when more than 10% of its answers take over 3 s in 10 min,
// then drops notifications: alert before that.
var webhookLatencyQuery = '''
requests
| where name == "graph_notifications" or operation_Name == "graph_notifications"
| summarize p99 = percentile(duration, 99), answers = count() by bin(timestamp, 15m)
'''

var logAlerts = [
  {
    key: 'poison-messages'
    displayName: 'Bookker Sync: messages moved to a poison queue'
    description: 'A queue message failed maxDequeueCount times or could never succeed. `python -m bookker_sync poison list <queue>` shows why; `poison replay` retries.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    lookback: ''
    query: poisonQuery
    measure: 'moved'
    aggregation: 'Total'
    threshold: 0
    dimensions: [
      'queue'
    ]
  }
  {
    key: 'rooms-behind'
    displayName: 'Bookker Sync: rooms failing or lagging'
    description: 'A room has had no successful sync for two reconcile intervals, or served a notification later than one. /api/status or `python -m bookker_sync status <tenant>` names the reason.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    // The query looks back a day (rooms that stopped syncing a while ago must stay listed).
    lookback: 'P1D'
    query: roomsBehindQuery
    measure: ''
    aggregation: 'Count'
    threshold: 0
    dimensions: [
      'tenant'
      'mailbox'
    ]
  }
  {
    key: 'needs-consent'
    displayName: 'Bookker Sync: tenants needing consent'
    description: 'Microsoft Graph answers 401/403: a customer has not (or no longer) consented, or a mailbox is outside its Exchange scope. See docs/deploy.md, onboarding.'
    severity: 2
    frequency: 'PT30M'
    window: 'PT6H'
    lookback: ''
    query: needsConsentQuery
    measure: 'occurrences'
    aggregation: 'Total'
    threshold: 0
    dimensions: [
      'signal'
    ]
  }
  {
    key: 'webhook-latency'
    displayName: 'Bookker Sync: slow Graph webhook answers'
    description: 'p99 of graph_notifications answers over ${webhookP99ThresholdMs} ms. Graph marks endpoints slower than 3 s as slow and then drops notifications.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    lookback: ''
    query: webhookLatencyQuery
    measure: 'p99'
    aggregation: 'Maximum'
    threshold: webhookP99ThresholdMs
    dimensions: []
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in logAlerts: {
    name: '${appName}-${rule.key}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      overrideQueryTimeRange: empty(rule.lookback) ? null : rule.lookback
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: rule.aggregation
            metricMeasureColumn: empty(rule.measure) ? null : rule.measure
            operator: 'GreaterThan'
            threshold: rule.threshold
            dimensions: [
              for dimension in rule.dimensions: {
                name: dimension
                operator: 'Include'
                values: [
                  '*'
                ]
              }
            ]
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: actionGroupIds
      }
    }
  }
]

// ---------------------------------------------------------------- health

// GET /api/health from five regions every 5 minutes. It answers 200 "ok", 200 "degraded"
// (poison messages waiting, subscriptions failing or needing consent) or 503 "unhealthy"
// (storage unreachable): the test passes only on 200 with "status":"ok" in the body.
// The hidden-link tag attaches the test to the component.
// https://learn.microsoft.com/azure/azure-monitor/app/availability-standard-tests
resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: 'health-${appName}'
  location: location
  tags: union(tags, {
    'hidden-link:${applicationInsights.id}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: 'health-${appName}'
    Name: 'Bookker Sync /api/health'
    Description: 'Passes only when the app reports "status":"ok".'
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
        Id: 'emea-se-sto-edge'
      }
      {
        Id: 'us-va-ash-azr'
      }
      {
        Id: 'apac-sg-sin-azr'
      }
    ]
    Request: {
      RequestUrl: 'https://${functionAppHostName}/api/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
      ContentValidation: {
        ContentMatch: '"status":"ok"'
        IgnoreCase: false
        PassIfTextFound: true
      }
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${appName}-health'
  location: 'global'
  tags: tags
  properties: {
    description: 'GET /api/health is not "ok" from 2 or more test locations: degraded (poison messages, failing subscriptions, tenants needing consent) or down. The response body says which.'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: applicationInsights.id
      failedLocationCount: 2
    }
    autoMitigate: true
    actions: [
      for id in actionGroupIds: {
        actionGroupId: id
      }
    ]
  }
}

output actionGroupIds array = actionGroupIds
output healthTestName string = healthTest.name

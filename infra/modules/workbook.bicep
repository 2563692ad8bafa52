// An Azure Monitor workbook (Application Insights → Workbooks → "Bookker Sync: sync lag and
// Graph throttling"): sync lag over time and per room, Graph answers by status and 429s.
// Same signals as alerts.bicep (bookker.sync.lag, bookker.graph.requests,
// bookker.graph.throttled in customMetrics; the transport's "Graph 429 on <mailbox>: retry"
// log lines in traces).
// https://learn.microsoft.com/azure/azure-monitor/visualize/workbooks-automate

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Short name used in the workbook\'s id (the Function App\'s name).')
param appName string

@description('The Application Insights component the app reports to.')
param applicationInsightsName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var lagOverTime = '''
customMetrics
| where name == "bookker.sync.lag"
| summarize worstSeconds = max(valueMax), meanSeconds = sum(value) / sum(valueCount) by bin(timestamp, 15m)
| render timechart
'''

var lagByRoom = '''
customMetrics
| where name == "bookker.sync.lag"
| extend tenant = tostring(customDimensions.tenant), mailbox = tostring(customDimensions.mailbox)
| summarize lastSync = max(timestamp), worstSeconds = max(valueMax), syncs = sum(valueCount) by tenant, mailbox
| order by worstSeconds desc
'''

var graphByStatus = '''
customMetrics
| where name == "bookker.graph.requests"
| extend status = tostring(customDimensions.status)
| summarize requests = sum(value) by status, bin(timestamp, 15m)
| render timechart
'''

var throttled = '''
customMetrics
| where name == "bookker.graph.throttled"
| summarize answers429 = sum(value) by bin(timestamp, 15m)
| render timechart
'''

var throttledByMailbox = '''
traces
| where message has "Graph 429 on"
| extend mailbox = extract(@"Graph 429 on (\S+):", 1, message)
| summarize retries = count() by mailbox
| top 20 by retries
'''

var panels = [
  {
    name: 'sync-lag'
    title: 'Sync lag (s): from a room\'s notification to the end of its sync'
    query: lagOverTime
    visualization: 'timechart'
  }
  {
    name: 'sync-lag-by-room'
    title: 'Rooms by worst lag, with their last successful sync'
    query: lagByRoom
    visualization: 'table'
  }
  {
    name: 'graph-requests'
    title: 'Graph answers by HTTP status'
    query: graphByStatus
    visualization: 'timechart'
  }
  {
    name: 'graph-429'
    title: 'Graph 429 (throttled) answers'
    query: throttled
    visualization: 'timechart'
  }
  {
    name: 'graph-429-by-mailbox'
    title: 'Mailboxes with the most 429 retries'
    query: throttledByMailbox
    visualization: 'table'
  }
]

var panelItems = [
  for panel in panels: {
    type: 3
    name: panel.name
    content: {
      version: 'KqlItem/1.0'
      title: panel.title
      query: panel.query
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: panel.visualization
      timeContext: {
        durationMs: 86400000
      }
    }
  }
]

var titleItem = {
  type: 1
  name: 'title'
  content: {
    json: '## Bookker Sync\nSync lag per room and Microsoft Graph throttling (429). Alerts: Azure Monitor → Alerts; per-room detail: /api/status.'
  }
}

var content = {
  version: 'Notebook/1.0'
  items: concat([titleItem], panelItems)
  fallbackResourceIds: [
    applicationInsights.id
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name is a GUID.
  name: guid(resourceGroup().id, appName, 'bookker-sync-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Bookker Sync: sync lag and Graph throttling'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(content)
  }
}

output workbookId string = workbook.id

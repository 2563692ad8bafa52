// Log Analytics workspace + workspace-based Application Insights.
//
// The Functions host sends its telemetry to APPLICATIONINSIGHTS_CONNECTION_STRING. With
// `disableLocalAuth` the component accepts only Entra-authenticated telemetry: the app then
// also sets APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD and its managed
// identity holds Monitoring Metrics Publisher on this component (see roles.bicep), as in
// Azure-Samples/azure-functions-flex-consumption-samples (IaC/bicep/rbac.bicep).

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Accept only Entra ID (managed identity) authenticated telemetry.')
param disableLocalAuth bool = true

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: disableLocalAuth
    IngestionMode: 'LogAnalytics'
  }
}

output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
// Not a secret: the connection string only identifies the component (instrumentation key and
// ingestion endpoint); with local auth disabled it grants nothing without an Entra token.
output connectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsName string = logAnalytics.name
output logAnalyticsId string = logAnalytics.id

// The Function App on a Linux Flex Consumption plan (FC1), Python, system-assigned identity.
//
// Flex Consumption shape (serverfarms FC1 + sites.properties.functionAppConfig with
// deployment.storage / scaleAndConcurrency / runtime) follows the Microsoft samples:
//   https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to
//   https://github.com/Azure-Samples/azure-functions-flex-consumption-samples
//     (IaC/bicep/core/host/function.bicep)
// On Flex Consumption the language is functionAppConfig.runtime, not the
// FUNCTIONS_WORKER_RUNTIME app setting (that setting is among the Flex deprecations), and
// there's no WEBSITE_RUN_FROM_PACKAGE / WEBSITE_CONTENT*: code is deployed to the blob
// container below, read with the app's own managed identity.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Function App name (also its <name>.azurewebsites.net host name).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Storage account used for host storage, queues, tables and deployment.')
param storageAccountName string

@description('Primary blob endpoint of that account (https://<account>.blob.<suffix>/).')
param blobEndpoint string

@description('Primary queue endpoint of that account.')
param queueEndpoint string

@description('Primary table endpoint of that account.')
param tableEndpoint string

@description('URL of the blob container Flex Consumption deploys packages from.')
param deploymentContainerUrl string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Send telemetry with Entra ID auth (needs Monitoring Metrics Publisher, roles.bicep).')
param applicationInsightsEntraAuth bool = true

@description('Python version (functionAppConfig.runtime.version).')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound of instances the plan scales out to.')
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per instance, MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances of the HTTP group (webhooks, API): they never cold-start, and are billed while idle. 0: none.')
@minValue(0)
@maxValue(20)
param httpAlwaysReadyInstances int = 1

@description('Subnet (delegated to Microsoft.App/environments) for VNet integration. Empty: none.')
param virtualNetworkSubnetId string = ''

@description('The app\'s own settings (bookker_sync/settings.py names); platform settings are added here.')
param appSettings object

// Identity-based host storage, also read by the app itself (bookker_sync/settings.py:
// AzureWebJobsStorage__accountName / __queueServiceUri / __tableServiceUri). No
// AzureWebJobsStorage connection string: shared-key access is disabled on the account.
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var storageSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
}

var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
}

// Entra ID auth for telemetry; system-assigned identity, so no ClientId part.
var monitoringAuthSettings = applicationInsightsEntraAuth ? { APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' } : {}

var allSettings = union(appSettings, storageSettings, monitoringSettings, monitoringAuthSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Outbound traffic through the VNet (private endpoints of storage and Key Vault).
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        for setting in items(allSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // "http" is the group of every HTTP-triggered function: Graph expects a webhook
        // answer within 3 s (10 s for the validation handshake), which a cold start can miss.
        // https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#always-ready-instances
        alwaysReady: httpAlwaysReadyInstances > 0 ? [
          {
            name: 'http'
            instanceCount: httpAlwaysReadyInstances
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// No basic (user/password) publishing credentials: FTP and SCM accept only Entra ID.
// `func azure functionapp publish` uses your `az login` token.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName

// Bookker Sync: everything the app needs in Azure, secure by default.
//
//   az group create -n <rg> -l <region>
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json \
//     -p graphClientSecret="$GRAPH_CLIENT_SECRET"
//   func azure functionapp publish <functionAppName output> --python
//
// Step by step, with the app registration and tenant onboarding: docs/deploy.md.
// tests/infra checks this template against the code (settings, queues, tables, roles).

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- naming, location

@description('Azure region for every resource (must offer Flex Consumption).')
param location string = resourceGroup().location

@description('Short prefix for resource names (letters, digits, hyphens).')
@minLength(3)
@maxLength(11)
param baseName string = 'bookker'

@description('Function App name (globally unique host name). Empty: <baseName>-sync-<hash>.')
@maxLength(60)
param functionAppName string = ''

@description('Tags applied to every resource.')
param tags object = {}

// ---------------------------------------------------------------- Microsoft Graph

@description('Application (client) id of the multi-tenant app registration (a GUID).')
@minLength(36)
@maxLength(36)
param graphClientId string

@description('How the app authenticates to Entra ID: "secret" (client secret in Key Vault), "certificate" (PEM file), or "managedIdentity" (the Function App\'s identity as a federated credential of the app registration: no secret at all).')
@allowed([
  'secret'
  'certificate'
  'managedIdentity'
])
param graphCredential string = 'secret'

@description('Graph client secret (GRAPH_CREDENTIAL=secret). Stored in Key Vault only. Pass it on the first deployment; empty later keeps the vault\'s current value.')
@secure()
param graphClientSecret string = ''

@description('GRAPH_CREDENTIAL=certificate: path of the PEM certificate + private key on the app\'s file system. Empty (the default): the app reads the certificate from Key Vault instead (GRAPH_CERTIFICATE, a Key Vault reference to the certificate "graph-client-certificate" you import into the vault).')
param graphCertificatePath string = ''

@description('Microsoft Graph base URL (change only for national clouds).')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('Entra ID authority. Empty: this cloud\'s login endpoint.')
param graphAuthority string = ''

@description('Concurrent Graph requests per mailbox (Graph allows 4).')
@minValue(1)
@maxValue(4)
param graphMaxConcurrencyPerMailbox int = 4

@description('Retries of a throttled / failed Graph request.')
@minValue(0)
@maxValue(20)
param graphMaxRetries int = 5

// ---------------------------------------------------------------- sync tuning

@description('Days back the sync horizon reaches.')
@minValue(0)
@maxValue(30)
param syncHorizonPastDays int = 1

@description('Days ahead the sync horizon reaches.')
@minValue(1)
@maxValue(1825)
param syncHorizonFutureDays int = 365

@description('Minutes between reconcile passes of a room (keep in step with reconcileSchedule).')
@minValue(1)
@maxValue(1440)
param reconcileIntervalMinutes int = 15

@description('Renew a Graph subscription this many hours before it expires.')
@minValue(1)
@maxValue(150)
param renewalMarginHours int = 24

@description('Keep the events told to Bookker (pull feed, push, dead letters) this many days.')
@minValue(1)
@maxValue(3650)
param eventRetentionDays int = 30

@description('Erase the stored Outlook event JSON of bookings that ended this many days ago.')
@minValue(1)
@maxValue(3650)
param eventJsonRetentionDays int = 90

@description('Lifetime requested for Graph subscriptions, minutes (Graph maximum for events: 10080).')
@minValue(45)
@maxValue(10080)
param subscriptionLifetimeMinutes int = 10080

@description('Seconds a per-mailbox sync lease lasts (the code\'s default: bookker_sync/settings.py).')
@minValue(10)
@maxValue(3600)
param syncLeaseSeconds int = 60

@description('Hours between full listings of a room with a fresh sync window (spread per room).')
@minValue(1)
@maxValue(720)
param syncFullListingHours int = 24

@description('NCRONTAB schedule of the reconcile_all timer (%RECONCILE_SCHEDULE%).')
param reconcileSchedule string = '0 */15 * * * *'

@description('NCRONTAB schedule of the renew_subscriptions timer (%RENEW_SCHEDULE%).')
param renewSchedule string = '0 */10 * * * *'

@description('Public base URL of the HTTP functions, as Graph reaches them. Empty: https://<functionAppName>.azurewebsites.net/api.')
param webhookBaseUrl string = ''

// ---------------------------------------------------------------- API authentication

@description('How the Bookker API authenticates callers (API_AUTH): "entra" (bearer tokens from apiAuthIssuer for apiAuthAudience), "key" (function keys) or "none" (local stacks only).')
@allowed([
  'entra'
  'key'
  'none'
])
param apiAuth string = 'entra'

@description('APP_SECRET_KEY: the app\'s own HMAC key (clientStates, admin-consent states), at least 32 characters (`openssl rand -base64 48`). Stored in Key Vault only. Pass it on the first deployment; empty later keeps the vault\'s current value.')
@secure()
param appSecretKey string = ''

@description('Largest HTTP request body the Functions host accepts, in bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT; the app\'s own limits are 1 MB for webhooks, 256 KB for the API).')
@minValue(1048576)
@maxValue(104857600)
param requestBodySizeLimit int = 4194304

@description('API_AUTH=entra: token issuer. Empty: https://login.microsoftonline.com/<this tenant>/v2.0.')
param apiAuthIssuer string = ''

@description('API_AUTH=entra: token audience (the API\'s Application ID URI). Empty: api://<graphClientId>.')
param apiAuthAudience string = ''

// ---------------------------------------------------------------- hosting

@description('Python version of the Function App.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound of Flex Consumption instances.')
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances of the HTTP group (Graph webhooks, API): no cold start on a notification, billed even when idle (docs/deploy.md). 0: scale from zero.')
@minValue(0)
@maxValue(20)
param httpAlwaysReadyInstances int = 1

@description('Memory per Flex Consumption instance, MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Storage redundancy.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Private networking: VNet integration for the app, private endpoints (and private DNS zones) for storage and Key Vault, whose public network access is then disabled.')
param privateNetworking bool = false

@description('privateNetworking: VNet address space.')
param vnetAddressPrefix string = '10.80.0.0/16'

@description('privateNetworking: subnet of the app\'s VNet integration (delegated to Microsoft.App/environments).')
param appSubnetPrefix string = '10.80.0.0/24'

@description('privateNetworking: subnet of the private endpoints.')
param privateEndpointSubnetPrefix string = '10.80.1.0/24'

@description('Scope of the app\'s Storage Blob Data Owner role: "containers" (deployment package, azure-webjobs-hosts, azure-webjobs-secrets) or "account".')
@allowed([
  'containers'
  'account'
])
param blobRoleScope string = 'containers'

@description('Diagnostic logs of storage include reads (queue polling: large volume).')
param storageReadLogs bool = false

@description('Application Insights accepts only Entra ID authenticated telemetry (the app\'s identity gets Monitoring Metrics Publisher).')
param applicationInsightsEntraAuth bool = true

@description('Optional: object id of the user or group that rotates the Graph secret (gets Key Vault Secrets Officer on the vault). `az ad signed-in-user show --query id -o tsv`.')
param secretsOfficerPrincipalId string = ''

@description('Principal type of secretsOfficerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param secretsOfficerPrincipalType string = 'User'

// ---------------------------------------------------------------- alerts

@description('Existing action group (resource id) the alerts notify. Empty: one is created from alertEmails.')
param actionGroupId string = ''

@description('E-mail addresses notified by the alerts (when actionGroupId is empty). Both empty: alerts show in the portal only.')
param alertEmails array = []

@description('Alert when the p99 of Graph webhook answers exceeds this many ms (Graph wants 3 s at most).')
@minValue(100)
@maxValue(10000)
param webhookP99ThresholdMs int = 2000

// ---------------------------------------------------------------- names

var token = toLower(uniqueString(resourceGroup().id, baseName))
var compactBase = toLower(replace(baseName, '-', ''))
var appName = empty(functionAppName) ? '${baseName}-sync-${token}' : functionAppName
var storageAccountName = take('st${compactBase}${token}', 24)
var keyVaultName = take('kv${compactBase}${token}', 24)
var deploymentContainerName = 'app-package'
// The Functions host's own blob containers (timer locks, host id lease; function keys).
var hostContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]
var graphClientSecretName = 'graph-client-secret'

// Queue and table names are part of the code's contract: bookker_sync/storage/queues.py
// APP_QUEUES and bookker_sync/storage/repositories.py APP_TABLES (tests/infra checks that
// every one of them is declared here). Each queue also gets its "-poison" queue.
var appQueues = [
  'mailbox-sync'
  'lifecycle'
  'outbound'
  'events-push'
]
var appTables = [
  'tenants'
  'spaces'
  'users'
  'bookings'
  'ledger'
  'mailboxes'
  'subscriptions'
  'subscriptionids'
  'declines'
  'intents'
  'roomclaims'
  'apiclients'
  'writebudget'
  'events'
  'eventpush'
  'eventdeadletters'
]

var loginEndpoint = environment().authentication.loginEndpoint
var defaultAuthority = endsWith(loginEndpoint, '/') ? substring(loginEndpoint, 0, length(loginEndpoint) - 1) : loginEndpoint
// host.json extensions.http.routePrefix is "api".
var effectiveWebhookBaseUrl = empty(webhookBaseUrl) ? 'https://${appName}.azurewebsites.net/api' : webhookBaseUrl

// ---------------------------------------------------------------- resources

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${appName}'
    applicationInsightsName: 'appi-${appName}'
    disableLocalAuth: applicationInsightsEntraAuth
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: storageAccountName
    skuName: storageSkuName
    queueNames: appQueues
    tableNames: appTables
    deploymentContainerName: deploymentContainerName
    hostContainerNames: hostContainerNames
    privateNetworking: privateNetworking
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    logReads: storageReadLogs
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: keyVaultName
    graphClientSecretName: graphClientSecretName
    graphClientSecret: graphCredential == 'secret' ? graphClientSecret : ''
    appSecretKey: appSecretKey
    privateNetworking: privateNetworking
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    location: location
    tags: tags
    name: 'vnet-${appName}'
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

// The credential: a Key Vault reference (no version, so rotation needs no redeployment), a
// certificate path, or nothing (managedIdentity: the app signs a client assertion with its
// managed identity). Never a literal secret.
var secretSettings = { GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.graphClientCredentialUri})' }
// A Key Vault certificate's secret (same name) holds the PFX (or PEM) as base64, which is
// what GRAPH_CERTIFICATE takes: Flex Consumption has no file system for a private key.
var graphCertificateName = 'graph-client-certificate'
var certificateSettings = empty(graphCertificatePath)
  ? { GRAPH_CERTIFICATE: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${graphCertificateName})' }
  : { GRAPH_CERTIFICATE_PATH: graphCertificatePath }
var graphCredentialSettings = graphCredential == 'secret' ? secretSettings : (graphCredential == 'certificate' ? certificateSettings : {})

// Every setting bookker_sync/settings.py reads (SETTING_NAMES) that applies in Azure, plus
// the runtime's own (RUNTIME_SETTING_NAMES): the timer schedules here, the worker runtime as
// functionAppConfig.runtime. Storage and Application Insights settings are added by
// modules/functionapp.bicep. App settings are strings.
var appSettingsBase = {
  GRAPH_CLIENT_ID: graphClientId
  GRAPH_CREDENTIAL: graphCredential
  GRAPH_BASE_URL: graphBaseUrl
  GRAPH_AUTHORITY: empty(graphAuthority) ? defaultAuthority : graphAuthority
  GRAPH_MAX_CONCURRENCY_PER_MAILBOX: string(graphMaxConcurrencyPerMailbox)
  GRAPH_MAX_RETRIES: string(graphMaxRetries)
  SYNC_HORIZON_PAST_DAYS: string(syncHorizonPastDays)
  SYNC_HORIZON_FUTURE_DAYS: string(syncHorizonFutureDays)
  RECONCILE_INTERVAL_MINUTES: string(reconcileIntervalMinutes)
  RENEWAL_MARGIN_HOURS: string(renewalMarginHours)
  SUBSCRIPTION_LIFETIME_MINUTES: string(subscriptionLifetimeMinutes)
  SYNC_LEASE_SECONDS: string(syncLeaseSeconds)
  SYNC_FULL_LISTING_HOURS: string(syncFullListingHours)
  EVENT_RETENTION_DAYS: string(eventRetentionDays)
  EVENT_JSON_RETENTION_DAYS: string(eventJsonRetentionDays)
  WEBHOOK_BASE_URL: effectiveWebhookBaseUrl
  RECONCILE_SCHEDULE: reconcileSchedule
  RENEW_SCHEDULE: renewSchedule
  API_AUTH: apiAuth
  // HMAC key of the app (Key Vault reference, like the Graph secret).
  APP_SECRET_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.appSecretKeyUri})'
  // The host refuses larger bodies before buffering them (default 100 MB).
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: string(requestBodySizeLimit)
}

// API_AUTH=entra: which tokens the API accepts. Defaults: v2.0 tokens of this Entra tenant,
// issued for the app registration's Application ID URI (Expose an API → api://<client id>).
var apiAuthSettings = apiAuth == 'entra' ? {
  API_AUTH_ISSUER: empty(apiAuthIssuer) ? '${defaultAuthority}/${tenant().tenantId}/v2.0' : apiAuthIssuer
  API_AUTH_AUDIENCE: empty(apiAuthAudience) ? 'api://${graphClientId}' : apiAuthAudience
} : {}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    name: appName
    planName: 'plan-${appName}'
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    applicationInsightsEntraAuth: applicationInsightsEntraAuth
    pythonVersion: pythonVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    virtualNetworkSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
    appSettings: union(appSettingsBase, graphCredentialSettings, apiAuthSettings)
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    blobContainerNames: concat([storage.outputs.deploymentContainerName], hostContainerNames)
    blobRoleScope: blobRoleScope
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    grantMetricsPublisher: applicationInsightsEntraAuth
    secretsOfficerPrincipalId: secretsOfficerPrincipalId
    secretsOfficerPrincipalType: secretsOfficerPrincipalType
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    appName: appName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    functionAppHostName: functionApp.outputs.defaultHostName
    actionGroupId: actionGroupId
    alertEmails: alertEmails
    reconcileIntervalMinutes: reconcileIntervalMinutes
    webhookP99ThresholdMs: webhookP99ThresholdMs
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    appName: appName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
// Subject of the app registration's federated credential when graphCredential=managedIdentity.
output functionAppPrincipalId string = functionApp.outputs.principalId
output webhookBaseUrl string = effectiveWebhookBaseUrl
// Graph change notifications and lifecycle notifications.
output notificationUrl string = '${effectiveWebhookBaseUrl}/graph/notifications'
output lifecycleUrl string = '${effectiveWebhookBaseUrl}/graph/lifecycle'
// Register it on the app registration (Authentication → Web): where a customer's admin lands
// after admin consent (GET /api/tenants/{id}/consent starts the flow).
output consentRedirectUri string = '${effectiveWebhookBaseUrl}/consent/callback'
output storageAccountName string = storage.outputs.name
output keyVaultName string = keyVault.outputs.name
output applicationInsightsName string = monitoring.outputs.applicationInsightsName

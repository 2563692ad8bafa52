// Least-privilege data-plane roles for the Function App's system-assigned managed identity,
// each scoped to the one resource it is for (never the resource group or subscription).
// Built-in role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles

@description('principalId of the Function App\'s system-assigned identity.')
param principalId string

@description('The app\'s storage account.')
param storageAccountName string

@description('Blob containers the app\'s identity works in: the Flex Consumption deployment container and the host\'s azure-webjobs-hosts / azure-webjobs-secrets.')
param blobContainerNames array

@description('Scope of the blob data role: "containers" (each of blobContainerNames) or "account" (the whole account, if a host version ever needs more).')
@allowed([
  'containers'
  'account'
])
param blobRoleScope string = 'containers'

@description('The Key Vault holding the Graph credential.')
param keyVaultName string

@description('The Application Insights component.')
param applicationInsightsName string

@description('Grant Monitoring Metrics Publisher (needed when telemetry uses Entra ID auth).')
param grantMetricsPublisher bool = true

@description('Optional: object id of a user/group that may set secrets in the vault (rotation with `az keyvault secret set`). Empty: none.')
param secretsOfficerPrincipalId string = ''

@description('Principal type of secretsOfficerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param secretsOfficerPrincipalType string = 'User'

var roleIds = {
  // Host storage: the Functions host keeps its locks (timer triggers' singleton leases,
  // host id lease) and function keys in blobs (containers azure-webjobs-hosts,
  // azure-webjobs-secrets, created by storage.bicep); Flex Consumption reads the
  // deployment package, and publishing writes it, through this identity. Storage Blob Data
  // Owner is the role Functions documents for identity-based AzureWebJobsStorage; here it
  // is scoped to those three containers, not the account.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Queue triggers (sync_mailbox, process_lifecycle, apply_outbound) read/delete messages
  // and write poison queues; the app enqueues mailbox-sync / lifecycle / outbound messages.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // The app's state (tenants, bookings, leases, delta links) lives in Table storage.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Read secret values only (Key Vault references in app settings); no list/write/delete.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Key Vault Secrets Officer: set/rotate secrets (operators only, optional).
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Publish telemetry to Application Insights with Entra ID auth (DisableLocalAuth).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for containerName in blobContainerNames: {
    parent: blobService
    name: containerName
  }
]

resource containerBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (containerName, i) in (blobRoleScope == 'containers' ? blobContainerNames : []): {
    name: guid(containers[i].id, principalId, roleIds.storageBlobDataOwner)
    scope: containers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'Bookker Sync: blob container ${containerName} (host storage / deployment package)'
    }
  }
]

resource accountBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (blobRoleScope == 'account') {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Bookker Sync: Functions host storage and Flex Consumption deployment package'
  }
}

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Bookker Sync: queue triggers and the app\'s queue messages'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Bookker Sync: the app\'s tables'
  }
}

// Vault scope: the vault is dedicated to this app and holds only its Graph credential
// (client secret, or certificate material in certificate mode).
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Bookker Sync: resolve Key Vault references in app settings'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantMetricsPublisher) {
  name: guid(applicationInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Bookker Sync: telemetry with Entra ID auth'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerPrincipalId)) {
  name: guid(vault.id, secretsOfficerPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: secretsOfficerPrincipalId
    principalType: secretsOfficerPrincipalType
    description: 'Bookker Sync operators: rotate the Graph credential'
  }
}

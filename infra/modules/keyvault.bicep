// Key Vault (RBAC authorization mode) holding the Microsoft Graph client credential.
//
// The Function App never sees the secret in its configuration: its app setting
// GRAPH_CLIENT_SECRET is a Key Vault reference, @Microsoft.KeyVault(SecretUri=...), resolved
// by the platform with the app's managed identity (Key Vault Secrets User, roles.bicep).
// The URI has no version, so the app follows the secret's current version after rotation.
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Key Vault name (3-24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Name of the secret holding the Graph client secret.')
param graphClientSecretName string = 'graph-client-secret'

@description('Graph client secret value. Empty: leave the secret as it is in the vault (first deployment: pass it; later deployments and rotations: `az keyvault secret set`).')
@secure()
param graphClientSecret string = ''

@description('Name of the secret holding the app\'s own key (APP_SECRET_KEY).')
param appSecretKeyName string = 'app-secret-key'

@description('APP_SECRET_KEY value (at least 32 characters: `openssl rand -base64 48`). Empty: leave the vault\'s secret as it is (pass it on the first deployment).')
@secure()
param appSecretKey string = ''

@description('No public endpoint: reached only through a private endpoint (network.bicep).')
param privateNetworking bool = false

@description('Log Analytics workspace receiving the vault\'s audit log (every secret read).')
param logAnalyticsWorkspaceId string

@description('Days a deleted vault or secret can still be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Azure RBAC for the data plane (no access policies): the app gets Key Vault Secrets User.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // Once on, purge protection can't be turned off: a deleted vault keeps its name for the
    // retention period (see docs/deploy.md, troubleshooting).
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // With private networking the platform resolves the Key Vault reference through the
    // app's VNet integration and the vault's private endpoint.
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Written only when a value is passed, so a later deployment without the parameter doesn't
// roll back a secret rotated with `az keyvault secret set`.
resource graphSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientSecret)) {
  parent: vault
  name: graphClientSecretName
  properties: {
    value: graphClientSecret
    contentType: 'Microsoft Graph client secret (app registration)'
  }
}

// The app's own key: HMAC of subscription clientStates and of admin-consent states.
// Rotating it invalidates both (subscriptions must be recreated: docs/deploy.md).
resource appKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(appSecretKey)) {
  parent: vault
  name: appSecretKeyName
  properties: {
    value: appSecretKey
    contentType: 'Bookker Sync APP_SECRET_KEY (HMAC key)'
  }
}

// Every access to the vault (AuditEvent: who read or set the Graph secret) in Log Analytics.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output vaultUri string = vault.properties.vaultUri
// The secret's URI without a version (vaultUri ends with '/'). Not a secret value.
output graphClientCredentialUri string = '${vault.properties.vaultUri}secrets/${graphClientSecretName}'
output appSecretKeyUri string = '${vault.properties.vaultUri}secrets/${appSecretKeyName}'

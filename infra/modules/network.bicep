// Opt-in private networking (main.bicep privateNetworking=true): a VNet with
//   - "app": the Function App's VNet integration (Flex Consumption delegates the subnet to
//     Microsoft.App/environments), so its outbound calls to storage and Key Vault stay inside;
//   - "private-endpoints": private endpoints of the storage account (blob, queue, table) and
//     of the Key Vault, each with its privatelink DNS zone linked to the VNet, so the usual
//     host names (<account>.queue.core.windows.net, <vault>.vault.azure.net) resolve to
//     private addresses from the app.
// Storage and Key Vault then disable public network access. The Function App itself stays
// public: Microsoft Graph delivers change notifications to it over the internet.
// Shape follows Azure-Samples/azure-functions-flex-consumption-samples (E2E/*-VNET, vnet.bicep,
// storage-PrivateEndpoint.bicep); private DNS zone names:
// https://learn.microsoft.com/azure/private-link/private-endpoint-dns

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Virtual network name.')
param name string

@description('Address space of the VNet.')
param addressPrefix string = '10.80.0.0/16'

@description('Subnet of the Function App\'s VNet integration (Flex Consumption: /27 at least).')
param appSubnetPrefix string = '10.80.0.0/24'

@description('Subnet of the private endpoints.')
param privateEndpointSubnetPrefix string = '10.80.1.0/24'

@description('The app\'s storage account.')
param storageAccountName string

@description('The Key Vault holding the Graph credential.')
param keyVaultName string

var appSubnetName = 'app'
var privateEndpointSubnetName = 'private-endpoints'
var storageSuffix = environment().suffixes.storage

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// One private endpoint per (resource, sub-resource), each with its own DNS zone.
var endpoints = [
  {
    name: 'blob'
    target: storage.id
    zone: 'privatelink.blob.${storageSuffix}'
  }
  {
    name: 'queue'
    target: storage.id
    zone: 'privatelink.queue.${storageSuffix}'
  }
  {
    name: 'table'
    target: storage.id
    zone: 'privatelink.table.${storageSuffix}'
  }
  {
    name: 'vault'
    target: vault.id
    zone: 'privatelink.vaultcore.azure.net'
  }
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for endpoint in endpoints: {
    name: endpoint.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (endpoint, i) in endpoints: {
    parent: zones[i]
    name: 'link-${name}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [
  for endpoint in endpoints: {
    name: 'pe-${endpoint.name}-${name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: '${vnet.id}/subnets/${privateEndpointSubnetName}'
      }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: endpoint.target
            groupIds: [
              endpoint.name
            ]
          }
        }
      ]
    }
  }
]

// Registers each endpoint's private address in its zone (A record).
resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: endpoint.name
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
output vnetName string = vnet.name

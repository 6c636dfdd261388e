// With vnetEnabled: the app's virtual network, like the Flex Consumption samples' VNET_ENABLED.
// - `app` subnet, delegated to Microsoft.App/environments (Flex Consumption VNet integration),
//   out to the internet (Slack, ARM) through a NAT gateway: one fixed egress IP;
// - `private-endpoints` subnet: the storage account's blob, queue and table endpoints and the
//   Key Vault, each with its private DNS zone linked to the network.

param location string
param tags object
param resourceToken string

@description('Id of the app\'s storage account.')
param storageAccountId string

@description('Id of the app\'s Key Vault.')
param keyVaultId string

var storageSuffix = environment().suffixes.storage
var storageZones = [
  'blob'
  'queue'
  'table'
]
// `.vault.azure.net` becomes `privatelink.vaultcore.azure.net` (and the sovereign clouds' alike).
var keyVaultZone = 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}'

resource egressIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-acrbot-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-acrbot-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: egressIp.id
      }
    ]
  }
}

resource appSubnetNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-acrbot-app-${resourceToken}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointSubnetNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-acrbot-pe-${resourceToken}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: 'vnet-acrbot-${resourceToken}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.0.0.0/16'
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.0.1.0/24'
          natGateway: {
            id: natGateway.id
          }
          networkSecurityGroup: {
            id: appSubnetNsg.id
          }
          defaultOutboundAccess: false
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
        name: 'private-endpoints'
        properties: {
          addressPrefix: '10.0.2.0/24'
          networkSecurityGroup: {
            id: endpointSubnetNsg.id
          }
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource storageDns 'Microsoft.Network/privateDnsZones@2024-06-01' = [for service in storageZones: {
  name: 'privatelink.${service}.${storageSuffix}'
  location: 'global'
  tags: tags
}]

resource storageDnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (service, i) in storageZones: {
  parent: storageDns[i]
  name: 'vnet-acrbot'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource storageEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for (service, i) in storageZones: {
  name: 'pe-acrbot-${service}-${resourceToken}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet.properties.subnets[1].id
    }
    privateLinkServiceConnections: [
      {
        name: service
        properties: {
          privateLinkServiceId: storageAccountId
          groupIds: [
            service
          ]
        }
      }
    ]
  }
}]

resource storageDnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (service, i) in storageZones: {
  parent: storageEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: service
        properties: {
          privateDnsZoneId: storageDns[i].id
        }
      }
    ]
  }
}]

resource keyVaultDns 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: keyVaultZone
  location: 'global'
  tags: tags
}

resource keyVaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: keyVaultDns
  name: 'vnet-acrbot'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource keyVaultEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: 'pe-acrbot-vault-${resourceToken}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet.properties.subnets[1].id
    }
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: keyVaultId
          groupIds: [
            'vault'
          ]
        }
      }
    ]
  }
}

resource keyVaultDnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: keyVaultEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: keyVaultDns.id
        }
      }
    ]
  }
}

output appSubnetId string = vnet.properties.subnets[0].id
output egressIp string = egressIp.properties.ipAddress

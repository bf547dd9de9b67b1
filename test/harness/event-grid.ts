/**
 * Event Grid `Microsoft.Storage.BlobCreated` events as the service delivers them (Event Grid schema, fields
 * from the docs page "Azure Blob Storage as an Event Grid source"), for the emulator's account.
 */
import { randomUUID } from 'node:crypto';

export interface BlobCreatedInit {
  account: string;
  container: string;
  /** Full blob name inside the container. */
  blob: string;
  /** The blob's endpoint, for `data.url`: `http://127.0.0.1:PORT/devstoreaccount1`. */
  blobEndpoint: string;
  eTag?: string;
  contentLength?: number;
  api?: string;
  id?: string;
}

export function blobCreatedEvent(init: BlobCreatedInit) {
  return {
    topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${init.account}`,
    subject: `/blobServices/default/containers/${init.container}/blobs/${init.blob}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    id: init.id ?? randomUUID(),
    data: {
      api: init.api ?? 'PutBlob',
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: init.eTag ?? '0x8DC0000000000000',
      contentType: 'image/jpeg',
      contentLength: init.contentLength ?? 0,
      blobType: 'BlockBlob',
      url: `${init.blobEndpoint}/${init.container}/${init.blob.split('/').map(encodeURIComponent).join('/')}`,
      sequencer: '0000000000000000000000000000000000000000000000000',
      storageDiagnostics: { batchId: randomUUID() },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The request Event Grid sends when a WebHook subscription is created (Event Grid schema). */
export function subscriptionValidationEvent(validationCode: string) {
  return {
    id: randomUUID(),
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    subject: '',
    data: { validationCode, validationUrl: `https://rp-westus.eventgrid.azure.net/eventsubscriptions/s/validate?id=${validationCode}&t=2026-01-01T00:00:00Z` },
    eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
    eventTime: new Date().toISOString(),
    metadataVersion: '1',
    dataVersion: '2',
  };
}

// Puts the bundle where Batch nodes fetch it: the `scripts` container of the destination's account,
// once per version; an identical upload is skipped by comparing the content hash in blob metadata.
import { readFile } from 'node:fs/promises';
import type { Store } from '../interfaces.js';
import { UsageError } from '../errors.js';
import { openStore } from '../store/index.js';
import { displayLocation, isBlobLocation, parseBlobLocation } from '../store/location.js';
import { VERSION } from '../version.js';
import { buildBundle, bundleBlobName, type Bundle, type BuildBundleOptions } from './bundle.js';

/** The container nodes download code from, as in the original deployment. */
export const SCRIPTS_CONTAINER = 'scripts';
/** Blob metadata key holding the bundle's sha256. */
export const META_BUNDLE_SHA256 = 'pixbatchsha256';

/** `https://ACCOUNT.blob.core.windows.net/scripts` for any location in the same account. */
export function scriptsLocationFor(location: string): string {
  if (!isBlobLocation(location)) {
    throw new UsageError(`Expected a Blob Storage location (https://ACCOUNT.blob.core.windows.net/CONTAINER or az://CONTAINER) but received "${location}"`);
  }
  const loc = parseBlobLocation(location);
  return `${loc.serviceUrl}/${SCRIPTS_CONTAINER}`;
}

/** A Blob Storage location as a plain URL without its query: what nodes and job.json see. */
export function plainUrl(location: string): string {
  return displayLocation(parseBlobLocation(location)).replace(/\/+$/, '');
}

export interface DeployedBundle {
  /** URL the preparation task downloads (no SAS: nodes use their managed identity). */
  url: string;
  blobName: string;
  sha256: string;
  version: string;
  /** False when an identical bundle was already there. */
  uploaded: boolean;
  size: number;
}

export interface DeployOptions extends BuildBundleOptions {
  /** Any location in the target account (the destination); the bundle goes to its `scripts` container. */
  location: string;
  /** Build and compare even if this version is already uploaded (what `pixbatch batch deploy` does). */
  force?: boolean;
  /** A bundle built already (tests build once). */
  bundle?: Bundle;
}

/**
 * Builds the bundle and uploads it unless the same bytes are already there.
 *
 * @example
 * const deployed = await deployBundle({ location: 'https://acct.blob.core.windows.net/converted' });
 * console.log(deployed.uploaded ? 'uploaded' : 'already there', deployed.url);
 */
export async function deployBundle(options: DeployOptions): Promise<DeployedBundle> {
  const scriptsUrl = scriptsLocationFor(options.location);
  const store = await openStore(scriptsUrl, 'destination');
  try {
    await store.prepare?.('destination');
    const blobName = bundleBlobName();
    if (!options.force && !options.bundle) {
      const existing = await store.stat(blobName);
      const sha = existing?.metadata?.[META_BUNDLE_SHA256];
      if (existing && sha) return { url: `${plainUrl(scriptsUrl)}/${blobName}`, blobName, sha256: sha, version: VERSION, uploaded: false, size: existing.size };
    }
    const bundle = options.bundle ?? (await buildBundle(options));
    const uploaded = await uploadIfChanged(store, blobName, bundle);
    return { url: `${plainUrl(scriptsUrl)}/${blobName}`, blobName, sha256: bundle.sha256, version: bundle.version, uploaded, size: bundle.size };
  } finally {
    await store.close?.();
  }
}

async function uploadIfChanged(store: Store, blobName: string, bundle: Bundle): Promise<boolean> {
  const existing = await store.stat(blobName);
  if (existing?.metadata?.[META_BUNDLE_SHA256] === bundle.sha256) return false;
  await store.write(blobName, await readFile(bundle.file), {
    contentType: 'application/gzip',
    metadata: { [META_BUNDLE_SHA256]: bundle.sha256, pixbatchversion: bundle.version, pixbatchnode: bundle.nodeVersion },
  });
  return true;
}

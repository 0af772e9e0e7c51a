/**
 * Lazy access to koffi. Importing any module of ours must never load a native
 * addon (and so never fail or print on a host where it cannot load); koffi is
 * required on first use only. The bundle keeps koffi external (scripts/build.mjs).
 */
import { createRequire } from 'node:module';
import type * as KoffiNs from 'koffi';

export type Koffi = typeof KoffiNs;

let cached: Koffi | undefined;
let loadError: Error | undefined;

/** Returns koffi, loading it on the first call. Throws the load error on every call if it failed. */
export function loadKoffi(): Koffi {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    cached = require('koffi') as Koffi;
    return cached;
  } catch (err) {
    loadError = err instanceof Error ? err : new Error(String(err));
    throw loadError;
  }
}

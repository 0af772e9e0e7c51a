/** Parsers for option values. Each throws UsageError (exit 2) naming the option and what it expects. */
import { UsageError } from '../errors.ts';

/** A non-negative decimal or 0x-prefixed hex integer within [min, max]. */
export function parseInteger(option: string, raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw.trim().replace(/_/g, '');
  const ok = /^(0x[0-9a-f]+|[0-9]+)$/i.test(text);
  const value = ok ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} expects an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(option: string, raw: string, choices: readonly T[]): T {
  const value = raw.trim().toLowerCase();
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${option} expects one of ${choices.join(', ')}, got '${raw}'`);
  }
  return value as T;
}

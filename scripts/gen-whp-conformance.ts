/**
 * Writes the WHP conformance C generated from our TypeScript declarations
 * (src/whp/conformance-c.ts), for reading or compiling by hand:
 *
 *   node --import tsx scripts/gen-whp-conformance.ts [outDir]   (default .cache/whp-conformance)
 *   x86_64-w64-mingw32-gcc -std=c11 -c -Wall -Werror .cache/whp-conformance/whp-conformance.c
 *
 * test/whp-conformance.test.ts generates and compiles the same files on every `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emitBitfieldProbesC, emitConformanceC } from '../src/whp/conformance-c.ts';
import { WHV_CONSTANTS, whpRegistry } from '../src/whp/whp-decls.ts';
import { WHV_CALLBACKS, WHV_FUNCTIONS } from '../src/whp/whp-functions.ts';

const outDir = process.argv[2] ?? join('.cache', 'whp-conformance');
mkdirSync(outDir, { recursive: true });
const conformance = join(outDir, 'whp-conformance.c');
const probes = join(outDir, 'whp-bitfield-probes.c');
writeFileSync(conformance, emitConformanceC(whpRegistry, WHV_FUNCTIONS, WHV_CALLBACKS, WHV_CONSTANTS));
writeFileSync(probes, emitBitfieldProbesC(whpRegistry).source);
process.stdout.write(`wrote ${conformance}\nwrote ${probes}\ncompile: x86_64-w64-mingw32-gcc -std=c11 -c -Wall -Werror ${conformance}\n`);

/**
 * The exit-context byte layouts of test/fixtures/whp/exit-context-samples.c, compiled by MinGW
 * (the header places every byte) and read back from the object file's .rdata: one 224-byte
 * WHV_RUN_VP_EXIT_CONTEXT per `whp_sample_<name>` symbol. Shared by whp-exit-context.test.ts
 * and whp-exit-emulation.test.ts. Without MinGW the map is empty and `skipReason` says why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CONTEXT_SIZE } from '../../src/whp/exit-context.ts';
import { compileC, mingwMissingReason, readRdata, symbolBytes, withTempDir } from './mingw.ts';
import { ROOT } from './cli.ts';

export function loadExitContextSamples(): { samples: Map<string, Uint8Array>; skipReason: string | undefined } {
  const samples = new Map<string, Uint8Array>();
  const skipReason = mingwMissingReason();
  if (!skipReason) {
    withTempDir((dir) => {
      const r = compileC(readFileSync(join(ROOT, 'test/fixtures/whp/exit-context-samples.c'), 'utf8'), 'exit-context-samples', dir);
      if (!r.ok) throw new Error(`exit-context-samples.c does not compile:\n${r.stderr}`);
      const rdata = readRdata(r.object);
      for (const name of rdata.symbols.keys()) {
        if (name.startsWith('whp_sample_')) samples.set(name.slice('whp_sample_'.length), Uint8Array.from(symbolBytes(rdata, name, EXIT_CONTEXT_SIZE)));
      }
    });
  }
  return { samples, skipReason };
}

/**
 * The command registry. Each command lives in its own file and exports a
 * `register(program, getContext)` function; a command is listed here only once
 * its issue makes it real (no placeholders).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { register as inspect } from './inspect.ts';
import { register as probe } from './probe.ts';
import { register as probeTsc } from './probe-tsc.ts';

export type GetContext = () => Promise<CliContext>;
export type RegisterCommand = (program: Command, getContext: GetContext) => void;

export const commands: RegisterCommand[] = [
  inspect,
  probe,
  probeTsc,
];

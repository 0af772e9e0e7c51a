import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleEscape } from '../src/vmm/console-escape.ts';

function run(chunks: string[]) {
  const esc = new ConsoleEscape();
  const bytes: number[] = [];
  const cmds: string[] = [];
  for (const c of chunks) esc.feed(Buffer.from(c, 'latin1'), (b) => bytes.push(...b), (cmd) => cmds.push(cmd));
  return { bytes: Buffer.from(bytes).toString('latin1'), cmds };
}

test('Ctrl-A x / h are commands; Ctrl-A Ctrl-A is one literal Ctrl-A', () => {
  assert.deepEqual(run(['ab\x01xcd']), { bytes: 'abcd', cmds: ['quit'] });
  assert.deepEqual(run(['\x01h']), { bytes: '', cmds: ['help'] });
  assert.deepEqual(run(['a\x01\x01b']), { bytes: 'a\x01b', cmds: [] });
});

test('an escape split across reads is completed by the next chunk', () => {
  assert.deepEqual(run(['abc\x01', 'x']), { bytes: 'abc', cmds: ['quit'] });
  assert.deepEqual(run(['\x01', '\x01', 'z']), { bytes: '\x01z', cmds: [] });
});

test('unknown keys after Ctrl-A reach the guest with the Ctrl-A (nothing eaten)', () => {
  assert.deepEqual(run(['\x01q\r']), { bytes: '\x01q\r', cmds: [] });
});

import { describe, expect, it } from 'vitest';
import { AppliedCommands, KvStateMachine } from '../src/index.js';

describe('AppliedCommands', () => {
  it('reports an index at which two nodes applied different commands, and applies through to the kv', async () => {
    const violations: string[] = [];
    const commands = new AppliedCommands((why) => violations.push(why));
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    const onA = commands.stateMachine(1, a);
    const onB = commands.stateMachine(2, b);
    await onA.apply(KvStateMachine.put('k', 'v1'), 1);
    await onB.apply(KvStateMachine.put('k', 'v1'), 1);
    expect(violations).toEqual([]);
    await onA.apply(KvStateMachine.put('k', 'v2'), 2);
    await onB.apply(KvStateMachine.put('k', 'v3'), 2);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/^index 2: node 2 applied .*v3.*, another node .*v2/);
    expect(a.get('k')).toBe('v2');
    expect(b.get('k')).toBe('v3');
    // A new cluster: index 2 may hold anything again.
    commands.clear();
    await onA.apply(KvStateMachine.put('k', 'v4'), 2);
    expect(violations).toHaveLength(1);
  });

  it('offers the streamed snapshot calls only when asked', () => {
    const commands = new AppliedCommands(() => {});
    const kv = new KvStateMachine();
    expect(commands.stateMachine(1, kv).snapshotChunks).toBeUndefined();
    const streamed = commands.stateMachine(1, kv, true);
    expect(streamed.snapshotChunks).toBeTypeOf('function');
    expect(streamed.restoreChunks).toBeTypeOf('function');
  });
});

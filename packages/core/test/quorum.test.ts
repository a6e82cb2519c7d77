// Replays etcd's quorum/testdata (mirroring quorum/datadriven_test.go) and
// ports majority_test.go and quick_test.go.
import { describe, expect, it } from 'vitest';
import { JointConfig } from '../src/quorum/joint.js';
import { MajorityConfig } from '../src/quorum/majority.js';
import { type Index, indexToString, mapAckIndexer, MaxIndex, VoteResult, voteResultToString } from '../src/quorum/quorum.js';
import { alternativeMajorityCommittedIndex, handleQuorum } from '../src/rafttest/quorum-handler.js';
import { perm, seededRandomInt } from './helpers/random.js';
import { describeDatadriven } from './helpers/testdata.js';

describeDatadriven('quorum datadriven', 'quorum', () => handleQuorum);

describe('MajorityConfig.describe', () => {
  const c = new MajorityConfig([1, 2, 3]);
  it.each([
    {
      name: 'different commit index for each voter',
      acked: [[1, 101], [2, 102], [3, 103]],
      want: '       idx\n>      101    (id=1)\nx>     102    (id=2)\nxx>    103    (id=3)\n',
    },
    {
      name: 'same commit index for all voters',
      acked: [[1, 100], [2, 100], [3, 100]],
      want: '       idx\n>      100    (id=1)\n>      100    (id=2)\n>      100    (id=3)\n',
    },
    {
      name: 'same commit index for part of the voters',
      acked: [[1, 100], [2, 102], [3, 102]],
      want: '       idx\n>      100    (id=1)\nx>     102    (id=2)\nx>     102    (id=3)\n',
    },
    {
      name: 'missing some commit indexes',
      acked: [[1, 101], [3, 103]],
      want: '       idx\nx>     101    (id=1)\n?        0    (id=2)\nxx>    103    (id=3)\n',
    },
  ] as { name: string; acked: [number, number][]; want: string }[])('$name', ({ acked, want }) => {
    expect(c.describe(mapAckIndexer(new Map(acked)))).toBe(want);
  });

  it('prints the empty config', () => {
    expect(new MajorityConfig().describe(mapAckIndexer(new Map()))).toBe('<empty majority quorum>');
  });
});

describe('quorum basics', () => {
  it('prints ids in hex, sorted', () => {
    expect(new MajorityConfig([3, 1, 2]).toString()).toBe('(1 2 3)');
    expect(new MajorityConfig([255, 16]).toString()).toBe('(10 ff)');
    expect(new MajorityConfig().toString()).toBe('()');
    expect(new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig([3])).toString()).toBe('(1 2)&&(3)');
    expect(new JointConfig(new MajorityConfig([1, 2])).toString()).toBe('(1 2)');
  });

  it('prints indexes and vote results as etcd does', () => {
    expect(indexToString(MaxIndex)).toBe('∞');
    expect(indexToString(12)).toBe('12');
    expect(voteResultToString(VoteResult.VotePending)).toBe('VotePending');
    expect(voteResultToString(VoteResult.VoteLost)).toBe('VoteLost');
    expect(voteResultToString(VoteResult.VoteWon)).toBe('VoteWon');
    expect(voteResultToString(7 as VoteResult)).toBe('VoteResult(7)');
  });

  it('commits everything on an empty config, deferring to the other half', () => {
    const l = mapAckIndexer(new Map([[1, 5]]));
    expect(new MajorityConfig().committedIndex(l)).toBe(MaxIndex);
    expect(new JointConfig(new MajorityConfig([1])).committedIndex(l)).toBe(5);
  });
});

// quick_test.go: committedIndex agrees with the alternative computation.
describe('quick', () => {
  // etcd's smallRandIdxMap: up to 9 ids out of 2n, indexes below n.
  function smallRandIdxMap(rand: (n: number) => number): Map<number, Index> {
    const n = rand(10);
    const ids = perm(rand, 2 * n).slice(0, n);
    return new Map(ids.map((id) => [id, rand(n)]));
  }

  it('majority_commit', () => {
    const rand = seededRandomInt(1);
    for (let i = 0; i < 50000; i++) {
      const c = new MajorityConfig(smallRandIdxMap(rand).keys());
      const l = mapAckIndexer(smallRandIdxMap(rand));
      const got = c.committedIndex(l);
      const want = alternativeMajorityCommittedIndex(c, l);
      if (got !== want) expect.fail(`config ${c.toString()}: committedIndex ${got}, alternative ${want}`);
    }
  });
});

// Ports etcd's tracker/inflights_test.go and tracker/progress_test.go, plus
// a few checks of the ProgressTracker.
import { describe, expect, it } from 'vitest';
import { RaftPanic } from '../src/errors.js';
import { JointConfig } from '../src/quorum/joint.js';
import { MajorityConfig } from '../src/quorum/majority.js';
import { VoteResult } from '../src/quorum/quorum.js';
import { newConfState } from '../src/raftpb/types.js';
import { Inflights } from '../src/tracker/inflights.js';
import { Progress, progressMapToString } from '../src/tracker/progress.js';
import { ProgressStateType } from '../src/tracker/state.js';
import { cloneTrackerConfig, ProgressTracker, trackerConfigToString } from '../src/tracker/tracker.js';

const { StateProbe, StateReplicate, StateSnapshot } = ProgressStateType;

// The Go tests compare Inflights' unexported fields; so do we.
interface InflightsInternals {
  start: number;
  _count: number;
  bytes: number;
  size: number;
  buffer: { index: number; bytes: number }[];
}
const internals = (inf: Inflights): InflightsInternals => inf as unknown as InflightsInternals;

function state(inf: Inflights) {
  const s = internals(inf);
  return {
    start: s.start,
    count: s._count,
    bytes: s.bytes,
    size: s.size,
    indexes: s.buffer.map((f) => f.index),
    sizes: s.buffer.map((f) => f.bytes),
  };
}

/** An Inflights with a preallocated buffer, as the Go test builds by hand. */
function withBuffer(size: number, start: number): Inflights {
  const inf = new Inflights(size, 0);
  const s = internals(inf);
  s.start = start;
  s.buffer = Array.from({ length: size }, () => ({ index: 0, bytes: 0 }));
  return inf;
}

describe('Inflights', () => {
  it('add', () => {
    // No rotation.
    const inf = withBuffer(10, 0);
    for (let i = 0; i < 5; i++) inf.add(i, 100 + i);
    expect(state(inf)).toEqual({
      start: 0,
      count: 5,
      bytes: 510,
      size: 10,
      indexes: [0, 1, 2, 3, 4, 0, 0, 0, 0, 0],
      sizes: [100, 101, 102, 103, 104, 0, 0, 0, 0, 0],
    });
    for (let i = 5; i < 10; i++) inf.add(i, 100 + i);
    expect(state(inf)).toEqual({
      start: 0,
      count: 10,
      bytes: 1045,
      size: 10,
      indexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      sizes: [100, 101, 102, 103, 104, 105, 106, 107, 108, 109],
    });

    // Rotation.
    const in2 = withBuffer(10, 5);
    for (let i = 0; i < 5; i++) in2.add(i, 100 + i);
    expect(state(in2)).toEqual({
      start: 5,
      count: 5,
      bytes: 510,
      size: 10,
      indexes: [0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
      sizes: [0, 0, 0, 0, 0, 100, 101, 102, 103, 104],
    });
    for (let i = 5; i < 10; i++) in2.add(i, 100 + i);
    expect(state(in2)).toEqual({
      start: 5,
      count: 10,
      bytes: 1045,
      size: 10,
      indexes: [5, 6, 7, 8, 9, 0, 1, 2, 3, 4],
      sizes: [105, 106, 107, 108, 109, 100, 101, 102, 103, 104],
    });
  });

  it('freeLE', () => {
    const inf = new Inflights(10, 0);
    for (let i = 0; i < 10; i++) inf.add(i, 100 + i);
    const full = {
      indexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      sizes: [100, 101, 102, 103, 104, 105, 106, 107, 108, 109],
    };

    inf.freeLE(0);
    expect(state(inf)).toEqual({ start: 1, count: 9, bytes: 945, size: 10, ...full });
    inf.freeLE(4);
    expect(state(inf)).toEqual({ start: 5, count: 5, bytes: 535, size: 10, ...full });
    inf.freeLE(8);
    expect(state(inf)).toEqual({ start: 9, count: 1, bytes: 109, size: 10, ...full });

    // Rotation.
    for (let i = 10; i < 15; i++) inf.add(i, 100 + i);
    inf.freeLE(12);
    const rotated = {
      indexes: [10, 11, 12, 13, 14, 5, 6, 7, 8, 9],
      sizes: [110, 111, 112, 113, 114, 105, 106, 107, 108, 109],
    };
    expect(state(inf)).toEqual({ start: 3, count: 2, bytes: 227, size: 10, ...rotated });
    inf.freeLE(14);
    expect(state(inf)).toEqual({ start: 0, count: 0, bytes: 0, size: 10, ...rotated });
  });

  it.each([
    { name: 'always-full', size: 0, maxBytes: 0, fullAt: 0, freeLE: 0, againAt: 0 },
    { name: 'single-entry', size: 1, maxBytes: 0, fullAt: 1, freeLE: 1, againAt: 2 },
    { name: 'single-entry-overflow', size: 1, maxBytes: 10, fullAt: 1, freeLE: 1, againAt: 2 },
    { name: 'multi-entry', size: 15, maxBytes: 0, fullAt: 15, freeLE: 6, againAt: 22 },
    { name: 'slight-overflow', size: 8, maxBytes: 400, fullAt: 4, freeLE: 2, againAt: 7 },
    { name: 'exact-max-bytes', size: 8, maxBytes: 406, fullAt: 4, freeLE: 3, againAt: 8 },
    { name: 'larger-overflow', size: 15, maxBytes: 408, fullAt: 5, freeLE: 1, againAt: 6 },
  ])('full: $name', ({ size, maxBytes, fullAt, freeLE, againAt }) => {
    const inf = new Inflights(size, maxBytes);
    const addUntilFull = (begin: number, end: number): void => {
      for (let i = begin; i < end; i++) {
        expect(inf.full(), `full at ${i}, want ${end}`).toBe(false);
        inf.add(i, 100 + i);
      }
      expect(inf.full(), `not full at ${end}`).toBe(true);
    };
    addUntilFull(0, fullAt);
    inf.freeLE(freeLE);
    addUntilFull(fullAt, againAt);
    expect(() => inf.add(100, 1024)).toThrow(RaftPanic);
  });

  it('reset does not leak bytes', () => {
    const inf = new Inflights(10, 1000);
    // A semi-realistic flow with periodic resets.
    let index = 0;
    for (let epoch = 0; epoch < 100; epoch++) {
      inf.reset();
      for (let i = 0; i < 5; i++) {
        expect(inf.full()).toBe(false);
        inf.add(++index, 16);
      }
      // Ack all but the last 2.
      inf.freeLE(index - 2);
      expect(inf.full()).toBe(false);
      expect(inf.count()).toBe(2);
    }
    inf.freeLE(index);
    expect(inf.count()).toBe(0);
  });

  it('clone shares no memory', () => {
    const inf = new Inflights(4, 0);
    inf.add(1, 10);
    const c = inf.clone();
    inf.add(2, 10);
    inf.freeLE(1);
    expect(c.count()).toBe(1);
    expect(state(c)).toMatchObject({ start: 0, count: 1, bytes: 10, indexes: [1] });
  });
});

describe('Progress', () => {
  const infl = (): Inflights => new Inflights(256, 0);

  it('toString', () => {
    const ins = new Inflights(1, 0);
    ins.add(123, 1);
    const pr = new Progress({
      match: 1,
      next: 2,
      state: StateSnapshot,
      pendingSnapshot: 123,
      recentActive: false,
      msgAppFlowPaused: true,
      isLearner: true,
      inflights: ins,
    });
    expect(pr.toString()).toBe('StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]');
  });

  it.each([
    [StateProbe, false, false],
    [StateProbe, true, true],
    [StateReplicate, false, false],
    [StateReplicate, true, true],
    [StateSnapshot, false, true],
    [StateSnapshot, true, true],
  ])('isPaused in state %i with paused=%s is %s', (state, paused, want) => {
    const p = new Progress({ state, msgAppFlowPaused: paused, inflights: infl() });
    expect(p.isPaused()).toBe(want);
  });

  it('maybeUpdate and maybeDecrTo resume the flow', () => {
    const p = new Progress({ next: 2, msgAppFlowPaused: true, inflights: infl() });
    p.maybeDecrTo(1, 1);
    expect(p.msgAppFlowPaused).toBe(false);
    p.msgAppFlowPaused = true;
    p.maybeUpdate(2);
    expect(p.msgAppFlowPaused).toBe(false);
  });

  it.each([
    { name: 'from replicate', state: StateReplicate, pendingSnapshot: 0, wnext: 2 },
    { name: 'snapshot finish', state: StateSnapshot, pendingSnapshot: 10, wnext: 11 },
    { name: 'snapshot failure', state: StateSnapshot, pendingSnapshot: 0, wnext: 2 },
  ])('becomeProbe: $name', ({ state, pendingSnapshot, wnext }) => {
    const p = new Progress({ state, match: 1, next: 5, pendingSnapshot, inflights: infl() });
    p.becomeProbe();
    expect(p.state).toBe(StateProbe);
    expect(p.match).toBe(1);
    expect(p.next).toBe(wnext);
  });

  it('becomeReplicate', () => {
    const p = new Progress({ state: StateProbe, match: 1, next: 5, inflights: infl() });
    p.becomeReplicate();
    expect(p.state).toBe(StateReplicate);
    expect(p.match).toBe(1);
    expect(p.next).toBe(p.match + 1);
  });

  it('becomeSnapshot', () => {
    const p = new Progress({ state: StateProbe, match: 1, next: 5, inflights: infl() });
    p.becomeSnapshot(10);
    expect(p.state).toBe(StateSnapshot);
    expect(p.match).toBe(1);
    expect(p.pendingSnapshot).toBe(10);
    expect(p.next).toBe(11);
  });

  const prevM = 3;
  const prevN = 5;
  it.each([
    [prevM - 1, prevM, prevN, false], // do not decrease match, next
    [prevM, prevM, prevN, false], // do not decrease next
    [prevM + 1, prevM + 1, prevN, true], // increase match, do not decrease next
    [prevM + 2, prevM + 2, prevN + 1, true], // increase match, next
  ])('maybeUpdate(%i) -> match=%i next=%i ok=%s', (update, wm, wn, wok) => {
    const p = new Progress({ match: prevM, next: prevN, inflights: infl() });
    expect(p.maybeUpdate(update)).toBe(wok);
    expect(p.match).toBe(wm);
    expect(p.next).toBe(wn);
  });

  it.each([
    // replicate, rejected not above match: stale
    [StateReplicate, 5, 10, 5, 5, false, 10],
    [StateReplicate, 5, 10, 4, 4, false, 10],
    // replicate, rejected above match: straight to match+1
    [StateReplicate, 5, 10, 9, 9, true, 6],
    // probe, next-1 != rejected: stale
    [StateProbe, 0, 0, 0, 0, false, 0],
    [StateProbe, 0, 10, 5, 5, false, 10],
    // next>1: decremented by 1
    [StateProbe, 0, 10, 9, 9, true, 9],
    [StateProbe, 0, 2, 1, 1, true, 1],
    // next<=1: reset to 1
    [StateProbe, 0, 1, 0, 0, true, 1],
    // decrease to min(rejected, last+1)
    [StateProbe, 0, 10, 9, 2, true, 3],
    // rejected < 1: reset to 1
    [StateProbe, 0, 10, 9, 0, true, 1],
  ])('maybeDecrTo in state %i m=%i n=%i rejected=%i last=%i', (state, m, n, rejected, last, w, wn) => {
    const p = new Progress({ state, match: m, next: n, inflights: infl() });
    expect(p.maybeDecrTo(rejected, last)).toBe(w);
    expect(p.match).toBe(m);
    expect(p.next).toBe(wn);
  });

  it('sentEntries pauses a full replicate flow and non-empty probes', () => {
    const p = new Progress({ state: StateReplicate, match: 1, next: 2, inflights: new Inflights(2, 0) });
    p.sentEntries(3, 30);
    expect(p.next).toBe(5);
    expect(p.msgAppFlowPaused).toBe(false);
    p.sentEntries(1, 10);
    expect(p.msgAppFlowPaused).toBe(true);
    expect(p.toString()).toBe('StateReplicate match=1 next=6 paused inactive inflight=2[full]');

    const probe = new Progress({ state: StateProbe, match: 1, next: 2, inflights: infl() });
    probe.sentEntries(0, 0);
    expect(probe.msgAppFlowPaused).toBe(false);
    probe.sentEntries(2, 0);
    expect(probe.msgAppFlowPaused).toBe(true);
    expect(probe.next).toBe(2);

    const snap = new Progress({ state: StateSnapshot, inflights: infl() });
    expect(() => snap.sentEntries(1, 1)).toThrow('sending append in unhandled state StateSnapshot');
  });

  it('canBumpCommit follows sentCommit', () => {
    const p = new Progress({ state: StateReplicate, match: 4, next: 8, inflights: infl() });
    expect(p.canBumpCommit(5)).toBe(true);
    p.sentCommit(7); // next-1: nothing more to bump
    expect(p.canBumpCommit(9)).toBe(false);
    p.sentCommit(5);
    expect(p.canBumpCommit(5)).toBe(false);
    expect(p.canBumpCommit(6)).toBe(true);
    // A rejection regresses sentCommit to the new next-1 (4)...
    p.maybeDecrTo(6, 0);
    expect(p.next).toBe(5);
    expect(p.canBumpCommit(5)).toBe(false);
    // ...so once the follower catches up, commit 5 is worth sending again.
    p.maybeUpdate(6);
    expect(p.canBumpCommit(5)).toBe(true);
  });

  it('clone is deep; resetForNewTerm keeps only isLearner', () => {
    const p = new Progress({ state: StateReplicate, match: 3, next: 6, isLearner: true, recentActive: true, inflights: infl() });
    p.sentEntries(2, 5);
    const c = p.clone();
    p.inflights.freeLE(10);
    expect(c.inflights.count()).toBe(1);
    expect(c.toString()).toBe('StateReplicate match=3 next=8 learner inflight=1');

    c.resetForNewTerm(11, 0);
    expect(c.toString()).toBe('StateProbe match=0 next=11 learner inactive');
    expect(c.inflights.size).toBe(256);
  });

  it('progressMapToString sorts by id', () => {
    const m = new Map([10, 2, 1].map((id) => [id, new Progress({ match: id, next: id + 1, recentActive: true, inflights: infl() })]));
    expect(progressMapToString(m)).toBe(
      '1: StateProbe match=1 next=2\n2: StateProbe match=2 next=3\n10: StateProbe match=10 next=11\n',
    );
  });
});

describe('ProgressTracker', () => {
  function tracker(voters: number[], outgoing: number[] = [], learners: number[] = []): ProgressTracker {
    const t = new ProgressTracker(10, 0);
    t.config.voters = new JointConfig(new MajorityConfig(voters), new MajorityConfig(outgoing));
    t.config.learners = new Set(learners);
    for (const id of [...voters, ...outgoing, ...learners]) {
      t.progress.set(id, new Progress({ next: 1, isLearner: learners.includes(id), inflights: new Inflights(10, 0) }));
    }
    return t;
  }

  it('commits by quorum of match indexes, joint needs both halves', () => {
    const t = tracker([1, 2, 3], [3, 4, 5]);
    const match = new Map([[1, 10], [2, 9], [3, 8], [4, 7], [5, 6]]);
    for (const [id, m] of match) t.progress.get(id)!.match = m;
    expect(t.committed()).toBe(7); // min(9 of (1 2 3), 7 of (3 4 5))
    expect(t.voterNodes()).toEqual([1, 2, 3, 4, 5]);
    expect(t.isSingleton()).toBe(false);
    expect(tracker([7]).isSingleton()).toBe(true);
  });

  it('visits in id order', () => {
    const t = tracker([30, 4, 12], [], [7]);
    const seen: number[] = [];
    t.visit((id) => seen.push(id));
    expect(seen).toEqual([4, 7, 12, 30]);
    expect(t.learnerNodes()).toEqual([7]);
    expect(tracker([1]).learnerNodes()).toEqual([]);
  });

  it('tallies votes, keeping the first vote and ignoring non-voters', () => {
    const t = tracker([1, 2, 3], [], [4]);
    t.recordVote(1, true);
    t.recordVote(1, false); // ignored
    t.recordVote(4, true); // learner: not counted
    t.recordVote(9, false); // unknown: not counted
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 0, result: VoteResult.VotePending });
    t.recordVote(2, false);
    t.recordVote(3, true);
    expect(t.tallyVotes()).toEqual({ granted: 2, rejected: 1, result: VoteResult.VoteWon });
    t.resetVotes();
    expect(t.tallyVotes()).toEqual({ granted: 0, rejected: 0, result: VoteResult.VotePending });
  });

  it('quorumActive counts recently active voters only', () => {
    const t = tracker([1, 2, 3], [], [4]);
    t.progress.get(1)!.recentActive = true;
    t.progress.get(4)!.recentActive = true;
    expect(t.quorumActive()).toBe(false);
    t.progress.get(3)!.recentActive = true;
    expect(t.quorumActive()).toBe(true);
  });

  it('confState and config strings', () => {
    const t = tracker([3, 1, 2], [1, 2, 4]);
    t.config.learnersNext = new Set([4]);
    t.config.autoLeave = true;
    expect(t.confState()).toEqual(
      newConfState({ voters: [1, 2, 3], votersOutgoing: [1, 2, 4], learnersNext: [4], autoLeave: true }),
    );
    expect(trackerConfigToString(t.config)).toBe('voters=(1 2 3)&&(1 2 4) learners_next=(4) autoleave');
    expect(trackerConfigToString(tracker([1], [], [2]).config)).toBe('voters=(1) learners=(2)');

    // As etcd's Config.Clone, cloning drops autoLeave and shares nothing.
    const c = cloneTrackerConfig(t.config);
    expect(trackerConfigToString(c)).toBe('voters=(1 2 3)&&(1 2 4) learners_next=(4)');
    c.voters.incoming.add(9);
    c.learnersNext.clear();
    expect(trackerConfigToString(t.config)).toBe('voters=(1 2 3)&&(1 2 4) learners_next=(4) autoleave');
  });
});

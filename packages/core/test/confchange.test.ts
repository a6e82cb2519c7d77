// Replays etcd's confchange/testdata (mirroring confchange/datadriven_test.go)
// and ports restore_test.go and quick_test.go with a seeded PRNG.
import { describe, expect, it } from 'vitest';
import { Changer, checkInvariants, describe as describeCCs, type ChangeResult } from '../src/confchange/confchange.js';
import { restore, toConfChangeSingle } from '../src/confchange/restore.js';
import { ErrConfChange } from '../src/errors.js';
import { confChangesFromString, confChangesToString } from '../src/raftpb/confchange-string.js';
import { ConfChangeType, newConfState, type ConfChangeSingle, type ConfState } from '../src/raftpb/types.js';
import { newConfChangeHandler } from '../src/rafttest/confchange-handler.js';
import { progressMapToString } from '../src/tracker/progress.js';
import { newTrackerConfig, ProgressTracker, trackerConfigToString, type TrackerConfig } from '../src/tracker/tracker.js';
import { perm, seededRandomInt } from './helpers/random.js';
import { describeDatadriven } from './helpers/testdata.js';

describeDatadriven('confchange datadriven', 'confchange', newConfChangeHandler);

function emptyChanger(lastIndex: number, maxInflight = 20): Changer {
  const t = new ProgressTracker(maxInflight, 0);
  return new Changer(t.config, t.progress, t.maxInflight, t.maxInflightBytes, lastIndex);
}

/** What etcd's quickcheck generator makes: a random valid, non-empty ConfState. */
function randomConfState(rand: (n: number) => number): ConfState {
  const nVoters = 1 + rand(5);
  const nLearners = rand(5);
  // Voters of the outgoing config that are not in the incoming one.
  const nRemovedVoters = rand(3);
  // Voters, learners and removed voters never overlap.
  let ids = perm(rand, 2 * (nVoters + nLearners + nRemovedVoters)).map((i) => i + 1);
  const voters = ids.slice(0, nVoters);
  ids = ids.slice(nVoters);
  const learners = ids.slice(0, nLearners);
  ids = ids.slice(nLearners);
  // Some incoming voters were voters before, too.
  const nOutgoingRetainedVoters = rand(nVoters + 1);
  const votersOutgoing =
    nOutgoingRetainedVoters > 0 || nRemovedVoters > 0
      ? [...voters.slice(0, nOutgoingRetainedVoters), ...ids.slice(0, nRemovedVoters)]
      : [];
  // Only removed voters can be demoted to learners.
  const learnersNext = nRemovedVoters > 0 ? ids.slice(0, rand(nRemovedVoters + 1)) : [];
  const autoLeave = votersOutgoing.length > 0 && rand(2) === 1;
  return newConfState({ voters, learners, votersOutgoing, learnersNext, autoLeave });
}

function sortedConfState(cs: ConfState): ConfState {
  const s = (ids: number[]): number[] => [...ids].sort((a, b) => a - b);
  return { ...cs, voters: s(cs.voters), learners: s(cs.learners), votersOutgoing: s(cs.votersOutgoing), learnersNext: s(cs.learnersNext) };
}

function confStateOf(r: ChangeResult): ConfState {
  const t = new ProgressTracker(20, 0);
  t.config = r.config;
  t.progress = r.progress;
  return t.confState();
}

describe('restore', () => {
  it.each([
    newConfState(),
    newConfState({ voters: [1, 2, 3] }),
    newConfState({ voters: [1, 2, 3], learners: [4, 5, 6] }),
    newConfState({ voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4] }),
    newConfState({ voters: [3, 1, 2], votersOutgoing: [2, 1], autoLeave: true }),
  ])('round trips %j', (cs) => {
    const r = restore(emptyChanger(10), cs);
    expect(confStateOf(r)).toEqual(sortedConfState(cs));
  });

  it('round trips random ConfStates', () => {
    const rand = seededRandomInt(42);
    for (let i = 0; i < 1000; i++) {
      const cs = randomConfState(rand);
      let got: ConfState;
      try {
        got = confStateOf(restore(emptyChanger(10), cs));
      } catch (e) {
        expect.fail(`restore(${JSON.stringify(cs)}) threw ${String(e)}`);
      }
      if (JSON.stringify(got) !== JSON.stringify(sortedConfState(cs))) {
        expect.fail(`restore(${JSON.stringify(cs)}) gave ${JSON.stringify(got)}`);
      }
    }
  });

  it('gives new peers etcd initial progress', () => {
    const r = restore(emptyChanger(10), newConfState({ voters: [1, 2], learners: [3] }));
    expect(progressMapToString(r.progress)).toBe(
      '1: StateProbe match=0 next=10\n2: StateProbe match=0 next=10\n3: StateProbe match=0 next=10 learner\n',
    );
    expect(trackerConfigToString(r.config)).toBe('voters=(1 2) learners=(3)');
  });

  it('translates a ConfState into changes', () => {
    const { outgoing, incoming } = toConfChangeSingle(
      newConfState({ voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4, 6], learnersNext: [4] }),
    );
    expect(confChangesToString(outgoing)).toBe('v1 v2 v4 v6');
    expect(confChangesToString(incoming)).toBe('r1 r2 r4 r6 v1 v2 v3 l5 l4');
  });

  it('does not modify or hand back its inputs', () => {
    const chg = emptyChanger(10);
    const r = restore(chg, newConfState());
    expect(r.config).not.toBe(chg.config);
    expect(r.progress).not.toBe(chg.progress);
    restore(chg, newConfState({ voters: [1, 2] }));
    expect(chg.config.voters.incoming.size).toBe(0);
    expect(chg.progress.size).toBe(0);
  });
});

describe('Changer', () => {
  function build(spec: string): ChangeResult {
    return emptyChanger(1, 10).simple(...confChangesFromString(spec));
  }

  it('does not mutate its inputs', () => {
    const base = build('v1');
    const step = new Changer(base.config, base.progress, 10, 0, 5).simple(...confChangesFromString('v2 l3'));
    const joint = new Changer(step.config, step.progress, 10, 0, 6).enterJoint(true, ...confChangesFromString('l2 r1 v4'));
    const before = `${trackerConfigToString(step.config)}\n${progressMapToString(step.progress)}`;
    expect(trackerConfigToString(joint.config)).toBe('voters=(4)&&(1 2) learners=(3) learners_next=(2) autoleave');
    expect(`${trackerConfigToString(step.config)}\n${progressMapToString(step.progress)}`).toBe(before);
    expect(step.progress.get(2)!.isLearner).toBe(false);
    expect(joint.progress.get(2)).not.toBe(step.progress.get(2));

    const left = new Changer(joint.config, joint.progress, 10, 0, 7).leaveJoint();
    expect(trackerConfigToString(left.config)).toBe('voters=(4) learners=(2 3)');
    expect(joint.config.voters.outgoing.size).toBe(2);
    expect(joint.progress.get(2)!.isLearner).toBe(false);
  });

  it('throws ErrConfChange with etcd texts', () => {
    const base = build('v1');
    const chg = new Changer(base.config, base.progress, 10, 0, 1);
    expect(() => chg.simple({ type: 9 as ConfChangeType, nodeId: 2 })).toThrow(new ErrConfChange('unexpected conf type 9'));
    expect(() => chg.leaveJoint()).toThrow(new ErrConfChange("can't leave a non-joint config"));
    expect(() => emptyChanger(0).enterJoint(false)).toThrow(new ErrConfChange("can't make a zero-voter config joint"));
  });

  it('checks invariants of its input', () => {
    const cfg: TrackerConfig = newTrackerConfig();
    cfg.voters.incoming.add(1);
    expect(() => new Changer(cfg, new Map(), 10, 0, 0).simple()).toThrow(new ErrConfChange('no progress for 1'));
    const ok = build('v1 l2');
    ok.progress.get(2)!.isLearner = false;
    expect(() => checkInvariants(ok.config, ok.progress)).toThrow(new ErrConfChange('2 is in Learners, but is not marked as learner'));
  });

  it('describes changes as etcd does', () => {
    expect(describeCCs(...confChangesFromString('v1 l2 r3 u4'))).toBe(
      'ConfChangeAddNode(1) ConfChangeAddLearnerNode(2) ConfChangeRemoveNode(3) ConfChangeUpdateNode(4)',
    );
  });
});

describe('confChangesFromString', () => {
  it('round trips', () => {
    const s = 'v1 l2 r3 u4 v123';
    expect(confChangesToString(confChangesFromString(s))).toBe(s);
    expect(confChangesFromString('  ')).toEqual([]);
    expect(confChangesFromString(' v1 ')).toEqual([{ type: ConfChangeType.ConfChangeAddNode, nodeId: 1 }]);
  });

  it.each([
    ['v', 'unknown token v'],
    ['x1', 'unknown input: x1'],
    ['v1  v2', 'unknown token '],
    ['vx', 'strconv.ParseUint: parsing "x": invalid syntax'],
  ])('rejects %j', (s, msg) => {
    expect(() => confChangesFromString(s)).toThrow(new ErrConfChange(msg));
  });
});

// quick_test.go: applying changes one by one (simple) and all at once (joint)
// arrives at the same configuration.
describe('quick: simple and joint changes agree', () => {
  type Run = (c: ChangeResult, ccs: ConfChangeSingle[]) => ChangeResult;
  const changer = (r: ChangeResult): Changer => new Changer(r.config, r.progress, 10, 0, 10);

  const runWithSimple: Run = (r, ccs) => {
    for (const cc of ccs) r = changer(r).simple(cc);
    return r;
  };
  const runWithJoint: Run = (r, ccs) => {
    const j = changer(r).enterJoint(false, ...ccs);
    // With autoLeave on, the result only differs in the flag.
    const ja = changer(r).enterJoint(true, ...ccs);
    expect(ja.config.autoLeave).toBe(true);
    expect({ ...ja.config, autoLeave: false }).toEqual(j.config);
    expect(ja.progress).toEqual(j.progress);
    const left = changer(j).leaveJoint();
    expect(changer(ja).leaveJoint()).toEqual(left);
    return left;
  };

  const genCC = (n: number, id: () => number, typ: () => ConfChangeType): ConfChangeSingle[] =>
    Array.from({ length: n }, () => ({ type: typ(), nodeId: id() }));

  it('1000 random cases', () => {
    const rand = seededRandomInt(7);
    for (let i = 0; i < 1000; i++) {
      // Node 1 is always a voter, so that simple changes can make progress.
      const num5 = (): number => 1 + rand(5);
      const setup = [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 1 },
        ...genCC(num5(), num5, () => ConfChangeType.ConfChangeAddNode),
      ];
      // Ids 2..10: never node 1.
      const num9 = (): number => 1 + rand(9);
      const ccs = genCC(num9(), () => 1 + num9(), () => rand(4) as ConfChangeType);

      const run = (invoke: Run): ChangeResult => {
        const t = new ProgressTracker(10, 0);
        const start = runWithSimple({ config: t.config, progress: t.progress }, setup);
        return invoke(start, ccs);
      };
      const a = run(runWithSimple);
      const b = run(runWithJoint);
      const show = (r: ChangeResult): string => `${trackerConfigToString(r.config)}\n${progressMapToString(r.progress)}`;
      if (show(a) !== show(b)) {
        expect.fail(`setup: ${describeCCs(...setup)}\nccs: ${describeCCs(...ccs)}\nsimple:\n${show(a)}joint:\n${show(b)}`);
      }
      expect(b.progress).toEqual(a.progress);
    }
  });
});

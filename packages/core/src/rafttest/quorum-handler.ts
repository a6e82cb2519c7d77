// The runner for etcd's quorum/testdata scenarios (quorum/datadriven_test.go):
// `committed` and `vote` over majority and joint configs, cross-checked by
// alternative computations whose disagreements are printed.
import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig } from '../quorum/majority.js';
import {
  type AckedIndexer,
  type Index,
  indexToString,
  mapAckIndexer,
  MaxIndex,
  voteResultToString,
} from '../quorum/quorum.js';
import { parseIntStrict, TestFatalError, type TestData } from './datadriven.js';

/** Go's %v of a map[uint64]struct{}: "map[1:{} 2:{}]". */
function goSet(ids: Iterable<number>): string {
  return `map[${[...ids]
    .sort((a, b) => a - b)
    .map((id) => `${id}:{}`)
    .join(' ')}]`;
}

/**
 * etcd's alternative computation of the committed index: the largest index
 * acked (at or above) by a quorum. Also the oracle of the quorum quick test.
 */
export function alternativeMajorityCommittedIndex(c: MajorityConfig, l: AckedIndexer): Index {
  if (c.size === 0) return MaxIndex;
  const acked: Index[] = [];
  for (const id of c) {
    const idx = l.ackedIndex(id);
    if (idx !== undefined) acked.push(idx);
  }
  const q = Math.floor(c.size / 2) + 1;
  let maxQuorumIdx = 0;
  for (const idx of new Set(acked)) {
    const votes = acked.filter((other) => other >= idx).length;
    if (votes >= q && idx > maxQuorumIdx) maxQuorumIdx = idx;
  }
  return maxQuorumIdx;
}

/** Runs one block of etcd's quorum/testdata (quorum/datadriven_test.go). */
export function handleQuorum(d: TestData): string {
  // cfg is always used (possibly empty); cfgj makes the case joint.
  let joint = false;
  const ids: number[] = [];
  const idsj: number[] = [];
  // Per voter in (ids, idsj) order without repetition; 0 means "_" (no info).
  const idxs: Index[] = [];
  // Same shape; 1 = voted no, 2 = voted yes, 0 = no vote.
  const votes: Index[] = [];

  for (const arg of d.cmdArgs) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'cfg':
          ids.push(parseIntStrict(val, d.pos));
          break;
        case 'cfgj':
          joint = true;
          if (val === 'zero') {
            if (arg.vals.length !== 1) throw new TestFatalError(`${d.pos}: cannot mix 'zero' into configuration`);
          } else {
            idsj.push(parseIntStrict(val, d.pos));
          }
          break;
        case 'idx': {
          const n = val === '_' ? 0 : parseIntStrict(val, d.pos);
          if (val !== '_' && n === 0) throw new TestFatalError(`${d.pos}: cannot use 0 as idx`);
          idxs.push(n);
          break;
        }
        case 'votes':
          if (val === 'y') votes.push(2);
          else if (val === 'n') votes.push(1);
          else if (val === '_') votes.push(0);
          else throw new TestFatalError(`${d.pos}: unknown vote: ${val}`);
          break;
        default:
          throw new TestFatalError(`${d.pos}: unknown arg ${arg.key}`);
      }
    }
  }

  const c = new MajorityConfig(ids);
  const cj = new MajorityConfig(idsj);

  // Maps the inputs onto the voters in order of first appearance, leaving
  // out the placeholders ("no entry" differs from "zero entry").
  const makeLookuper = (input: Index[]): Map<number, Index> => {
    const l = new Map<number, Index>();
    let p = 0;
    for (const id of [...ids, ...idsj]) {
      if (l.has(id)) continue;
      if (p < input.length) l.set(id, input[p++]!);
    }
    for (const [id, v] of l) if (v === 0) l.delete(id);
    return l;
  };

  {
    const input = d.cmd === 'vote' ? votes : idxs;
    const voters = new JointConfig(c, cj).ids();
    if (voters.size !== input.length) {
      return `error: mismatched input (explicit or _) for voters ${goSet(voters)}: [${input.map(indexToString).join(' ')}]`;
    }
  }

  let buf = '';
  switch (d.cmd) {
    case 'committed': {
      const l = mapAckIndexer(makeLookuper(idxs));
      if (!joint) {
        const idx = c.committedIndex(l);
        buf += c.describe(l);
        // Alternative computations that must agree; disagreements are printed.
        let aIdx = alternativeMajorityCommittedIndex(c, l);
        if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- via alternative computation\n`;
        aIdx = new JointConfig(c, new MajorityConfig()).committedIndex(l);
        if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- via zero-joint quorum\n`;
        aIdx = new JointConfig(c, c).committedIndex(l);
        if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- via self-joint quorum\n`;
        const overlay = (id: number, v: Index): AckedIndexer => {
          const ll = new Map<number, Index>();
          for (const iid of c) {
            const known = l.ackedIndex(iid);
            if (iid === id) ll.set(iid, v);
            else if (known !== undefined) ll.set(iid, known);
          }
          return mapAckIndexer(ll);
        };
        for (const id of c.slice()) {
          const iidx = l.ackedIndex(id) ?? 0;
          if (idx > iidx && iidx > 0) {
            // Lowering an index below the committed one must not change it.
            // (etcd prints these lines without a newline.)
            aIdx = c.committedIndex(overlay(id, iidx - 1));
            if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- overlaying ${id}->${iidx}`;
            aIdx = c.committedIndex(overlay(id, 0));
            if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- overlaying ${id}->0`;
          }
        }
        buf += `${indexToString(idx)}\n`;
      } else {
        const cc = new JointConfig(c, cj);
        buf += cc.describe(l);
        const idx = cc.committedIndex(l);
        // Swapping the halves must not matter.
        const aIdx = new JointConfig(cj, c).committedIndex(l);
        if (aIdx !== idx) buf += `${indexToString(aIdx)} <-- via symmetry\n`;
        buf += `${indexToString(idx)}\n`;
      }
      break;
    }
    case 'vote': {
      const l = new Map<number, boolean>();
      for (const [id, v] of makeLookuper(votes)) l.set(id, v !== 1);
      if (!joint) {
        buf += `${voteResultToString(c.voteResult(l))}\n`;
      } else {
        const r = new JointConfig(c, cj).voteResult(l);
        const ar = new JointConfig(cj, c).voteResult(l);
        if (ar !== r) buf += `${voteResultToString(ar)} <-- via symmetry\n`;
        buf += `${voteResultToString(r)}\n`;
      }
      break;
    }
    default:
      throw new TestFatalError(`${d.pos}: unknown command: ${d.cmd}`);
  }
  return buf;
}

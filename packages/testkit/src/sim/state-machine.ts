// The replicated state machine: the list of proposal ids applied, in log
// order. Simple enough that comparing two replicas is comparing lists, and
// that "an acknowledged proposal was lost" is a missing id.
import { EntryType, type ConfState, type Entry } from '@raftbus/core';
import { PropertyError } from './violation.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Proposals carry "p<id>" as their payload. */
export function proposalPayload(id: number): Uint8Array {
  return encoder.encode(`p${id}`);
}

/** The proposal id in a normal entry, or undefined (leader's empty entry, conf changes). */
export function proposalId(e: Entry): number | undefined {
  if (e.type !== EntryType.EntryNormal || e.data.length === 0) return undefined;
  return Number(decoder.decode(e.data).slice(1));
}

/** Identity of an entry for comparing logs: term, type and payload. */
export function entryKey(e: Entry): string {
  let s = `${e.term}/${e.type}/`;
  for (const b of e.data) s += String.fromCharCode(b);
  return s;
}

interface Image {
  index: number;
  proposals: number[];
  digest: number;
}

/** Folds one applied entry into a state digest (FNV-1a style over index and proposal id). */
function mix(digest: number, index: number, proposal: number): number {
  let h = digest ^ index;
  h = Math.imul(h, 0x01000193) >>> 0;
  h ^= proposal + 1;
  return Math.imul(h, 0x01000193) >>> 0;
}

export class SimStateMachine {
  appliedIndex = 0;
  /** Index of the last snapshot restored: entries up to it may still be handed out, and are skipped. */
  restoredTo = 0;
  proposals: number[] = [];
  /** A digest of the whole state: two replicas at one index must have the same. */
  digest = 0;
  confState: ConfState | undefined;

  /**
   * Applies the next entry; `index` must follow the last one applied. An
   * entry already covered by a restored snapshot is skipped (async mode can
   * hand out entries that a snapshot overtook).
   */
  apply(e: Entry): 'applied' | 'skipped' {
    if (e.index <= this.restoredTo && e.index <= this.appliedIndex) return 'skipped';
    if (e.index !== this.appliedIndex + 1) {
      throw new PropertyError('state-machine-safety', `state machine handed index ${e.index} after ${this.appliedIndex}`);
    }
    this.appliedIndex = e.index;
    const id = proposalId(e);
    if (id !== undefined) this.proposals.push(id);
    this.digest = mix(this.digest, e.index, id ?? -1);
    return 'applied';
  }

  snapshot(): Uint8Array {
    const image: Image = { index: this.appliedIndex, proposals: this.proposals, digest: this.digest };
    return encoder.encode(JSON.stringify(image));
  }

  restore(data: Uint8Array, index: number, cs: ConfState): void {
    const image: Image = data.length === 0 ? { index, proposals: [], digest: 0 } : (JSON.parse(decoder.decode(data)) as Image);
    if (image.index !== index) throw new Error(`snapshot at ${index} holds state at ${image.index}`);
    this.appliedIndex = index;
    this.restoredTo = index;
    this.proposals = image.proposals.slice();
    this.digest = image.digest;
    this.confState = cs;
  }
}

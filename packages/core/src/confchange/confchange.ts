// Configuration changes, validated before they touch the active configuration
// (etcd's confchange.Changer). Each operation works on a copy of the
// tracker's config and progress map and returns the result; the caller
// switches to it. Errors are thrown as ErrConfChange with etcd's texts.
import { ErrConfChange } from '../errors.js';
import { MajorityConfig } from '../quorum/majority.js';
import { ConfChangeType, type ConfChangeSingle } from '../raftpb/types.js';
import { Inflights } from '../tracker/inflights.js';
import { Progress, type ProgressMap } from '../tracker/progress.js';
import { cloneTrackerConfig, type TrackerConfig } from '../tracker/tracker.js';

/** The configuration to switch to, and the progress map that goes with it. */
export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

export class Changer {
  /**
   * Starts from the tracker's `config` and `progress`, which are only read,
   * never modified. New peers get inflights limited by maxInflight and
   * maxInflightBytes and are probed from `lastIndex`, the last log index.
   */
  constructor(
    readonly config: TrackerConfig,
    readonly progress: ReadonlyMap<number, Progress>,
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
    readonly lastIndex: number,
  ) {}

  /**
   * Enters a joint config: the outgoing half becomes a copy of the incoming
   * one, then `ccs` are applied to the incoming half (C_{new,old} in the
   * Raft thesis, section 4.3).
   */
  enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (isJoint(config)) throw new ErrConfChange('config is already joint');
    if (config.voters.incoming.size === 0) {
      // An empty config may grow by simple changes (bootstrap, tests), but
      // there is nothing to make joint.
      throw new ErrConfChange("can't make a zero-voter config joint");
    }
    config.voters.outgoing = new MajorityConfig(config.voters.incoming);
    this.apply(config, progress, ccs);
    config.autoLeave = autoLeave;
    return checkAndReturn(config, progress);
  }

  /**
   * Leaves a joint config: the outgoing half is dropped (C_new), staged
   * learners become learners, and peers left in neither role are forgotten.
   */
  leaveJoint(): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (!isJoint(config)) throw new ErrConfChange("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      progress.get(id)!.isLearner = true;
    }
    config.learnersNext = new Set();
    for (const id of config.voters.outgoing) {
      if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters.outgoing = new MajorityConfig();
    config.autoLeave = false;
    return checkAndReturn(config, progress);
  }

  /**
   * Applies changes that in aggregate alter the voters by at most one, which
   * is safe without joint consensus. Not allowed while joint.
   */
  simple(...ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (isJoint(config)) throw new ErrConfChange("can't apply simple config change in joint config");
    this.apply(config, progress, ccs);
    if (symdiff(this.config.voters.incoming, config.voters.incoming) > 1) {
      throw new ErrConfChange('more than one voter changed without entering joint config');
    }
    return checkAndReturn(config, progress);
  }

  /**
   * Applies changes to the incoming half; the outgoing half, if any, keeps
   * the old configuration until leaveJoint.
   */
  private apply(cfg: TrackerConfig, trk: ProgressMap, ccs: readonly ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // etcd zeroes the NodeId of changes it decides (above raft) not to apply.
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          this.remove(cfg, trk, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          break;
        default:
          throw new ErrConfChange(`unexpected conf type ${cc.type as number}`);
      }
    }
    if (cfg.voters.incoming.size === 0) throw new ErrConfChange('removed all voters');
  }

  /** Adds id as a voter of the incoming half, or promotes it. */
  private makeVoter(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.voters.incoming.add(id);
  }

  /**
   * Adds id as a learner or demotes it. A peer that still votes in the
   * outgoing half can't be a learner at the same time, so it is staged in
   * learnersNext until leaveJoint.
   */
  private makeLearner(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
    const pr = trk.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, trk, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Drop it as a voter of the incoming half, but keep its progress.
    this.remove(cfg, trk, id);
    trk.set(id, pr);
    if (cfg.voters.outgoing.has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  /** Removes id as a voter or learner of the incoming half. */
  private remove(cfg: TrackerConfig, trk: ProgressMap, id: number): void {
    if (!trk.has(id)) return;
    cfg.voters.incoming.delete(id);
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    // A voter of the outgoing half is still tracked.
    if (!cfg.voters.outgoing.has(id)) trk.delete(id);
  }

  private initProgress(cfg: TrackerConfig, trk: ProgressMap, id: number, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.voters.incoming.add(id);
    trk.set(
      id,
      new Progress({
        // Probing from the last index is optimistic (the peer likely has no
        // log yet), but it is what etcd does.
        match: 0,
        next: Math.max(this.lastIndex, 1), // invariant: match < next
        inflights: new Inflights(this.maxInflight, this.maxInflightBytes),
        isLearner,
        // A new peer counts as active, so that CheckQuorum doesn't depose the
        // leader before the peer had a chance to respond.
        recentActive: true,
      }),
    );
  }

  /** Copies the config and progress, so that the inputs stay untouched, and checks them. */
  private checkAndCopy(): ChangeResult {
    // As etcd's Config.Clone, this drops autoLeave: every operation sets it
    // afresh, and the input check never sees it.
    const config = cloneTrackerConfig(this.config);
    const progress: ProgressMap = new Map();
    for (const [id, pr] of this.progress) progress.set(id, pr.clone());
    return checkAndReturn(config, progress);
  }
}

function sorted(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

/**
 * Checks that config and progress agree with each other, both on what the
 * Changer is given and on what it returns. The empty config is allowed: it
 * is where bootstrap starts from.
 */
export function checkInvariants(cfg: TrackerConfig, trk: ReadonlyMap<number, Progress>): void {
  for (const ids of [cfg.voters.ids(), cfg.learners, cfg.learnersNext]) {
    for (const id of sorted(ids)) {
      if (!trk.has(id)) throw new ErrConfChange(`no progress for ${id}`);
    }
  }
  // A learner is staged only because it still votes in the outgoing half.
  for (const id of sorted(cfg.learnersNext)) {
    if (!cfg.voters.outgoing.has(id)) throw new ErrConfChange(`${id} is in LearnersNext, but not Voters[1]`);
    if (trk.get(id)!.isLearner) {
      throw new ErrConfChange(`${id} is in LearnersNext, but is already marked as learner`);
    }
  }
  // Learners and voters never intersect.
  for (const id of sorted(cfg.learners)) {
    if (cfg.voters.outgoing.has(id)) throw new ErrConfChange(`${id} is in Learners and Voters[1]`);
    if (cfg.voters.incoming.has(id)) throw new ErrConfChange(`${id} is in Learners and Voters[0]`);
    if (!trk.get(id)!.isLearner) throw new ErrConfChange(`${id} is in Learners, but is not marked as learner`);
  }
  // etcd also insists that Voters[1] and LearnersNext are nil (not merely
  // empty) when not joint; with sets, empty is nil, and a non-empty
  // learnersNext outside joint already failed above.
  if (!isJoint(cfg) && cfg.autoLeave) throw new ErrConfChange('AutoLeave must be false when not joint');
}

function checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
  checkInvariants(config, progress);
  return { config, progress };
}

function isJoint(cfg: TrackerConfig): boolean {
  return cfg.voters.outgoing.size > 0;
}

/** The size of the symmetric difference of two id sets. */
function symdiff(l: ReadonlySet<number>, r: ReadonlySet<number>): number {
  let n = 0;
  for (const id of l) if (!r.has(id)) n++;
  for (const id of r) if (!l.has(id)) n++;
  return n;
}

/** The changes as "ConfChangeAddNode(1) ConfChangeRemoveNode(2)" (etcd's Describe). */
export function describe(...ccs: ConfChangeSingle[]): string {
  return ccs.map((cc) => `${ConfChangeType[cc.type] ?? cc.type}(${cc.nodeId})`).join(' ');
}

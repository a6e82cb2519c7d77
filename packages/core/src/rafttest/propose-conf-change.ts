// propose-conf-change <id> [v1=<bool>] [transition=auto|implicit|explicit]
// followed by the changes on the input line ("v1 v3 l4 r5", see
// confChangesFromString): proposes a configuration change, or with no
// changes, the transition out of an explicit joint configuration.
import { confChangesFromString } from '../raftpb/confchange-string.js';
import {
  ConfChangeTransition,
  newConfChange,
  newConfChangeV2,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
} from '../raftpb/types.js';
import { parseBool, type TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import { ErrConfChangeRefused } from '../errors.js';
import { EnvError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleProposeConfChange(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  let v1 = false;
  let transition = ConfChangeTransition.ConfChangeTransitionAuto;
  for (const arg of d.cmdArgs.slice(1)) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'v1':
          v1 = parseBool(val);
          break;
        case 'transition':
          switch (val) {
            case 'auto':
              transition = ConfChangeTransition.ConfChangeTransitionAuto;
              break;
            case 'implicit':
              transition = ConfChangeTransition.ConfChangeTransitionJointImplicit;
              break;
            case 'explicit':
              transition = ConfChangeTransition.ConfChangeTransitionJointExplicit;
              break;
            default:
              throw new EnvError(`unknown transition ${val}`);
          }
          break;
        default:
          throw new EnvError(`unknown command ${arg.key}`);
      }
    }
  }

  let ccs: ConfChangeSingle[];
  try {
    ccs = confChangesFromString(d.input);
  } catch (e) {
    // Go returns the parse error, which the env prints.
    throw new EnvError(e instanceof Error ? e.message : String(e));
  }

  let c: ConfChange | ConfChangeV2;
  if (v1) {
    if (ccs.length !== 1 || transition !== ConfChangeTransition.ConfChangeTransitionAuto) {
      throw new EnvError('v1 conf change can only have one operation and no transition');
    }
    c = newConfChange({ type: ccs[0]!.type, nodeId: ccs[0]!.nodeId });
  } else {
    c = newConfChangeV2({ transition, changes: ccs });
  }
  proposeConfChange(env, idx, c);
}

export function proposeConfChange(env: InteractionEnv, idx: number, c: ConfChange | ConfChangeV2): void {
  try {
    env.node(idx).rawNode.proposeConfChange(c);
  } catch (e) {
    // etcd's RawNode reports a refused conf change only in its log (which
    // the scenario already prints); ours also throws, which etcd's env
    // would never see.
    if (!(e instanceof ErrConfChangeRefused)) throw e;
  }
}

// The runner for etcd's confchange/testdata scenarios
// (confchange/datadriven_test.go): `simple`, `enter-joint` and `leave-joint`
// applied in turn to one tracker config per file, printing the resulting
// config and progress.
import { Changer, type ChangeResult } from '../confchange/confchange.js';
import { ErrConfChange } from '../errors.js';
import { confChangesFromString } from '../raftpb/confchange-string.js';
import type { ConfChangeSingle } from '../raftpb/types.js';
import { progressMapToString } from '../tracker/progress.js';
import { newTrackerConfig, trackerConfigToString } from '../tracker/tracker.js';
import { scanArgs, type TestData } from './datadriven.js';

/** A handler with its own config, as etcd's test keeps one Changer per file. */
export function newConfChangeHandler(): (d: TestData) => string {
  // etcd's test uses MakeProgressTracker(10, 0) and bumps LastIndex after
  // every command, failed or not.
  let cur: ChangeResult = { config: newTrackerConfig(), progress: new Map() };
  let lastIndex = 0;
  return (d) => {
    const changer = new Changer(cur.config, cur.progress, 10, 0, lastIndex++);
    let ccs: ConfChangeSingle[];
    try {
      ccs = confChangesFromString(d.input);
    } catch (e) {
      if (e instanceof ErrConfChange) return e.message;
      throw e;
    }
    try {
      switch (d.cmd) {
        case 'simple':
          cur = changer.simple(...ccs);
          break;
        case 'enter-joint':
          cur = changer.enterJoint(d.cmdArgs.length > 0 ? scanArgs(d, 'autoleave', 'bool') : false, ...ccs);
          break;
        case 'leave-joint':
          if (ccs.length > 0) return 'this command takes no input\n';
          cur = changer.leaveJoint();
          break;
        default:
          return 'unknown command';
      }
    } catch (e) {
      if (e instanceof ErrConfChange) return `${e.message}\n`;
      throw e;
    }
    return `${trackerConfigToString(cur.config)}\n${progressMapToString(cur.progress)}`;
  };
}

// The simulator driving RawNode with asyncStorageWrites: storage work goes
// out as MsgStorageAppend/MsgStorageApply and comes back as responses, with
// crashes between write, fsync and apply. (Sync mode: sim.test.ts.)
import { simulationSuite } from '../src/sim/index.js';

simulationSuite({ asyncStorageWrites: true, firstSeed: 1, seeds: 1000, steps: 100, chunk: 125 });

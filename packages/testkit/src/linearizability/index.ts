// @raftbus/testkit/linearizability: record what concurrent clients saw, write
// it to a file a person can read, and check it against a sequential model.
export type { History, HistoryEvent, Operation, OperationStatus } from './history.js';
export type { Model, Partition, StepResult } from './model.js';
export { kvModel, type KvInput, type KvOutput, type KvKeyState, type KvOperation } from './kv-model.js';
export {
  checkLinearizability,
  describeOperation,
  type CheckOptions,
  type CheckResult,
  type LinearizedStep,
  type Verdict,
  type Violation,
} from './check.js';
export { HistoryRecorder, type PendingOperation } from './recorder.js';
export {
  formatHistory,
  parseHistory,
  writeHistoryFile,
  readHistoryFile,
  ErrBadHistory,
  HISTORY_FORMAT,
  HISTORY_VERSION,
  type HeaderFields,
  type HistoryFile,
  type HistoryHeader,
} from './history-file.js';

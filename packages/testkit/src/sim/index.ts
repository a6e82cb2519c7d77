// @raftbus/testkit/sim: a deterministic, seeded Raft simulator that checks
// safety after every step and liveness once faults stop.
export { runSimulation, type SimResult, type SimStats } from './simulator.js';
export { type SimOptions, type PlantedBug, PLANTED_BUGS, DEFAULT_STEPS, replayCommand } from './options.js';
export { SimViolation, type SafetyProperty } from './violation.js';
export { runSeeds, type RunSummary } from './runner.js';
export { simulationSuite, type SimulationSuiteOptions } from './suite.js';

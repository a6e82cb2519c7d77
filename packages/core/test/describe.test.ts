// The describe helpers (etcd's util.go Describe*): formats checked against
// what Go prints (expected strings produced with Go 1.26's fmt, and etcd's
// util_test.go).
import { describe, expect, it } from 'vitest';
import { encodeConfChange, encodeConfChangeV2 } from '../src/raftpb/codec.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  newConfChange,
  newConfChangeV2,
  newConfState,
  newEntry,
  newHardState,
  newMessage,
  newSnapshot,
} from '../src/raftpb/types.js';
import { StateType } from '../src/raft.js';
import type { Ready } from '../src/raw-node.js';
import {
  describeConfChange,
  describeConfState,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
  describeTarget,
  goQuote,
  type EntryFormatter,
} from '../src/util/describe.js';
import { LocalAppendThread, LocalApplyThread } from '../src/util/messages.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const raw = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('goQuote (Go %q of []byte)', () => {
  it.each([
    ['empty', bytes(''), '""'],
    ['plain', bytes('foo'), '"foo"'],
    ['NUL', bytes('hello\x00world'), '"hello\\x00world"'],
    ['quotes', bytes('say "hi"'), '"say \\"hi\\""'],
    ['backslash', bytes('C:\\path'), '"C:\\\\path"'],
    ['single quote and backquote stay', bytes("it's `x`"), '"it\'s `x`"'],
    ['C escapes and control bytes', bytes('\x07\b\f\n\r\t\v\x1b\x7f'), '"\\a\\b\\f\\n\\r\\t\\v\\x1b\\x7f"'],
    ['printable non-ASCII verbatim', bytes('héllo 日本 😀'), '"héllo 日本 😀"'],
    ['non-printable non-ASCII as \\u / \\U', bytes('\u00a0\u00ad\u200b\u{e0001}\ufeff'), '"\\u00a0\\u00ad\\u200b\\U000e0001\\ufeff"'],
    ['invalid bytes', raw(0x80, 0xff), '"\\x80\\xff"'],
    ['truncated sequence', raw(0xe2, 0x82), '"\\xe2\\x82"'],
    ['encoded surrogate', raw(0xed, 0xa0, 0x80), '"\\xed\\xa0\\x80"'],
    ['overlong', raw(0xc0, 0x80), '"\\xc0\\x80"'],
    ['beyond U+10FFFF', raw(0xf4, 0x90, 0x80, 0x80), '"\\xf4\\x90\\x80\\x80"'],
    ['encoded U+FFFD is printable', raw(0xef, 0xbf, 0xbd), '"\ufffd"'],
    ['invalid byte between valid text', raw(0x6f, 0x6b, 0xff, 0x6f, 0x6b), '"ok\\xffok"'],
  ])('%s', (_name, input, want) => {
    expect(goQuote(input)).toBe(want);
  });

  it('quotes a string as its UTF-8 bytes', () => {
    expect(goQuote('a\u00a0b')).toBe('"a\\u00a0b"');
  });

  it('follows Go 1.26 (Unicode 15.0), not the engine, on newer characters', () => {
    // U+1FADF was assigned in Unicode 16: Go 1.26 does not know it, so escapes it.
    expect(goQuote('\u{1fadf}')).toBe('"\\U0001fadf"');
  });
});

describe('describeEntry', () => {
  const entry = newEntry({ term: 1, index: 2, type: EntryType.EntryNormal, data: bytes('hello\x00world') });
  // etcd's util_test.go TestDescribeEntry.
  it('uses %q by default', () => {
    expect(describeEntry(entry)).toBe('1/2 EntryNormal "hello\\x00world"');
  });
  it('uses the given formatter', () => {
    const upper: EntryFormatter = (d) => new TextDecoder().decode(d).toUpperCase();
    expect(describeEntry(entry, upper)).toBe('1/2 EntryNormal HELLO\x00WORLD');
  });
  it('prints empty data as ""', () => {
    expect(describeEntry(newEntry({ term: 1, index: 4 }))).toBe('1/4 EntryNormal ""');
  });
  it('drops the separator when the formatter prints nothing', () => {
    expect(describeEntry(entry, () => '')).toBe('1/2 EntryNormal');
  });
  it('decodes conf changes into their short form', () => {
    const v1 = encodeConfChange(newConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 }));
    expect(describeEntry(newEntry({ term: 1, index: 5, type: EntryType.EntryConfChange, data: v1 }))).toBe(
      '1/5 EntryConfChange l3',
    );
    const v2 = encodeConfChangeV2(
      newConfChangeV2({
        transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
        changes: [
          { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 },
          { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1 },
          { type: ConfChangeType.ConfChangeUpdateNode, nodeId: 4 },
        ],
      }),
    );
    expect(describeEntry(newEntry({ term: 2, index: 6, type: EntryType.EntryConfChangeV2, data: v2 }))).toBe(
      '2/6 EntryConfChangeV2 v2 r1 u4',
    );
  });
  it('prints an empty V2 change as nothing and an empty V1 change as v0, as Go does', () => {
    expect(describeEntry(newEntry({ term: 1, index: 3, type: EntryType.EntryConfChangeV2 }))).toBe('1/3 EntryConfChangeV2');
    expect(describeEntry(newEntry({ term: 1, index: 3, type: EntryType.EntryConfChange }))).toBe('1/3 EntryConfChange v0');
  });
  it('prints the decoding error in place of a malformed change', () => {
    const s = describeEntry(newEntry({ term: 1, index: 3, type: EntryType.EntryConfChangeV2, data: raw(0xff) }));
    expect(s.startsWith('1/3 EntryConfChangeV2 ')).toBe(true);
    expect(s.length).toBeGreaterThan('1/3 EntryConfChangeV2 '.length);
  });
  it('describeEntries puts one per line', () => {
    expect(describeEntries([newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: bytes('x') })])).toBe(
      '1/1 EntryNormal ""\n1/2 EntryNormal "x"\n',
    );
    expect(describeEntries([])).toBe('');
  });
});

describe('describeTarget', () => {
  it('names none and the storage threads, and prints ids in hex', () => {
    expect(describeTarget(0)).toBe('None');
    expect(describeTarget(LocalAppendThread)).toBe('AppendThread');
    expect(describeTarget(LocalApplyThread)).toBe('ApplyThread');
    expect(describeTarget(3)).toBe('3');
    expect(describeTarget(255)).toBe('ff');
  });
});

describe('describeMessage', () => {
  it('prints the header fields, omitting zero commit and vote', () => {
    expect(describeMessage(newMessage({ type: MessageType.MsgVote, from: 1, to: 2, term: 1, logTerm: 1, index: 10 }))).toBe(
      '1->2 MsgVote Term:1 Log:1/10',
    );
    expect(
      describeMessage(newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 11 })),
    ).toBe('1->2 MsgHeartbeat Term:1 Log:0/0 Commit:11');
  });
  it('prints rejections with their hint', () => {
    expect(
      describeMessage(
        newMessage({ type: MessageType.MsgAppResp, from: 3, to: 1, term: 1, logTerm: 1, index: 12, reject: true, rejectHint: 11 }),
      ),
    ).toBe('3->1 MsgAppResp Term:1 Log:1/12 Rejected (Hint: 11)');
  });
  it('inlines a single entry and lists several on indented lines', () => {
    const e = (i: number, d: string) => newEntry({ term: 1, index: i, data: bytes(d) });
    expect(
      describeMessage(newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, logTerm: 1, index: 10, commit: 10, entries: [e(11, '')] })),
    ).toBe('1->2 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal ""]');
    expect(
      describeMessage(newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, logTerm: 1, index: 11, entries: [e(12, 'a'), e(13, 'b')] })),
    ).toBe('1->2 MsgApp Term:1 Log:1/11 Entries:[\n  1/12 EntryNormal "a"\n  1/13 EntryNormal "b"\n]');
  });
  it('prints a snapshot on its own line', () => {
    const snapshot = newSnapshot({ metadata: { index: 11, term: 1, confState: newConfState({ voters: [1, 2, 3] }) } });
    expect(describeMessage(newMessage({ type: MessageType.MsgSnap, from: 1, to: 3, term: 1, snapshot }))).toBe(
      '1->3 MsgSnap Term:1 Log:0/0\n' +
        '  Snapshot: Index:11 Term:1 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false',
    );
    // An empty snapshot is not shown.
    expect(describeMessage(newMessage({ type: MessageType.MsgSnap, from: 1, to: 3, term: 1, snapshot: newSnapshot() }))).toBe(
      '1->3 MsgSnap Term:1 Log:0/0',
    );
  });
  it('nests responses with growing indentation (async storage writes)', () => {
    const m = newMessage({
      type: MessageType.MsgStorageAppend,
      from: 1,
      to: LocalAppendThread,
      entries: [newEntry({ term: 1, index: 11 })],
      responses: [
        newMessage({ type: MessageType.MsgAppResp, from: 1, to: 1, term: 1, index: 11 }),
        newMessage({
          type: MessageType.MsgStorageAppendResp,
          from: LocalAppendThread,
          to: 1,
          term: 1,
          logTerm: 1,
          index: 11,
          entries: [newEntry({ term: 1, index: 11 }), newEntry({ term: 1, index: 12 })],
        }),
      ],
    });
    expect(describeMessage(m)).toBe(
      '1->AppendThread MsgStorageAppend Term:0 Log:0/0 Entries:[1/11 EntryNormal ""] Responses:[\n' +
        '  1->1 MsgAppResp Term:1 Log:0/11\n' +
        '  AppendThread->1 MsgStorageAppendResp Term:1 Log:1/11 Entries:[\n' +
        '    1/11 EntryNormal ""\n' +
        '    1/12 EntryNormal ""\n' +
        '  ]\n' +
        ']',
    );
  });
  it('prints Vote when set (MsgStorageAppend carries the hard state)', () => {
    expect(
      describeMessage(newMessage({ type: MessageType.MsgStorageAppend, from: 1, to: LocalAppendThread, term: 1, commit: 10, vote: 1 })),
    ).toBe('1->AppendThread MsgStorageAppend Term:1 Log:0/0 Commit:10 Vote:1');
  });
});

describe('state descriptions', () => {
  it('describeHardState omits a zero vote', () => {
    expect(describeHardState(newHardState({ term: 1, vote: 1, commit: 3 }))).toBe('Term:1 Vote:1 Commit:3');
    expect(describeHardState(newHardState({ term: 1, commit: 0 }))).toBe('Term:1 Commit:0');
  });
  it('describeSoftState', () => {
    expect(describeSoftState({ lead: 0, raftState: StateType.StateCandidate })).toBe('Lead:0 State:StateCandidate');
    expect(describeSoftState({ lead: 2, raftState: StateType.StatePreCandidate })).toBe('Lead:2 State:StatePreCandidate');
  });
  it('describeConfState and describeSnapshot print Go slices', () => {
    const cs = newConfState({ voters: [1, 2], votersOutgoing: [1], learners: [3], learnersNext: [4], autoLeave: true });
    expect(describeConfState(cs)).toBe('Voters:[1 2] VotersOutgoing:[1] Learners:[3] LearnersNext:[4] AutoLeave:true');
    expect(describeSnapshot(newSnapshot({ metadata: { index: 5, term: 2, confState: cs } }))).toBe(
      'Index:5 Term:2 ConfState:Voters:[1 2] VotersOutgoing:[1] Learners:[3] LearnersNext:[4] AutoLeave:true',
    );
  });
  it('describeConfChange mirrors the proto text form', () => {
    expect(describeConfChange(newConfChangeV2())).toBe('transition:ConfChangeTransitionAuto');
    expect(
      describeConfChange(
        newConfChangeV2({
          changes: [
            { type: ConfChangeType.ConfChangeAddNode, nodeId: 3 },
            { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4 },
          ],
          context: bytes('ctx"'),
        }),
      ),
    ).toBe(
      'transition:ConfChangeTransitionAuto changes:{type:ConfChangeAddNode node_id:3} ' +
        'changes:{type:ConfChangeAddLearnerNode node_id:4} context:"ctx\\""',
    );
    // A V1 change is shown as its V2 form.
    expect(describeConfChange(newConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2 }))).toBe(
      'transition:ConfChangeTransitionAuto changes:{type:ConfChangeRemoveNode node_id:2}',
    );
  });
});

describe('describeReady', () => {
  const empty = (): Ready => ({ readStates: [], entries: [], committedEntries: [], messages: [], mustSync: false });
  it('prints <empty Ready> when there is nothing', () => {
    expect(describeReady(empty())).toBe('<empty Ready>');
    // An all-zero hard state and an empty snapshot count as nothing.
    expect(describeReady({ ...empty(), hardState: newHardState(), snapshot: newSnapshot() })).toBe('<empty Ready>');
  });
  it('prints every part in etcd order', () => {
    const rd: Ready = {
      softState: { lead: 1, raftState: StateType.StateLeader },
      hardState: newHardState({ term: 1, vote: 1, commit: 4 }),
      readStates: [
        { index: 11, requestCtx: bytes('foo') },
        { index: 12, requestCtx: new Uint8Array(0) },
      ],
      entries: [newEntry({ term: 1, index: 5, data: bytes('a') })],
      snapshot: newSnapshot({ metadata: { index: 3, term: 1, confState: newConfState({ voters: [1] }) } }),
      committedEntries: [newEntry({ term: 1, index: 4 })],
      messages: [newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })],
      mustSync: true,
    };
    expect(describeReady(rd)).toBe(
      'Ready MustSync=true:\n' +
        'Lead:1 State:StateLeader\n' +
        'HardState Term:1 Vote:1 Commit:4\n' +
        'ReadStates [{11 [102 111 111]} {12 []}]\n' +
        'Entries:\n' +
        '1/5 EntryNormal "a"\n' +
        'Snapshot Index:3 Term:1 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false\n' +
        'CommittedEntries:\n' +
        '1/4 EntryNormal ""\n' +
        'Messages:\n' +
        '1->2 MsgHeartbeat Term:1 Log:0/0\n',
    );
  });
});

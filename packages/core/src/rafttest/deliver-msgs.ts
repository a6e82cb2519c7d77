// deliver-msgs <id>... [drop=(ids)] [type=MsgX]: hands the in-flight messages
// for the given recipients to them (or drops them), in send order.
import { MessageType, type Message } from '../raftpb/types.js';
import { defaultEntryFormatter, describeMessage } from '../util/describe.js';
import { isLocalMsgTarget } from '../util/messages.js';
import { parseUint, scanArg, TestFatalError, type TestData } from './datadriven.js';
import { errorText, isReturnedError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';

export interface Recipient {
  id: number;
  drop?: boolean;
}

export function handleDeliverMsgs(env: InteractionEnv, d: TestData): void {
  let typ: MessageType | -1 = -1;
  const rs: Recipient[] = [];
  for (const arg of d.cmdArgs) {
    if (arg.vals.length === 0) {
      try {
        rs.push({ id: parseUint(arg.key) });
      } catch (e) {
        throw new TestFatalError(`${d.pos}: ${(e as Error).message}`);
      }
    }
    for (let i = 0; i < arg.vals.length; i++) {
      switch (arg.key) {
        case 'drop': {
          const id = scanArg(arg, i, 'uint');
          if (rs.some((r) => r.id === id)) throw new TestFatalError(`can't both deliver and drop msgs to ${id}`);
          rs.push({ id, drop: true });
          break;
        }
        case 'type': {
          const s = scanArg(arg, i, 'string');
          const v = (MessageType as unknown as Record<string, unknown>)[s];
          if (typeof v !== 'number') throw new TestFatalError(`unknown message type ${s}`);
          typ = v as MessageType;
          break;
        }
      }
    }
  }
  if (deliverMsgs(env, typ, ...rs) === 0) env.output.write('no messages\n');
}

/**
 * Delivers (or drops) the in-flight messages of type typ (-1: any) to each
 * recipient in turn, printing each. Returns how many were handled; handled
 * messages leave the queue.
 */
export function deliverMsgs(env: InteractionEnv, typ: MessageType | -1, ...rs: Recipient[]): number {
  let n = 0;
  for (const r of rs) {
    const [msgs, rest] = splitMsgs(env.messages, r.id, typ, r.drop ?? false);
    env.messages = rest;
    n += msgs.length;
    for (const m of msgs) {
      if (r.drop) env.output.write('dropped: ');
      env.output.write(describeMessage(m, defaultEntryFormatter) + '\n');
      // Dropping to a node that does not exist yet is fine: m.to is unused.
      if (r.drop) continue;
      try {
        env.node(m.to - 1).rawNode.step(m);
      } catch (e) {
        if (!isReturnedError(e)) throw e;
        env.output.write(errorText(e) + '\n');
      }
    }
  }
  return n;
}

/**
 * Splits msgs into those for `to` of type typ (-1: any) and the rest, both
 * in order. When dropping, local messages stay: they need reliable delivery.
 */
export function splitMsgs(msgs: Message[], to: number, typ: MessageType | -1, drop: boolean): [Message[], Message[]] {
  const toMsgs: Message[] = [];
  const rest: Message[] = [];
  for (const m of msgs) {
    if (m.to === to && !(drop && isLocalEnvMsg(m)) && (typ < 0 || m.type === typ)) toMsgs.push(m);
    else rest.push(m);
  }
  return [toMsgs, rest];
}

function isLocalEnvMsg(m: Message): boolean {
  return m.from === m.to || isLocalMsgTarget(m.from) || isLocalMsgTarget(m.to);
}

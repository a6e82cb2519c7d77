// Classification of message types, as etcd-raft's util.go has it.
import { MessageType } from '../raftpb/types.js';

/** Sentinel "node id" of the local append thread (async storage writes). */
export const LocalAppendThread = Number.MAX_SAFE_INTEGER;
/** Sentinel "node id" of the local apply thread (async storage writes). */
export const LocalApplyThread = Number.MAX_SAFE_INTEGER - 1;

const LOCAL = new Set<MessageType>([
  MessageType.MsgHup,
  MessageType.MsgBeat,
  MessageType.MsgUnreachable,
  MessageType.MsgSnapStatus,
  MessageType.MsgCheckQuorum,
  MessageType.MsgStorageAppend,
  MessageType.MsgStorageAppendResp,
  MessageType.MsgStorageApply,
  MessageType.MsgStorageApplyResp,
]);

const RESPONSE = new Set<MessageType>([
  MessageType.MsgAppResp,
  MessageType.MsgVoteResp,
  MessageType.MsgHeartbeatResp,
  MessageType.MsgUnreachable,
  MessageType.MsgReadIndexResp,
  MessageType.MsgPreVoteResp,
  MessageType.MsgStorageAppendResp,
  MessageType.MsgStorageApplyResp,
]);

/** Messages raft creates for itself; never accepted from the network. */
export function isLocalMsg(t: MessageType): boolean {
  return LOCAL.has(t);
}

export function isResponseMsg(t: MessageType): boolean {
  return RESPONSE.has(t);
}

export function isLocalMsgTarget(id: number): boolean {
  return id === LocalAppendThread || id === LocalApplyThread;
}

export function voteRespMsgType(t: MessageType): MessageType {
  switch (t) {
    case MessageType.MsgVote:
      return MessageType.MsgVoteResp;
    case MessageType.MsgPreVote:
      return MessageType.MsgPreVoteResp;
    default:
      throw new Error(`not a vote message: ${MessageType[t]}`);
  }
}

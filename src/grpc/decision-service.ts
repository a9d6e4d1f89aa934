import { create, type JsonObject } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import type { Decision } from '../engine/decision.js';
import type { LivePolicySet } from '../engine/live-set.js';
import { validateRequest } from '../engine/validate-request.js';
import { withRequestToken } from '../engine/request-token.js';
import type { VerifyToken } from '../tokens/verify-token.js';
import { DecideBatchRequestSchema, DecideBatchResponseSchema, DecideRequestSchema, DecideResponseSchema, type DecideRequest } from '../gen/proto/gavel/v1/decision_pb.js';
import type { Decider, Origin } from '../server/decider.js';
import { canonical, type TrustedProxies } from '../signals/client-address.js';
import type { Request } from '../language/eval/activation.js';
import { encodedSize, GrpcError, unary, type CallInfo } from './service-definition.js';
import type { ServerLog } from '../server/server-log.js';

/**
 * The largest DecideBatch answer sent: what grpc-js, grpc-go and grpc-java clients receive at
 * most by default (their `max_receive_message_length`). A batch of explained decisions, or of
 * decisions with many policy errors, can exceed it; such a batch is refused whole.
 */
export const GRPC_ANSWER_LIMIT = 4 << 20;

const mib = (bytes: number): string => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

/** `127.0.0.1:50123` → `127.0.0.1`, `[::1]:50123` → `::1`; `null` for a peer without an IP (a Unix socket). */
export function peerAddress(peer: string): string | null {
  const m = /^(?:ipv[46]:)?\[?([^\]]+?)\]?:\d+$/.exec(peer);
  return m === null ? null : canonical(m[1]);
}

/** A gRPC request as the request model; caller roots only (never `token` or `risk`). */
function toRequest(r: DecideRequest, where: string): Request {
  const request = {
    subject: { type: r.subject?.type ?? '', id: r.subject?.id ?? '', ...(r.subject?.properties ? { properties: r.subject.properties } : {}) },
    action: { name: r.action?.name ?? '', ...(r.action?.properties ? { properties: r.action.properties } : {}) },
    resource: { type: r.resource?.type ?? '', id: r.resource?.id ?? '', ...(r.resource?.properties ? { properties: r.resource.properties } : {}) },
    ...(r.context ? { context: r.context } : {}),
  };
  // proto3 cannot tell "" from absent: an empty type, id or name is a missing one.
  const missing = [
    ['subject', r.subject?.type, r.subject?.id],
    ['resource', r.resource?.type, r.resource?.id],
  ].flatMap(([root, type, id]) => [...(type ? [] : [`${where}${root}.type`]), ...(id ? [] : [`${where}${root}.id`])]);
  if (!r.action?.name) missing.push(`${where}action.name`);
  if (missing.length > 0) throw new GrpcError(status.INVALID_ARGUMENT, `missing ${missing.join(', ')}`);
  const checked = validateRequest(request, { trusted: false });
  if ('problems' in checked) throw new GrpcError(status.INVALID_ARGUMENT, checked.problems.map((p) => `${where}${p}`).join('; '));
  return checked.request;
}

function toResponse(d: Decision, tokenError: string | null) {
  return create(DecideResponseSchema, {
    decision: d.decision,
    determining: d.determining,
    reasons: d.reasons,
    errors: d.errors,
    revision: d.revision,
    tokenError: tokenError ?? '',
    signalErrors: d.signal_errors ?? [],
    ...(d.explanation ? { explanation: JSON.parse(JSON.stringify(d.explanation)) as JsonObject } : {}),
  });
}

/**
 * gavel.v1.DecisionService: the same semantics as HTTP /v1/decide and /v1/decide/batch — an
 * end user's bearer token in `context.token` is taken out, verified, and its claims become
 * the `token` root (engine/request-token.ts); policies and the log never see the raw token.
 */
export function decisionService(policies: LivePolicySet, decider: Decider, proxies: TrustedProxies, verify: VerifyToken, log: ServerLog) {
  /** The caller's address: the peer, or what a trusted proxy forwarded in `x-forwarded-for` metadata. */
  const origin = (call: CallInfo): Origin => {
    const peer = peerAddress(call.peer);
    return { address: peer === null ? null : proxies.clientAddress(peer, call.metadata(proxies.header)) };
  };
  return {
    decide: unary<typeof DecideRequestSchema, typeof DecideResponseSchema>(async (r, call) => {
      const { request, tokenError } = await withRequestToken(toRequest(r, ''), verify);
      if (call.cancelled()) throw new GrpcError(status.CANCELLED, 'the call was cancelled, or its deadline passed, before it was decided');
      return toResponse(decider.decide('grpc', call.requestId(), policies.current, request, { explain: r.explain }, origin(call)), tokenError);
    }, log),
    decideBatch: unary<typeof DecideBatchRequestSchema, typeof DecideBatchResponseSchema>(async (r, call) => {
      const from = origin(call);
      if (r.requests.length > 1000) throw new GrpcError(status.INVALID_ARGUMENT, 'at most 1000 requests in a batch');
      // Every item is checked before any token is verified: a bad item fails the batch at once.
      const checked = r.requests.map((item, i) => ({ item, request: toRequest(item, `requests[${i}].`) }));
      const requests = await Promise.all(checked.map(async ({ item, request }) => ({ item, ...(await withRequestToken(request, verify)) })));
      // A caller that gave up (its deadline passed while tokens were checked) gets nothing decided,
      // counted or logged in its name: nobody would enforce those decisions.
      if (call.cancelled()) throw new GrpcError(status.CANCELLED, 'the call was cancelled, or its deadline passed, before it was decided');
      // One revision for the whole batch, taken after the tokens: no decision waits on another revision.
      const set = policies.current;
      const id = call.requestId();
      const held = requests.map(({ item, request, tokenError }, i) => ({ tokenError, ...decider.held('grpc_batch', `${id}#${i}`, set, request, { explain: item.explain }, from) }));
      const answer = create(DecideBatchResponseSchema, { decisions: held.map(({ decision, tokenError }) => toResponse(decision, tokenError)) });
      // Nothing is counted or logged for an answer the caller would refuse to receive.
      const size = encodedSize(DecideBatchResponseSchema, answer);
      if (size > GRPC_ANSWER_LIMIT) {
        throw new GrpcError(status.RESOURCE_EXHAUSTED, `the answer would be ${mib(size)}, more than the ${mib(GRPC_ANSWER_LIMIT)} gRPC clients receive by default; send fewer requests per batch${requests.some(({ item }) => item.explain) ? ', or without explain' : ''}`);
      }
      for (const h of held) h.commit();
      return answer;
    }, log),
  };
}

import type { FastifyReply } from 'fastify';

/**
 * Answers that carry a decision in an error status: forward-auth's 401 and 403 are denials
 * the gateway enforces, not failed calls, and are not counted as HTTP errors.
 */
export const decisionAnswers = new WeakSet<FastifyReply>();

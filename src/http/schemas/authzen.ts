/**
 * JSON schemas of the OpenID AuthZEN Authorization API 1.0 request bodies. Required
 * members and their types are enforced (a violation is a 400, as the certification
 * scenario demands); unknown members are ignored, as the spec requires of receivers.
 */
const properties = { type: 'object' } as const;

export const subjectSchema = {
  type: 'object',
  required: ['type', 'id'],
  properties: { type: { type: 'string' }, id: { type: 'string' }, properties },
} as const;

export const resourceSchema = subjectSchema;

export const actionSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' }, properties },
} as const;

export const contextSchema = { type: 'object' } as const;

export const evaluationBody = {
  type: 'object',
  required: ['subject', 'action', 'resource'],
  properties: { subject: subjectSchema, action: actionSchema, resource: resourceSchema, context: contextSchema },
} as const;

const strings = { type: 'array', items: { type: 'string' } } as const;

/**
 * A single evaluation's answer (200). Declared so that fastify serialises it with a compiled
 * serialiser instead of `JSON.stringify` (about 0.6 µs a response); members not named here
 * are still sent (`additionalProperties`), so the schema cannot drop what a decision says.
 */
export const evaluationResponse = {
  type: 'object',
  required: ['decision'],
  properties: {
    decision: { type: 'boolean' },
    context: {
      type: 'object',
      properties: {
        determining: strings,
        reasons: strings,
        revision: { type: 'string' },
        errors: { type: 'array', items: { type: 'object', properties: { policy: { type: 'string' }, message: { type: 'string' }, location: { type: 'string' } }, additionalProperties: true } },
        token_error: { type: 'string' },
      },
      additionalProperties: true,
    },
  },
  additionalProperties: true,
} as const;

export const SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationsSemantic = (typeof SEMANTICS)[number];

/**
 * A batch: top-level defaults, items, options. Items are checked after merging with the
 * defaults (an item may lack what the defaults give), so they are only objects here.
 */
export const evaluationsBody = {
  type: 'object',
  properties: {
    subject: { type: 'object' },
    action: { type: 'object' },
    resource: { type: 'object' },
    context: contextSchema,
    evaluations: { type: 'array', maxItems: 1000, items: { type: 'object' } },
    options: {
      type: 'object',
      properties: {
        evaluations_semantic: { type: 'string', enum: SEMANTICS },
        gavel_include_context: { type: 'boolean' },
      },
    },
  },
} as const;

/** The searched entity: its type; an `id`, of any type, is ignored (AuthZEN 1.0: it "SHOULD be omitted, and if present, MUST be ignored"). */
const searchedSchema = { type: 'object', required: ['type'], properties: { type: { type: 'string' }, id: {}, properties } } as const;

/** `page`: a previous `next_token` and a page size. A limit above the largest page gets the largest page (the search itself). */
const pageSchema = {
  type: 'object',
  properties: { token: { type: 'string' }, limit: { type: 'integer', minimum: 0 }, properties },
} as const;

export const searchSubjectBody = {
  type: 'object',
  required: ['subject', 'action', 'resource'],
  properties: { subject: searchedSchema, action: actionSchema, resource: resourceSchema, context: contextSchema, page: pageSchema },
} as const;

export const searchResourceBody = {
  type: 'object',
  required: ['subject', 'action', 'resource'],
  properties: { subject: subjectSchema, action: actionSchema, resource: searchedSchema, context: contextSchema, page: pageSchema },
} as const;

/** No `action`: it is what is searched (one sent is ignored). */
export const searchActionBody = {
  type: 'object',
  required: ['subject', 'resource'],
  properties: { subject: subjectSchema, resource: resourceSchema, context: contextSchema, page: pageSchema },
} as const;

/**
 * What the decision log keeps of a verified token (src/server/decider.ts): these claims —
 * who the token is about, who issued and used it — always, and of the others those the
 * deciding revision's policies read (`decision_log.token_claims: "read"`, the default).
 * What-if replay needs to know it: a claim the log did not keep reads as missing.
 */
export const IDENTITY_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'client_id', 'azp', 'act', 'jti']);

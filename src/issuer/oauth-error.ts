/** RFC 6749 §5.2 error codes, RFC 8707's `invalid_target`, RFC 6750's `invalid_token` and `insufficient_scope` (userinfo) and RFC 9449's `invalid_dpop_proof`. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_target' | 'unsupported_token_type' | 'invalid_dpop_proof' | 'invalid_token' | 'insufficient_scope' | 'unsupported_response_type';

/** The challenge of a failed client authentication. */
const CLIENT_CHALLENGE = 'Basic realm="gavel"';

/** An OAuth error response: `{error, error_description}` with its status (401 for invalid_client). */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400,
    /**
     * `WWW-Authenticate`. A 401 always has one (RFC 9110 §15.5.2): by default the client
     * authentication scheme the token endpoint takes in a header (RFC 6749 §5.2), whichever
     * method the failed attempt used.
     */
    readonly challenge: string | null = status === 401 ? CLIENT_CHALLENGE : null,
  ) {
    super(description);
  }
}

/**
 * RFC 6749 §5.2: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E — no quote, no
 * backslash, nothing outside printable ASCII. Descriptions may quote what a caller sent (a
 * grant type, a scope) or a policy's reason; anything else becomes `?`.
 */
export function errorDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

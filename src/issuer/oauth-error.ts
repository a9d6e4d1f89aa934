/** RFC 6749 §5.2 error codes, RFC 8707's `invalid_target`, RFC 6750's `invalid_token` (userinfo) and RFC 9449's `invalid_dpop_proof`. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_target' | 'unsupported_token_type' | 'invalid_dpop_proof' | 'invalid_token';

/** An OAuth error response: `{error, error_description}` with its status (401 for invalid_client). */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400,
    /** `WWW-Authenticate` for a failed Basic authentication (RFC 6749 §5.2). */
    readonly challenge: string | null = null,
  ) {
    super(description);
  }
}

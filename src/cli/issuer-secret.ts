/**
 * What `gavel serve` and `gavel keys` say when the database holds signing keys but
 * `issuer.secret`, which sealed them, is gone: a new secret cannot open them, so none is made.
 */
export function missingSecret(file: string, db: string): string {
  return `the issuer secret \`${file}\` is missing, but \`${db}\` holds signing keys sealed with it: restore the file, or set GAVEL_ISSUER_SECRET to the secret it held`;
}

/**
 * Numbered migrations, applied in order, each in its own transaction, recorded in
 * `schema_migrations`. Never edit one that has shipped: add the next.
 */
/**
 * A change to a table's declared constraints that leaves every stored row as it is (SQLite:
 * "Making Other Kinds Of Table Schema Changes"): the table's CREATE statement is edited in
 * place — `from` must appear in it as an earlier migration wrote it — instead of the table
 * being copied, which for a large decision log would take minutes at start.
 */
export interface SchemaEdit {
  table: string;
  from: string;
  to: string;
}

export type Migration = { version: number; name: string } & ({ sql: string } | { edit: SchemaEdit });

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'decision log',
    sql: `
      CREATE TABLE decisions (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL,
        at           TEXT NOT NULL,
        via          TEXT NOT NULL,
        decision     INTEGER NOT NULL CHECK (decision IN (0, 1)),
        revision     TEXT NOT NULL,
        subject_type TEXT NOT NULL,
        subject_id   TEXT NOT NULL,
        action       TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id  TEXT NOT NULL,
        latency_us   REAL NOT NULL,
        determining  TEXT NOT NULL,
        reasons      TEXT NOT NULL,
        errors       TEXT NOT NULL,
        request      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX decisions_id ON decisions (id);
      CREATE INDEX decisions_at ON decisions (at);
      CREATE INDEX decisions_subject ON decisions (subject_id);
    `,
  },
  {
    version: 2,
    name: 'directory',
    sql: `
      CREATE TABLE entities (
        type       TEXT NOT NULL,
        id         TEXT NOT NULL,
        attributes TEXT NOT NULL CHECK (json_valid(attributes) AND json_type(attributes) = 'object'),
        PRIMARY KEY (type, id)
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'decision log: no index on request ids',
    // Nothing queries by request id, and each index costs every logged decision an insert.
    sql: `DROP INDEX decisions_id;`,
  },
  {
    version: 4,
    name: 'token issuer',
    sql: `
      -- apis, clients, roles, groups, users: one row each, the value as JSON (secrets hashed).
      CREATE TABLE registry (
        section TEXT NOT NULL CHECK (section IN ('apis', 'clients', 'roles', 'groups', 'users')),
        key     TEXT NOT NULL,
        value   TEXT NOT NULL CHECK (json_valid(value)),
        PRIMARY KEY (section, key)
      ) STRICT;
      -- Signing keys: the private JWK sealed (AES-256-GCM) with the issuer secret.
      CREATE TABLE signing_keys (
        kid         TEXT PRIMARY KEY,
        alg         TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        sealed      TEXT NOT NULL,
        created_at  TEXT NOT NULL
      ) STRICT;
      -- Revoked access tokens, until they would have expired anyway.
      CREATE TABLE revoked_tokens (
        jti        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'authorization codes and refresh tokens',
    sql: `
      -- Codes and refresh tokens are stored by the SHA-256 of their value, never in the clear.
      CREATE TABLE auth_codes (
        hash         TEXT PRIMARY KEY,
        client_id    TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        challenge    TEXT NOT NULL,
        subject      TEXT NOT NULL,
        scope        TEXT NOT NULL,
        audience     TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        used_at      INTEGER,
        family       TEXT
      ) STRICT;
      CREATE TABLE refresh_tokens (
        hash             TEXT PRIMARY KEY,
        family           TEXT NOT NULL,
        client_id        TEXT NOT NULL,
        subject          TEXT NOT NULL,
        scope            TEXT NOT NULL,
        audience         TEXT NOT NULL,
        expires_at       INTEGER NOT NULL,
        rotated_at       INTEGER,
        -- The successor, sealed, for the grace window in which a lost response may be replayed.
        successor_sealed TEXT,
        revoked_at       INTEGER
      ) STRICT;
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
      -- Access tokens issued within a token family, so that revoking the family revokes them.
      CREATE TABLE family_access (
        family     TEXT NOT NULL,
        jti        TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX family_access_family ON family_access (family);
    `,
  },
  {
    version: 6,
    name: 'OpenID Connect: nonce and sign-in time of a code',
    sql: `
      ALTER TABLE auth_codes ADD COLUMN nonce TEXT;
      ALTER TABLE auth_codes ADD COLUMN auth_time INTEGER;
    `,
  },
  {
    version: 7,
    name: 'opaque access tokens',
    sql: `
      -- Reference tokens: only their SHA-256 is kept, with the claims introspection answers.
      CREATE TABLE opaque_tokens (
        hash       TEXT PRIMARY KEY,
        claims     TEXT NOT NULL CHECK (json_valid(claims)),
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 8,
    name: 'lifetime caps of codes; key binding of refresh tokens',
    sql: `
      -- The shortest @token_ttl of the policies that granted the code's scopes.
      ALTER TABLE auth_codes ADD COLUMN ttl_cap INTEGER;
      -- RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key.
      ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT;
    `,
  },
  {
    version: 9,
    name: 'decision log in batches',
    // One row per written batch (the records as a JSON array) instead of one per decision:
    // a row insert and its index updates cost tens of microseconds, a decision's share of a
    // batch about one. Queries read the records with json_each.
    sql: `
      CREATE TABLE decision_batches (
        seq      INTEGER PRIMARY KEY,
        first_at TEXT NOT NULL,
        last_at  TEXT NOT NULL,
        count    INTEGER NOT NULL CHECK (count > 0),
        records  TEXT NOT NULL CHECK (json_valid(records) AND json_type(records) = 'array')
      ) STRICT;
      CREATE INDEX decision_batches_last_at ON decision_batches (last_at);
      INSERT INTO decision_batches (first_at, last_at, count, records)
        SELECT at, at, 1, json_array(json_object(
          'id', id, 'at', at, 'via', via, 'decision', json(CASE decision WHEN 1 THEN 'true' ELSE 'false' END), 'revision', revision,
          'subject', json_object('type', subject_type, 'id', subject_id), 'action', action,
          'resource', json_object('type', resource_type, 'id', resource_id), 'latencyUs', latency_us,
          'determining', json(determining), 'reasons', json(reasons), 'errors', json(errors), 'request', json(request)))
        FROM decisions ORDER BY seq;
      DROP TABLE decisions;
    `,
  },
  {
    version: 10,
    name: 'policy revisions',
    // The files of each policy revision `gavel serve` loaded, once per revision id, so that
    // a logged decision can be explained against the policies that made it and `gavel diff`
    // can compare with a deployed revision. `files` is a JSON object: path → text.
    sql: `
      CREATE TABLE policy_revisions (
        id       TEXT PRIMARY KEY,
        saved_at TEXT NOT NULL,
        files    TEXT NOT NULL CHECK (json_valid(files) AND json_type(files) = 'object')
      ) STRICT;
      CREATE INDEX policy_revisions_saved_at ON policy_revisions (saved_at);
    `,
  },
  {
    version: 11,
    name: 'decision log summaries',
    // One row per batch, written by the log's writer thread in the batch's own transaction:
    // the batch's request ids, and the distinct keys its records can be filtered by
    // (`s:SUBJECT`, `p:POLICY` for each determining policy, `v:VIA`, `d:1`/`d:0`), each
    // between newlines. A lookup by id or a filtered page scans these small rows and
    // opens only the batches that may hold an answer, instead of json_each over every
    // batch. Per batch, not per decision: a row per decision with its indexes cost the
    // writer three times as much (see bench/RESULTS.md, "whatif").
    sql: `
      CREATE TABLE decision_summaries (
        seq  INTEGER PRIMARY KEY REFERENCES decision_batches (seq) ON DELETE CASCADE,
        ids  TEXT NOT NULL,
        keys TEXT NOT NULL
      ) STRICT;
      INSERT INTO decision_summaries (seq, ids, keys)
        SELECT b.seq,
          char(10) || (SELECT group_concat(j.value ->> '$.id', char(10)) FROM json_each(b.records) j) || char(10),
          char(10) || (SELECT group_concat(k, char(10)) FROM (
            SELECT DISTINCT 's:' || (j.value ->> '$.subject.id') AS k FROM json_each(b.records) j
            UNION SELECT DISTINCT 'v:' || COALESCE(j.value ->> '$.via', '') FROM json_each(b.records) j
            UNION SELECT DISTINCT 'd:' || (j.value ->> '$.decision') FROM json_each(b.records) j
            UNION SELECT DISTINCT 'p:' || d.value FROM json_each(b.records) j, json_each(j.value, '$.determining') d)) || char(10)
        FROM decision_batches b;
    `,
  },
  {
    version: 12,
    name: 'a counter of changes to what a server holds in memory',
    // `gavel serve` keeps the directory, the registry and the signing keys in memory and
    // polls for changes made by other processes (`gavel apply`, `gavel keys rotate`).
    // SQLite's data_version moves on any other connection's commit — the decision log's
    // writer thread commits many times a second — so the server reloaded everything every
    // second under load. This counter moves only when those three tables change.
    sql: `
      CREATE TABLE serving_changes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
      ) STRICT;
      INSERT INTO serving_changes (id, n) VALUES (1, 0);
      CREATE TRIGGER entities_insert_counted AFTER INSERT ON entities BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER entities_update_counted AFTER UPDATE ON entities BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER entities_delete_counted AFTER DELETE ON entities BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER registry_insert_counted AFTER INSERT ON registry BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER registry_update_counted AFTER UPDATE ON registry BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER registry_delete_counted AFTER DELETE ON registry BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER signing_keys_insert_counted AFTER INSERT ON signing_keys BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER signing_keys_update_counted AFTER UPDATE ON signing_keys BEGIN UPDATE serving_changes SET n = n + 1; END;
      CREATE TRIGGER signing_keys_delete_counted AFTER DELETE ON signing_keys BEGIN UPDATE serving_changes SET n = n + 1; END;
    `,
  },
  {
    version: 13,
    name: 'decision log: no JSON check on insert',
    // The CHECK parsed every batch — hundreds of kilobytes of records Gavel serialised itself
    // — on insert: a quarter of the writer thread's time, on the core answering requests.
    edit: {
      table: 'decision_batches',
      from: "records  TEXT NOT NULL CHECK (json_valid(records) AND json_type(records) = 'array')",
      to: 'records  TEXT NOT NULL',
    },
  },
  {
    version: 14,
    name: 'issuer: expiry indexes, for deleting what has expired',
    sql: `
      CREATE INDEX opaque_tokens_expires ON opaque_tokens (expires_at);
      CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
      CREATE INDEX family_access_expires ON family_access (expires_at);
      CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
    `,
  },
  {
    version: 15,
    name: 'issuer: sealed refresh successors found by rotation time, to forget them after the grace window',
    sql: `CREATE INDEX refresh_tokens_successor ON refresh_tokens (rotated_at) WHERE successor_sealed IS NOT NULL;`,
  },
  {
    version: 16,
    name: 'issuer: a family found by one of its access tokens, so that tokens exchanged from it join it',
    sql: `CREATE INDEX family_access_jti ON family_access (jti);`,
  },
  {
    version: 17,
    name: 'issuer: when a signing algorithm stopped being used, so that its last key is published for the overlap from then',
    sql: `ALTER TABLE signing_keys ADD COLUMN retired_at TEXT;`,
  },
  {
    version: 18,
    name: 'issuer: a rotated refresh token names its successor, so a replay after the successor was used is reuse, not a lost response',
    sql: `ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;`,
  },
  {
    version: 19,
    name: 'decision log: the bytes of each batch, so that retention can bound the log in bytes too',
    // A narrow table of its own: a column added to decision_batches would sit after `records`,
    // and reading it would walk each batch's overflow pages (retention reads it after every
    // write). Existing batches are measured once, here.
    sql: `
      CREATE TABLE decision_batch_sizes (
        seq   INTEGER PRIMARY KEY REFERENCES decision_batches (seq) ON DELETE CASCADE,
        bytes INTEGER NOT NULL
      ) STRICT;
      INSERT INTO decision_batch_sizes (seq, bytes) SELECT seq, length(CAST(records AS BLOB)) FROM decision_batches;
    `,
  },
  {
    version: 20,
    name: 'a counter of revocations, so that every process serving the store sees one within a second',
    // Each process keeps the revoked token ids in memory; another process sharing the file
    // (a second server, gavel keys rotate) revoking a token moved nothing it polled, so the
    // token stayed accepted there until it expired.
    sql: `
      CREATE TABLE revocation_changes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
      ) STRICT;
      INSERT INTO revocation_changes (id, n) VALUES (1, 0);
      CREATE TRIGGER revoked_tokens_insert_counted AFTER INSERT ON revoked_tokens BEGIN UPDATE revocation_changes SET n = n + 1; END;
    `,
  },
  {
    version: 21,
    name: 'issuer: which access token each exchanged one came from, so that revoking a token revokes what was exchanged from it',
    // A client-credentials token (no family) exchanged by a resource server, revoked, left its
    // exchanged tokens live until they expired; so did an exchanged token exchanged again.
    sql: `
      CREATE TABLE exchanged_tokens (
        parent     TEXT NOT NULL,
        child      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX exchanged_tokens_parent ON exchanged_tokens (parent);
      CREATE INDEX exchanged_tokens_expires ON exchanged_tokens (expires_at);
    `,
  },
  {
    version: 22,
    name: 'issuer: used DPoP proofs and client assertions, and failed sign-ins, shared by every process serving the store',
    // Each process kept them in memory: a proof or assertion used at one process was accepted
    // again at another, and each process allowed its own ten failed sign-ins a minute.
    sql: `
      CREATE TABLE used_proofs (
        key        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX used_proofs_expires ON used_proofs (expires_at);
      CREATE TABLE sign_in_failures (
        key        TEXT PRIMARY KEY,
        count      INTEGER NOT NULL,
        until_ms   INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sign_in_failures_expires ON sign_in_failures (expires_at);
    `,
  },
  {
    version: 23,
    name: 'issuer: revoked token families, so that what is issued into one after its revocation is revoked too',
    // A grant's writes are each their own transaction, waited for off the request thread: a
    // code replay or a revocation landing between a grant's use of its code or refresh token
    // and the recording of what it issued left the issued tokens live. The mark outlives any
    // grant in flight; tokens issued before it are revoked in their own rows.
    sql: `
      CREATE TABLE revoked_families (
        family     TEXT PRIMARY KEY,
        revoked_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX revoked_families_expires ON revoked_families (expires_at);
    `,
  },
  {
    version: 24,
    name: 'issuer: codes bound to a DPoP key (dpop_jkt)',
    // RFC 9449 §10: the authorization request names the key (or its pushed request carries a
    // proof), and only a token request with a proof by that key may redeem the code.
    sql: `
      ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT;
    `,
  },
];

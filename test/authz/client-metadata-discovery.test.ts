/**
 * The authorization server metadata says when https client ids are client ID metadata documents
 * (`client_id_metadata_document_supported`, draft-ietf-oauth-client-id-metadata-document): the MCP
 * SDK's client uses its document URL as its client_id only when it does, and registers (RFC 7591)
 * otherwise (test/interop/oauth/mcp.test.ts found it missing).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const metadata = async (authorization: AuthHandlerOptions['authorization']) => {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const handler = createAuthHandler({ baton, authenticate: async () => null, ...(authorization === undefined ? {} : { authorization }) });
  const answers = await Promise.all(
    ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'].map((p) => handler(new Request(`${ISSUER}${p}`), { ip: '203.0.113.1' })),
  );
  return Promise.all(answers.map((r) => r.json() as Promise<Record<string, unknown>>));
};

describe('client_id_metadata_document_supported', () => {
  it('is true in both discovery documents while documents are on', async () => {
    for (const doc of await metadata({ clientMetadataDocuments: { hosts: ['apps.example.com'] } }))
      expect(doc.client_id_metadata_document_supported).toBe(true);
  });

  it('is absent while they are off', async () => {
    for (const doc of await metadata(undefined)) expect(doc).not.toHaveProperty('client_id_metadata_document_supported');
  });
});

/** The axios interceptor pair against the running service. */
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axiosInterceptors, createTokenClient, memoryStorage } from 'baton-auth-client';
import { users } from 'baton-auth-server';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({});
});
afterAll(() => service.stop());

describe('axios interceptors', () => {
  it('attach the token, and on a 401 refresh once and retry once', async () => {
    const pair = await service.login();
    const client = createTokenClient({ issuer: service.url, storage: memoryStorage() });
    await client.setTokens(pair);
    let refreshed = 0;
    client.on('refreshed', () => refreshed++);
    const api = axios.create({ baseURL: service.url });
    const { request, response } = axiosInterceptors(client, api);
    api.interceptors.request.use(request);
    api.interceptors.response.use(undefined, response);
    expect((await api.get('/auth/me')).data).toMatchObject({ sub: expect.stringMatching(/^usr_/) });
    expect(refreshed).toBe(0);
    await service.server.service.baton.revoke(pair.access_token); // the server now refuses this access token
    expect((await api.get('/auth/me')).status).toBe(200);
    expect(refreshed).toBe(1);
    await service.server.service.baton.revokeUserSessions((await users.get(service.server.service.store, 'tester'))?.id as string);
    await expect(api.get('/auth/me')).rejects.toMatchObject({ response: { status: 401 } });
  });
});

import SwaggerParser from '@apidevtools/swagger-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { type CallCenterUnderTest, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

describe('the OpenAPI document', () => {
  it('is served at /openapi.json, validates as OpenAPI 3, and lists every route with its schemas', async () => {
    center = await startCallCenter({ takers: 1 });
    const reply = await center.service.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(reply.statusCode).toBe(200);
    const document = reply.json();
    // Throws, naming the problem, if the document is not valid OpenAPI.
    await SwaggerParser.validate(structuredClone(document));
    expect(document.openapi).toMatch(/^3\./);
    const paths = Object.keys(document.paths);
    for (const path of [
      '/takers/{takerId}/state',
      '/calls/{callId}/verdict',
      '/calls/{callId}/conference',
      '/rules',
      '/rules/backtest',
      '/caller-lists/{number}',
      '/callbacks',
      '/live',
    ]) {
      expect(paths).toContain(path);
    }
    const verdict = document.paths['/calls/{callId}/verdict'].put;
    expect(verdict.requestBody.content['application/json'].schema.properties).toHaveProperty('verdict');

    const docs = await center.service.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });
});

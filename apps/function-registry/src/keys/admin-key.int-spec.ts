import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createHash } from 'crypto';
import { readFileSync, statSync, writeFileSync } from 'fs';
import * as path from 'path';
import { Client } from 'pg';
import { ApiKeyPatterns, ApiKeyVerdict, ApiKeyView } from '@platform/contracts';
import { SettingsModule } from '@platform/config';
import { MessagingModule, RpcClient, RpcClientsModule } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, removeNamespace } from '@platform/testing';
import { startRegistry } from '../testing/start-registry';

const sha256 = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

describe('the admin key of the first start', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let client: INestApplication;
  let rpc: RpcClient;
  const file = () => path.join(iso.env.HKS_DATA_DIR, 'admin-key');
  const restart = async () => (await startRegistry(iso.env)).close();
  const verify = (key: string) => rpc.call<ApiKeyVerdict>('function-registry', ApiKeyPatterns.Verify, { hash: sha256(key) });

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url });
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['function-registry'])] })
    class ClientModule {}
    client = await NestFactory.create(ClientModule, { logger: false });
    await client.init();
    rpc = client.get(RpcClient);
  });

  afterAll(async () => {
    await client?.close();
    await db?.drop();
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry'], ['function-registry.builds']);
    iso?.cleanup();
  });

  it('is made once, kept 0600 in the data directory, stored only as a hash, and never overwritten while valid', async () => {
    const registry = await startRegistry(iso.env);
    try {
      const key = readFileSync(file(), 'utf8').trim();
      expect(key).toMatch(/^hks_[A-Za-z0-9_-]{43}$/);
      expect(statSync(file()).mode & 0o777).toBe(0o600);
      expect(await verify(key)).toMatchObject({ valid: true, scope: 'admin', functions: [] });
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        const { rows } = await pg.query(`SELECT hash, prefix FROM registry.api_keys`);
        expect(rows).toEqual([{ hash: sha256(key), prefix: key.slice(0, 12) }]);
      } finally {
        await pg.end();
      }
    } finally {
      await registry.close();
    }
    const before = readFileSync(file(), 'utf8');
    await restart();
    expect(readFileSync(file(), 'utf8')).toBe(before);
  });

  it('is not made again while another admin key is active, and is made anew once none is', async () => {
    const registry = await startRegistry(iso.env);
    try {
      const first = readFileSync(file(), 'utf8').trim();
      writeFileSync(file(), 'hks_lost\n', { mode: 0o600 });
      const [key] = await rpc.call<ApiKeyView[]>('function-registry', ApiKeyPatterns.List, {});
      // The table still has an active admin key: the registry leaves things be.
      await restart();
      expect(readFileSync(file(), 'utf8')).toBe('hks_lost\n');
      await rpc.call('function-registry', ApiKeyPatterns.Revoke, { id: key.id });
      expect(await verify(first)).toEqual({ valid: false });
    } finally {
      await registry.close();
    }
    await restart();
    const fresh = readFileSync(file(), 'utf8').trim();
    expect(fresh).toMatch(/^hks_/);
    const registry2 = await startRegistry(iso.env);
    try {
      expect(await verify(fresh)).toMatchObject({ valid: true, scope: 'admin' });
    } finally {
      await registry2.close();
    }
  });
});

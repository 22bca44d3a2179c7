import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN_SETUP_NO_KEY_TTL_MS, DOMAIN_SETUP_TTL_MS, DomainSetups } from '../../../src/accept/domain-setups.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/store.js';
import { addActiveDkimKeys } from '../../helpers/dkim-keys.js';

const KEYS = [{ id: 'k1', secret: 'domain-setups-test-secret-0123456789' }];

describe('DomainSetups (a real SQLite store)', () => {
  let dir: string;
  let store: Store;
  let spaceId: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trx-domain-setups-'));
    store = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
    spaceId = (await store.createSpace({ name: 'Shop' })).id;
    await store.addDomain(spaceId, 'keys-late.example');
    await store.addDomain(spaceId, 'keys-early.example');
    await addActiveDkimKeys(store, spaceId, 'keys-early.example', KEYS);
  });

  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('remembers a domain without an active key for DOMAIN_SETUP_NO_KEY_TTL_MS only: a key created meanwhile signs from then on', async () => {
    let now = 1_000_000;
    const setups = new DomainSetups(store, KEYS, { clock: () => now });
    // the first message comes before `serve`'s domain checker has made the pair
    expect((await setups.get(spaceId, 'keys-late.example')).signingKeys).toEqual([]);
    await addActiveDkimKeys(store, spaceId, 'keys-late.example', KEYS);
    now += DOMAIN_SETUP_NO_KEY_TTL_MS - 1;
    expect((await setups.get(spaceId, 'keys-late.example')).signingKeys).toEqual([]);
    now += 2;
    const keys = (await setups.get(spaceId, 'keys-late.example')).signingKeys;
    expect(keys.map((k) => k.algorithm).sort()).toEqual(['ed25519-sha256', 'rsa-sha256']);
  });

  it('keeps a domain with keys for DOMAIN_SETUP_TTL_MS (one store read per domain and interval)', async () => {
    let now = 5_000_000;
    let reads = 0;
    const counting: Pick<Store, 'getDomainAuth' | 'listDkimKeys'> = {
      getDomainAuth: (s, d) => store.getDomainAuth(s, d),
      listDkimKeys: (s, d) => {
        reads++;
        return store.listDkimKeys(s, d);
      },
    };
    const setups = new DomainSetups(counting, KEYS, { clock: () => now });
    expect((await setups.get(spaceId, 'keys-early.example')).signingKeys).toHaveLength(2);
    now += DOMAIN_SETUP_TTL_MS - 1;
    expect((await setups.get(spaceId, 'keys-early.example')).signingKeys).toHaveLength(2);
    expect(reads).toBe(1);
    now += 2;
    await setups.get(spaceId, 'keys-early.example');
    expect(reads).toBe(2);
    expect(DOMAIN_SETUP_NO_KEY_TTL_MS).toBeLessThan(DOMAIN_SETUP_TTL_MS);
  });
});

/**
 * Opens the configured Store backend. A switch on the driver name, so a PostgreSQL backend
 * can be added beside SQLite without touching callers.
 *
 * Throws: ConfigError when the database cannot be opened or has an unusable schema;
 * TransientError when it is busy.
 */
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface SqliteStoreConfig {
  readonly driver: 'sqlite';
  /** Database file (its directory is created), or ':memory:'. */
  readonly path: string;
}

export type StoreConfig = SqliteStoreConfig;

export function openStore(cfg: StoreConfig): Promise<Store> {
  switch (cfg.driver) {
    case 'sqlite':
      try {
        return Promise.resolve(SqliteStore.open(cfg.path));
      } catch (err: unknown) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
  }
}

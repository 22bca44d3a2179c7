/**
 * Opens the configured Store backend: SQLite (embedded default) or PostgreSQL (several nodes
 * sharing one database). Both migrate their schema at open; `migrated` says from which
 * version to which (`trxmail store migrate` prints it).
 *
 * Throws: ConfigError when the database cannot be opened or has an unusable schema;
 * TransientError when it is busy or cannot be reached.
 */
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface SqliteStoreConfig {
  readonly driver: 'sqlite';
  /** Database file (its directory is created), or ':memory:'. */
  readonly path: string;
}

export interface PostgresStoreConfig {
  readonly driver: 'postgres';
  /** postgres://user:pass@host[,host2]/db[?target_session_attrs=read-write] */
  readonly url: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

/** The schema versions a store found and left at open (0: a new database). */
export interface StoreMigration {
  readonly from: number;
  readonly to: number;
}

export function openStore(cfg: StoreConfig): Promise<Store> {
  return openMigratedStore(cfg).then((r) => r.store);
}

/** Opens the store and says what its migration did. */
export function openMigratedStore(cfg: StoreConfig): Promise<{ store: Store; migrated: StoreMigration }> {
  switch (cfg.driver) {
    case 'sqlite':
      try {
        const store = SqliteStore.open(cfg.path);
        return Promise.resolve({ store, migrated: store.migrated });
      } catch (err: unknown) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    case 'postgres':
      return PostgresStore.open(cfg).then((store) => ({ store, migrated: store.migrated }));
  }
}

/**
 * Dependency rules of trxmail's source tree (docs/architecture.md "Layers"), checked by
 * `npm run deps` inside `npm test`. A violation names the rule and the import.
 *
 *   core  ←  lib  ←  mail  ←  feature folders (accept, milter, policy, auth, bounce, …)  ←  cli
 *
 * core is pure (the rules, their types, limits and errors: no node: modules, nothing outside
 * core); lib and mail are shared foundations that know no feature; the SQL backends of the
 * store (store/sqlite, store/postgres) write SQL only, import no feature folder and not each other,
 * and are the only users of their database client.
 */
const FOUNDATIONS = '^src/(core|lib|mail)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make modules impossible to read, test or load in isolation.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'src/core imports nothing outside src/core (no store, no sockets, no lib, no feature).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'core-no-node-builtins',
      comment: 'src/core is pure: no node: modules (no I/O, no clock, no crypto).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'lib-imports-no-feature',
      comment: 'src/lib is shared by every feature: it imports only src/lib and src/core.',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/(lib|core)/' },
    },
    {
      name: 'mail-imports-no-feature',
      comment: 'src/mail (mail formats) sits beneath the features: it imports only src/mail, src/lib and src/core.',
      severity: 'error',
      from: { path: '^src/mail/' },
      to: { path: '^src/', pathNot: FOUNDATIONS },
    },
    {
      name: 'store-sql-imports-no-feature',
      comment: 'The SQL backends write SQL only: they import the store interfaces and foundations, no feature folder.',
      severity: 'error',
      from: { path: '^src/store/[^/]+/' },
      to: { path: '^src/', pathNot: ['^src/store/', FOUNDATIONS] },
    },
    {
      name: 'store-backends-apart',
      comment: 'Each SQL backend (store/sqlite, store/postgres) stands alone: what they share lives in src/store/ itself.',
      severity: 'error',
      from: { path: '^src/store/(sqlite|postgres)/' },
      to: { path: '^src/store/(sqlite|postgres)/', pathNot: '^src/store/$1/' },
    },
    {
      name: 'database-clients-in-their-backend',
      comment: 'Only the SQLite backend uses better-sqlite3 and only the PostgreSQL backend uses postgres; everything else goes through the Store.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/(sqlite|postgres)/' },
      to: { path: 'node_modules/(better-sqlite3|postgres)/' },
    },
    {
      name: 'src-not-from-tests',
      comment: 'Production code never imports test or bench code.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

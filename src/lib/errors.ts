/**
 * The error classes, defined in core (src/core/errors.ts: core is pure and imports nothing
 * outside core/) and re-exported here for the adapters.
 */
export * from '../core/errors.js';

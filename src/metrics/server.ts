/**
 * The metrics listener: `GET /metrics` (Prometheus text format 0.0.4) on its own address,
 * `metrics.listen` in trxmail.yaml, loopback by default (127.0.0.1:9464). Its own listener
 * rather than a route of the tracking HTTP service because that one faces the internet
 * (recipients' browsers) and metrics are for the operator only.
 *
 *   GET|HEAD /metrics   200 text/plain; version=0.0.4
 *   anything else       404
 *
 * No body is read; requests must arrive within METRICS_REQUEST_TIMEOUT_MS.
 * Throws: listen() rejects with ConfigError when the address cannot be bound.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../lib/errors.js';
import { errorForLog, type Logger } from '../lib/logger.js';
import type { Registry } from './registry.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

export class MetricsServer {
  private readonly server: http.Server;

  constructor(
    private readonly registry: Registry,
    private readonly logger: Pick<Logger, 'warn' | 'error'>,
  ) {
    this.server = http.createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS }, (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
        return;
      }
      this.registry
        .render((err) => this.logger.warn({ err: errorForLog(err) }, 'metrics: a collector failed'))
        .then(
          (text) => {
            res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
            res.end(req.method === 'HEAD' ? undefined : text);
          },
          (err: unknown) => {
            this.logger.error({ err: errorForLog(err) }, 'metrics: render failed');
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n');
          },
        );
    });
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new ConfigError(`metrics: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}

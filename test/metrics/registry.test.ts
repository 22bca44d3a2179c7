import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/lib/errors.js';
import { COLLECT_TIMEOUT_MS, MAX_METRIC_SERIES, Registry } from '../../src/metrics/registry.js';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in the text exposition format', async () => {
    const r = new Registry();
    const c = r.counter('t_requests_total', 'Requests.\nSecond line \\ ok', ['code']);
    const g = r.gauge('t_backlog', 'Backlog.');
    const h = r.histogram('t_latency_seconds', 'Latency.', [0.1, 1]);
    c.inc({ code: '200' });
    c.inc({ code: '200' }, 2);
    c.inc({ code: 'a"b\\c\nd' });
    g.set({}, 7);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    const text = await r.render();
    expect(text).toContain('# HELP t_requests_total Requests.\\nSecond line \\\\ ok\n# TYPE t_requests_total counter\n');
    expect(text).toContain('t_requests_total{code="200"} 3\n');
    expect(text).toContain('t_requests_total{code="a\\"b\\\\c\\nd"} 1\n');
    expect(text).toContain('# TYPE t_backlog gauge\nt_backlog 7\n');
    expect(text).toContain(
      [
        '# TYPE t_latency_seconds histogram',
        't_latency_seconds_bucket{le="0.1"} 1',
        't_latency_seconds_bucket{le="1"} 2',
        't_latency_seconds_bucket{le="+Inf"} 3',
        't_latency_seconds_sum 5.55',
        't_latency_seconds_count 3',
      ].join('\n'),
    );
    expect(h.count()).toBe(3);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('refuses bugs: bad names, wrong labels, duplicates, a counter going down, bad buckets', () => {
    const r = new Registry();
    const c = r.counter('ok_total', 'x', ['a']);
    expect(() => r.counter('ok_total', 'x')).toThrow(InvariantError);
    expect(() => r.counter('bad-name', 'x')).toThrow(InvariantError);
    expect(() => r.counter('x_total', 'x', ['le'])).toThrow(InvariantError);
    expect(() => r.counter('y_total', 'x', ['0a'])).toThrow(InvariantError);
    expect(() => c.inc({})).toThrow(InvariantError);
    expect(() => c.inc({ a: '1', b: '2' })).toThrow(InvariantError);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(InvariantError);
    expect(() => r.histogram('h1', 'x', [])).toThrow(InvariantError);
    expect(() => r.histogram('h2', 'x', [1, 1])).toThrow(InvariantError);
    expect(() => r.histogram('h3', 'x', [Infinity])).toThrow(InvariantError);
  });

  it(`keeps at most MAX_METRIC_SERIES (${MAX_METRIC_SERIES}) label sets per metric and counts the rest`, async () => {
    const r = new Registry();
    const c = r.counter('many_total', 'x', ['k']);
    for (let i = 0; i <= MAX_METRIC_SERIES; i++) c.inc({ k: String(i) });
    expect(c.get({ k: String(MAX_METRIC_SERIES - 1) })).toBe(1);
    expect(c.get({ k: String(MAX_METRIC_SERIES) })).toBe(0);
    expect(await r.render()).toContain('trxmail_metrics_dropped_series_total 1\n');
  });

  it('runs collectors before rendering; a failing one keeps the last value and is reported', async () => {
    const r = new Registry();
    const g = r.gauge('g', 'x', ['s']);
    let n = 1;
    let fail = false;
    r.addCollector(() => {
      if (fail) return Promise.reject(new Error('store down'));
      g.set({ s: 'pending' }, n++);
      return Promise.resolve();
    });
    expect(await r.render()).toContain('g{s="pending"} 1\n');
    expect(await r.render()).toContain('g{s="pending"} 2\n');
    fail = true;
    const errors: unknown[] = [];
    expect(await r.render((e) => errors.push(e))).toContain('g{s="pending"} 2\n');
    expect(errors).toHaveLength(1);
    expect(COLLECT_TIMEOUT_MS).toBeGreaterThan(0);
  });
});

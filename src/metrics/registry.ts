/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * No dependency: trxmail needs a dozen series, not prom-client.
 *
 *   # HELP <name> <help, \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{label="value",...} <number>
 *
 * Label values are escaped (\\, \", \n). Label sets are bounded by the callers (fixed enums:
 * reasons, results, kinds); MAX_METRIC_SERIES per metric protects against a caller bug that
 * would put an unbounded value in a label (further series are dropped and counted in
 * trxmail_metrics_dropped_series_total). Gauges may be filled at scrape time by a collector
 * (e.g. the webhook backlog from the store); a collector that fails or takes longer than
 * COLLECT_TIMEOUT_MS leaves the gauge at its last value.
 *
 * Throws: InvariantError for an invalid metric/label name or a duplicate metric (bugs).
 */
import { InvariantError } from '../lib/errors.js';

/** Most label combinations one metric keeps. */
export const MAX_METRIC_SERIES = 1000;
/** How long render() waits for the collectors. */
export const COLLECT_TIMEOUT_MS = 2000;

export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

abstract class Metric {
  protected readonly series = new Map<string, { labels: Labels; value: unknown }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    protected readonly onDrop: () => void,
  ) {
    if (!NAME_RE.test(name)) throw new InvariantError(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l === 'le') throw new InvariantError(`invalid label name ${l} on ${name}`);
  }
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  protected key(labels: Labels): string {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new InvariantError(`${this.name}: expected labels ${this.labelNames.join(',') || '(none)'}, got ${names.join(',') || '(none)'}`);
    }
    return this.labelNames.map((n) => labels[n]).join('\u0000');
  }

  /** The series for these labels, created when there is room; null when there is none. */
  protected slot<T>(labels: Labels, init: () => T): { value: T } | null {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (!s) {
      if (this.series.size >= MAX_METRIC_SERIES) {
        this.onDrop();
        return null;
      }
      s = { labels: { ...labels }, value: init() };
      this.series.set(k, s);
    }
    return s as { value: T };
  }

  protected labelText(labels: Labels, extra?: [string, string]): string {
    const parts = this.labelNames.map((n) => `${n}="${escapeLabel(labels[n] ?? '')}"`);
    if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
    return parts.length === 0 ? '' : `{${parts.join(',')}}`;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.series.values()) lines.push(...this.renderSeries(s.labels, s.value));
    return lines.join('\n') + '\n';
  }
  protected abstract renderSeries(labels: Labels, value: unknown): string[];
}

export class Counter extends Metric {
  readonly type = 'counter';
  inc(labels: Labels = {}, n = 1): void {
    if (!(n >= 0)) throw new InvariantError(`${this.name}: a counter only goes up`);
    const s = this.slot(labels, () => 0);
    if (s) s.value += n;
  }
  get(labels: Labels = {}): number {
    return (this.series.get(this.key(labels))?.value as number | undefined) ?? 0;
  }
  protected renderSeries(labels: Labels, value: unknown): string[] {
    return [`${this.name}${this.labelText(labels)} ${formatNumber(value as number)}`];
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  set(labels: Labels, v: number): void {
    const s = this.slot(labels, () => 0);
    if (s) s.value = v;
  }
  get(labels: Labels = {}): number {
    return (this.series.get(this.key(labels))?.value as number | undefined) ?? 0;
  }
  protected renderSeries(labels: Labels, value: unknown): string[] {
    return [`${this.name}${this.labelText(labels)} ${formatNumber(value as number)}`];
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], onDrop: () => void) {
    super(name, help, labelNames, onDrop);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] ?? -Infinity)))) {
      throw new InvariantError(`${name}: buckets must be finite and increasing`);
    }
    this.buckets = [...buckets];
  }
  observe(v: number, labels: Labels = {}): void {
    const s = this.slot<HistogramValue>(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    if (!s) return;
    this.buckets.forEach((b, i) => {
      if (v <= b) s.value.counts[i] = (s.value.counts[i] ?? 0) + 1;
    });
    s.value.sum += v;
    s.value.count += 1;
  }
  /** Count of observations (for tests and logs). */
  count(labels: Labels = {}): number {
    return (this.series.get(this.key(labels))?.value as HistogramValue | undefined)?.count ?? 0;
  }
  protected renderSeries(labels: Labels, value: unknown): string[] {
    const h = value as HistogramValue;
    const lines = this.buckets.map((b, i) => `${this.name}_bucket${this.labelText(labels, ['le', formatNumber(b)])} ${h.counts[i] ?? 0}`);
    lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${h.count}`);
    lines.push(`${this.name}_sum${this.labelText(labels)} ${formatNumber(h.sum)}`);
    lines.push(`${this.name}_count${this.labelText(labels)} ${h.count}`);
    return lines;
  }
}

export type Collector = () => Promise<void>;

export class Registry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors = new Set<Collector>();
  private readonly dropped: Counter;

  constructor() {
    this.dropped = this.counter('trxmail_metrics_dropped_series_total', 'Label combinations not kept because a metric had MAX_METRIC_SERIES already.');
  }

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new InvariantError(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
  private readonly drop = (): void => this.dropped.inc();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames, this.drop));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames, this.drop));
  }
  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets, this.drop));
  }

  /** Runs at every render before the text is built; returns a function that removes it. */
  addCollector(c: Collector): () => void {
    this.collectors.add(c);
    return () => this.collectors.delete(c);
  }

  /** The text exposition of every metric, after the collectors ran (each bounded by COLLECT_TIMEOUT_MS). */
  async render(onCollectorError?: (err: unknown) => void): Promise<string> {
    await Promise.all(
      [...this.collectors].map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            c(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`metrics collector took longer than ${COLLECT_TIMEOUT_MS} ms`)), COLLECT_TIMEOUT_MS);
            }),
          ]);
        } catch (err: unknown) {
          onCollectorError?.(err);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }
}

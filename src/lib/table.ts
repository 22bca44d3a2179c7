/**
 * Tabular output: aligned text tables, CSV (RFC 4180) and JSON, from a list of columns
 * (header + cell function) and rows. Used by the CLI and by the report definitions
 * (src/reports/report.ts) whose columns the CLI prints. Pure; throws nothing.
 *
 * Tables replace control characters with `?` so a hostile value (a tag, a display name)
 * cannot break the layout or drive the terminal. CSV cells that a spreadsheet would run as a
 * formula (leading `=`, `+`, `-`, `@`, TAB, CR) are prefixed with `'` — report exports are
 * opened in spreadsheets, and the values (tags, display names, addresses) come from the
 * senders' messages.
 */

export type Cell = string | number | boolean | null | undefined | Date | readonly string[];

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => Cell;
}

export function cellText(c: Cell): string {
  if (c === null || c === undefined) return '';
  if (c instanceof Date) return c.toISOString();
  if (Array.isArray(c)) return (c as readonly string[]).join(',');
  return String(c);
}

/** Replace control characters so a hostile value cannot break the table or the terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((r) => columns.map((c) => printable(cellText(c.value(r)))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

export function csvCell(s: string): string {
  let v = s;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  if (/[",\r\n']/.test(v)) v = `"${v.replace(/"/g, '""')}"`;
  return v;
}

export function formatCsv<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const out = [columns.map((c) => csvCell(c.header)).join(',')];
  for (const r of rows) out.push(columns.map((c) => csvCell(cellText(c.value(r)))).join(','));
  return out.join('\r\n') + '\r\n';
}

export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/**
 * Translate core's HeaderEdits (name-based: delete all / set first) into milter header edits
 * (index-based: SMFIR_CHGHEADER with a 1-based index among fields of the same name, an empty
 * value deleting; SMFIR_ADDHEADER appending).
 *
 * `fields` are the header fields Postfix sent (its own first Received: excluded, which is
 * what SMFIR_CHGHEADER indexes count too). Deletes go from the highest index down so an
 * MTA that renumbers after a delete still hits the right fields. Values are folded the way
 * the streaming transform folds them (formatHeaderField), so both adapters write the same
 * bytes. The smallest set of edits: a `set` whose field already reads exactly so (same name
 * spelling, same value bytes — known only under HDR_LEADSPC, where Postfix sends values
 * verbatim) sends no change for it, only the deletes of the others.
 *
 * Pure. Throws InvariantError for an edit value with CR/LF/NUL (formatHeaderField).
 */
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { formatHeaderField } from '../mail/header-block.js';
import type { MilterEdit } from './handler.js';

/** The folded value of `Name: value` as formatHeaderField writes it, without name and final CRLF. */
export function foldedValue(name: string, value: string): string {
  const line = formatHeaderField(name, value).toString('utf8');
  return line.slice(name.length + 2, line.length - 2);
}

/** A field of the simulated header block: its lower-cased name and, when known, its exact `Name:value` text. */
interface LiveField {
  readonly lname: string;
  line: string | null;
}

/**
 * `fields` as Postfix sent them; `leadingSpace`: HDR_LEADSPC was negotiated, so their values
 * are verbatim (default true, as with Postfix 2.6 and later).
 */
export function milterHeaderEdits(fields: readonly HeaderField[], edits: readonly HeaderEdit[], leadingSpace = true): MilterEdit[] {
  // Simulate the field list so later edits see the effect of earlier ones.
  const live: LiveField[] = fields.map((f) => ({ lname: f.name.toLowerCase(), line: leadingSpace ? `${f.name}:${f.value}` : null }));
  const out: MilterEdit[] = [];
  const indexesOf = (lname: string): number[] => {
    const idx: number[] = [];
    let n = 0;
    for (const field of live) {
      if (field.lname === lname) idx.push(++n);
    }
    return idx;
  };
  const removeAll = (lname: string, keepFirst: boolean): void => {
    let seen = 0;
    for (let i = 0; i < live.length; i++) {
      if (live[i]?.lname === lname && (!keepFirst || seen++ > 0)) {
        live.splice(i, 1);
        i--;
      }
    }
  };
  for (const e of edits) {
    const lname = e.name.toLowerCase();
    const idx = indexesOf(lname);
    if (e.op === 'delete') {
      for (const i of idx.reverse()) out.push({ kind: 'chgheader', name: e.name, index: i, value: '' });
      removeAll(lname, false);
      continue;
    }
    const value = foldedValue(e.name, e.value);
    const line = `${e.name}: ${value}`;
    if (idx.length === 0) {
      out.push({ kind: 'addheader', name: e.name, value });
      live.push({ lname, line });
      continue;
    }
    for (const i of idx.slice(1).reverse()) out.push({ kind: 'chgheader', name: e.name, index: i, value: '' });
    const first = live.find((f) => f.lname === lname);
    // Unchanged when it already reads exactly so: Postfix would rewrite the same bytes.
    if (first?.line !== line) out.push({ kind: 'chgheader', name: e.name, index: 1, value });
    if (first) first.line = line;
    removeAll(lname, true);
  }
  return out;
}

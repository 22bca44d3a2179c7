/**
 * Translate core's HeaderEdits (name-based: delete all / set first) into milter header edits
 * (index-based: SMFIR_CHGHEADER with a 1-based index among fields of the same name, an empty
 * value deleting; SMFIR_ADDHEADER appending).
 *
 * `fields` are the header fields Postfix sent (its own first Received: excluded, which is
 * what SMFIR_CHGHEADER indexes count too). Deletes go from the highest index down so an
 * MTA that renumbers after a delete still hits the right fields. Values are folded the way
 * the streaming transform folds them (formatHeaderField), so both adapters write the same
 * bytes.
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

export function milterHeaderEdits(fields: readonly HeaderField[], edits: readonly HeaderEdit[]): MilterEdit[] {
  // Simulate the field list so later edits see the effect of earlier ones.
  const live: string[] = fields.map((f) => f.name.toLowerCase());
  const out: MilterEdit[] = [];
  const indexesOf = (lname: string): number[] => {
    const idx: number[] = [];
    let n = 0;
    for (const name of live) {
      if (name === lname) idx.push(++n);
    }
    return idx;
  };
  const removeAll = (lname: string, keepFirst: boolean): void => {
    let seen = 0;
    for (let i = 0; i < live.length; i++) {
      if (live[i] === lname && (!keepFirst || seen++ > 0)) {
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
    if (idx.length === 0) {
      out.push({ kind: 'addheader', name: e.name, value });
      live.push(lname);
      continue;
    }
    for (const i of idx.slice(1).reverse()) out.push({ kind: 'chgheader', name: e.name, index: i, value: '' });
    out.push({ kind: 'chgheader', name: e.name, index: 1, value });
    removeAll(lname, true);
  }
  return out;
}

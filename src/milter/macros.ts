/**
 * Milter macro values: what the MTA sent in its D packets, kept per stage, and the read-only
 * view a handler gets. Pure data.
 *
 * Protocol: Postfix sends a D packet before every event (docs/protocols.md §1.4), each
 * replacing the earlier list of that stage. Macro names come as configured, i.e. `i` but
 * `{auth_authen}`; both spellings name the same macro, so keys are stored without braces and
 * look-ups accept either form (`get('auth_authen')` === `get('{auth_authen}')`). Message
 * stages (MAIL to end-of-message) are forgotten when the message ends; in a view, later
 * stages win.
 *
 * Throws nothing.
 */

import { CONNECTION_MACRO_STAGES, MESSAGE_MACRO_STAGES } from './constants.js';

/** `{name}` -> `name`; anything else unchanged. */
export function normaliseMacroName(name: string): string {
  return name.length > 2 && name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name;
}

/** A read-only snapshot of the macros visible at one moment. */
export class MilterMacros {
  private readonly map: ReadonlyMap<string, string>;

  /** `entries` are [name, value] with names in either spelling; later entries win. */
  constructor(entries: Iterable<readonly [string, string]> = []) {
    const m = new Map<string, string>();
    for (const [k, v] of entries) m.set(normaliseMacroName(k), v);
    this.map = m;
  }

  /** Value of a macro (`x` or `{x}`), or undefined when the MTA did not send it. */
  get(name: string): string | undefined {
    return this.map.get(normaliseMacroName(name));
  }

  has(name: string): boolean {
    return this.map.has(normaliseMacroName(name));
  }

  get size(): number {
    return this.map.size;
  }

  /** [name without braces, value] pairs. */
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  /** Plain object (names without braces), e.g. for logging or tests. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.map);
  }
}

/** Order in which stage macros are merged into a view (later stages win). */
const VIEW_ORDER: readonly number[] = [...CONNECTION_MACRO_STAGES, ...MESSAGE_MACRO_STAGES];

/** The macros of one connection, by stage (the command letter a D packet names). */
export class MacroStages {
  private readonly stages = new Map<number, readonly (readonly [string, string])[]>();

  /** A D packet: its list replaces the stage's earlier one. */
  set(stage: number, macros: readonly (readonly [string, string])[]): void {
    this.stages.set(stage, macros);
  }

  /** The message ended: forget its stages, except `keep` (sent just now for the next event). */
  endMessage(keep?: number): void {
    for (const s of MESSAGE_MACRO_STAGES) if (s !== keep) this.stages.delete(s);
  }

  /** Everything visible now. */
  view(): MilterMacros {
    const entries: (readonly [string, string])[] = [];
    for (const stage of VIEW_ORDER) entries.push(...(this.stages.get(stage) ?? []));
    return new MilterMacros(entries);
  }
}

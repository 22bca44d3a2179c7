/**
 * Milter macro values, as the session hands them to a handler. Pure data.
 *
 * Protocol: Postfix sends macro names as configured, i.e. `i` but `{auth_authen}`; both
 * spellings name the same macro, so keys are stored without braces and look-ups accept
 * either form (`get('auth_authen')` === `get('{auth_authen}')`).
 *
 * Throws nothing.
 */

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

/**
 * Test helpers for quoted-printable output (RFC 2045 6.7), independent of the production code:
 * what is wrong with the lines of an encoded body, and a plain decoder for valid bodies.
 */

/**
 * The rule breaks of a quoted-printable body written by trxmail (latin1 text), as messages:
 * every line ends in CRLF (the last may have none) and holds at most 76 characters; only
 * printable ASCII, SP and TAB; `=` only as `=` + two upper-case hex digits or as the last
 * character of a line that has a line after it (a soft break); no SP or TAB at the end of a
 * line. Empty when the body is valid.
 */
export function qpLineProblems(body: string): string[] {
  const problems: string[] = [];
  const lines = body.split('\r\n');
  lines.forEach((line, n) => {
    const where = `line ${n + 1} ${JSON.stringify(line.slice(0, 90))}`;
    if (line.length > 76) problems.push(`${where}: ${line.length} characters`);
    if (/[\r\n]/.test(line)) problems.push(`${where}: bare CR or LF`);
    if (/[^\x20-\x7e\t]/.test(line)) problems.push(`${where}: a character that must be escaped`);
    if (/[ \t]$/.test(line)) problems.push(`${where}: SP or TAB at the end`);
    const soft = line.endsWith('=');
    const escapes = soft ? line.slice(0, -1) : line;
    if (/=(?![0-9A-F]{2})/.test(escapes)) problems.push(`${where}: "=" that is not an escape`);
    if (soft && (n === lines.length - 1 || (n === lines.length - 2 && lines[n + 1] === ''))) problems.push(`${where}: soft break at the end of the body`);
  });
  return problems;
}

/** Decodes a valid quoted-printable body (soft breaks out, escapes decoded), as latin1 text. */
export function qpDecodeValid(body: string): string {
  return body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Every bare CR and bare LF as CRLF (latin1 text). */
export function crlfText(s: string): string {
  return s.replace(/\r\n|\r|\n/g, '\r\n');
}

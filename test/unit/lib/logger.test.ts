import { describe, expect, it } from 'vitest';
import { errorForLog, escapeLogValue, MAX_LOG_ERROR_MESSAGE, MAX_LOG_STACK, MAX_LOG_VALUE } from '../../../src/lib/logger.js';

describe('escapeLogValue', () => {
  it('escapes control characters and truncates', () => {
    expect(escapeLogValue('a\r\nb\x00c\\')).toBe('a\\x0d\\x0ab\\x00c\\\\');
    expect(escapeLogValue('é€😀')).toBe('\\xe9\\u20ac\\u{1f600}');
    const long = escapeLogValue('x'.repeat(MAX_LOG_VALUE + 1));
    expect(long).toBe(`${'x'.repeat(MAX_LOG_VALUE)}...`);
    expect(escapeLogValue('x'.repeat(MAX_LOG_VALUE))).toBe('x'.repeat(MAX_LOG_VALUE));
  });

  it('escapes DEL, C1 controls and the Unicode line separators', () => {
    expect(escapeLogValue('\x7f\x85\u2028\u2029')).toBe('\\x7f\\x85\\u2028\\u2029');
  });
});

describe('errorForLog', () => {
  it('keeps name and code, escapes the message and cuts it at MAX_LOG_ERROR_MESSAGE', () => {
    const err = Object.assign(new Error(`bad\n${'m'.repeat(MAX_LOG_ERROR_MESSAGE)}`), { code: 'EBAD' });
    const logged = errorForLog(err, false);
    expect(logged).toEqual({ name: 'Error', code: 'EBAD', message: `bad\\x0a${'m'.repeat(MAX_LOG_ERROR_MESSAGE - 4)}...` });
  });

  it('adds the stack, cut at MAX_LOG_STACK', () => {
    const err = new Error('x');
    err.stack = 's'.repeat(MAX_LOG_STACK + 1);
    expect(errorForLog(err)['stack']).toBe(`${'s'.repeat(MAX_LOG_STACK)}...`);
  });

  it('logs a thrown non-Error as an escaped message', () => {
    expect(errorForLog('a\rb')).toEqual({ message: 'a\\x0db' });
  });
});

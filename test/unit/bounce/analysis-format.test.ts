/**
 * The `bounce parse` text (src/bounce/analysis-format.ts) for a bounce, a complaint and an
 * ignored message; untrusted control characters never reach the terminal.
 */
import { describe, expect, it } from 'vitest';
import { analyseMessage, type MessageAnalysis } from '../../../src/bounce/analysis/analyse.js';
import { formatAnalysis } from '../../../src/bounce/analysis/analysis-format.js';
import { BOUNCE_DOMAIN, FIXTURE_KEYS, bounceAddressFor, loadFixture } from './fixture-helpers.js';

const analyse = (name: string, envelopeRecipient?: string): MessageAnalysis =>
  analyseMessage(loadFixture(name), { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient });

describe('formatAnalysis', () => {
  it('prints a bounce with its addresses, recipients and notes', () => {
    const address = bounceAddressFor(2, '4jY0pK1sLqzJ9Aa');
    expect(formatAnalysis(analyse('sendmail-hard-and-soft.eml'))).toBe(
      [
        'kind:       bounce (dsn)',
        `sent to:    ${address}  space 2, send 4jY0pK1sLqzJ9Aa`,
        `ref:        ${address}  space 2, send 4jY0pK1sLqzJ9Aa`,
        'recipient:  gone@partner.example  hard (failed 5.1.1)',
        '            550 5.1.1 <gone@partner.example>... User unknown',
        '            remote MTA mx.partner.example',
        'recipient:  busy@partner.example  soft (delayed 4.4.1)',
        '            451 4.4.1 reply: read error from mx.partner.example.',
        '            remote MTA mx.partner.example',
        '',
      ].join('\n'),
    );
  });

  it('prints a complaint and the BCC copy / not verified forms', () => {
    const text = formatAnalysis(analyse('arf-yahoo-abuse.eml', `fbl@${BOUNCE_DOMAIN}`));
    expect(text).toContain(`sent to:    fbl@${BOUNCE_DOMAIN}  not verified: not-ours\n`);
    expect(text).toContain('complaint:  abuse by Yahoo!-Mail-Feedback/2.0, about reader42@yahoo.com\n');
    expect(text).toContain(`            original sender ${bounceAddressFor(1, '4jXQZB3dVKzJ9Ft')}\n`);
    expect(formatAnalysis(analyse('postfix-bcc-copy-headers-only.eml'))).toContain('send 4jXQZB3dVKzJ9Ft, BCC copy\n');
  });

  it('prints an ignored message with its notes', () => {
    expect(formatAnalysis(analyse('garbage.eml'))).toBe(['kind:       other', 'sent to:    (none)', 'ref:        (none)', 'notes:      no-bounce-address, not-a-bounce', ''].join('\n'));
  });

  it('shows control characters from the message as ?', () => {
    const a: MessageAnalysis = {
      kind: 'bounce',
      format: 'heuristic',
      bounceAddress: { address: 'x\u001b[2J@y', ok: false, reason: 'malformed' },
      ref: null,
      recipients: [{ recipient: 'a@b', originalRecipient: 'c\u0007@b', action: 'failed', status: null, kind: 'soft', diagnostic: 'bad\u009bthing', remoteMta: null, reason: 'other', reasonRule: 'none' }],
      complaint: null,
      notes: [],
    };
    const text = formatAnalysis(a);
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(text).toContain('x?[2J@y  not verified: malformed');
    expect(text).toContain('original recipient c?@b');
    expect(text).toContain('bad?thing');
  });
});

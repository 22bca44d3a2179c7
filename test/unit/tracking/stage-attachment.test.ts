import { describe, expect, it } from 'vitest';
import { createTrackingStage } from '../../../src/tracking/tracking-stage.js';
import { rewriteMessage } from '../../../src/transform/message-transform.js';

const attachment = [
  '--b1',
  'Content-Type: text/html; charset=utf-8; name="invoice.html"',
  'Content-Disposition: attachment; filename="invoice.html"',
  'Content-Transfer-Encoding: 7bit',
  '',
  '<html><body><a href="https://shop.example/pay">Pay</a></body></html>',
].join('\r\n');

const message = Buffer.from(
  [
    'From: a@shop.example',
    'To: b@example.org',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Your invoice is attached.',
    attachment,
    '--b1--',
    '',
  ].join('\r\n'),
);

describe('tracking stage and attached HTML files', () => {
  it('leaves an attached HTML file alone: no pixel, no tracked link, bytes unchanged', async () => {
    const t = createTrackingStage({ pixelUrl: 'https://t.example/o/x', clickUrl: () => 'https://t.example/c/y' });
    const out = await rewriteMessage(message, { onHeaders: () => [], bodyStages: [t.stage] });
    expect(t.result()).toMatchObject({ htmlParts: 0, tracked: 0, pixelInserted: false });
    expect(out.toString()).toContain(attachment);
    expect(out.toString()).not.toContain('t.example');
  });
});

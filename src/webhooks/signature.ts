/**
 * Webhook request signing (pure). Every POST carries
 *
 *   X-Trxmail-Timestamp: <unix seconds>
 *   X-Trxmail-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 * where body is the exact bytes of the request body. The timestamp is inside the MAC, so a
 * receiver that refuses timestamps older than a few minutes (WEBHOOK_SIGNATURE_TOLERANCE_S)
 * refuses replays; `id` in the body lets it drop the duplicates a retry may bring.
 * `v1=` names the scheme so a later one can be added beside it.
 *
 * Throws nothing: verifyWebhookSignature answers with a reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'X-Trxmail-Timestamp';
export const SIGNATURE_HEADER = 'X-Trxmail-Signature';
/** How far (seconds) a receiver should accept a timestamp from its own clock, either way. */
export const WEBHOOK_SIGNATURE_TOLERANCE_S = 300;

/** `v1=<hex>` for this timestamp and body. */
export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `v1=${mac.digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver does (documented in the README): parse the timestamp, refuse it when it is
 * more than `toleranceS` from `nowS`, then compare the MAC in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  body: string | Buffer,
  nowS: number,
  toleranceS: number = WEBHOOK_SIGNATURE_TOLERANCE_S,
): SignatureCheck {
  if (timestampHeader === undefined || signatureHeader === undefined || !/^\d{1,12}$/.test(timestampHeader)) {
    return { ok: false, reason: 'malformed' };
  }
  const ts = Number(timestampHeader);
  if (Math.abs(nowS - ts) > toleranceS) return { ok: false, reason: 'stale' };
  const want = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(signatureHeader);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'mismatch' };
  return { ok: true };
}

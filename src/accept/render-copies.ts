/**
 * The two renderings of an accepted message when tracking applies (docs/architecture.md: "The
 * BCC recipient gets the message rendered exactly as for the To recipient but without any
 * tracking"):
 *
 *  - the To copy: the body with the open pixel and/or tracked links (an adapter that edits the
 *    message in place, the milter, replaces the body with it), plus the change the rewrite
 *    made to the top-level header block (reported by the tracking stage as HeaderEdits, e.g.
 *    Content-Transfer-Encoding of a single-part HTML message);
 *  - the BCC copy: the whole message with the verdict's header edits, the To copy's header
 *    change and the caller's BCC-only edits, its body passed through the same rewrite stage
 *    with tracking off — so both copies are encoded alike and differ only by tracking —
 *    handed to Postfix separately by the caller.
 *
 * Both stream through the transform into Spools (memory up to SPOOL_MEMORY_BYTES, then a
 * temporary file), so memory stays bounded whatever the message size. When the rewrite
 * tracked nothing (no HTML part, unknown charset, part over the cap) there is no To body and
 * no BCC copy: the message stays one transaction — unless `bccCopyEvenUntracked` (the To
 * copy gets headers of its own, the one-click unsubscribe URL): then the To body is left as
 * received (toBody null) and the BCC copy is still rendered.
 *
 * Throws what the transform throws (RejectError for EMAXLEN, TransientError for spool I/O);
 * spools are disposed on error.
 */
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { pumpThrough } from '../lib/pump.js';
import type { Spool } from '../lib/spool.js';
import { createTrackingStage, type TrackingStageOptions } from '../tracking/tracking-stage.js';
import { createMessageTransform } from '../transform/message-transform.js';

export interface RenderCopiesInput {
  /** Header fields as received; values keep their leading whitespace when `leadingSpace`. */
  readonly headers: readonly HeaderField[];
  readonly leadingSpace: boolean;
  /** The original body (after the header/body blank line), ended. */
  readonly body: Spool;
  /** The verdict's header edits (applied to the BCC copy; the caller applies them to the To copy). */
  readonly headerEdits: readonly HeaderEdit[];
  /** Tracking for the To recipient. */
  readonly tracking: Pick<TrackingStageOptions, 'pixelUrl' | 'clickUrl'>;
  /** Whether a separate untracked BCC copy is wanted. */
  readonly wantBccCopy: boolean;
  /**
   * Render the BCC copy (when wanted) even when the To copy's rewrite tracked nothing: the To
   * copy carries something the BCC recipient must not get (its one-click unsubscribe URL).
   */
  readonly bccCopyEvenUntracked?: boolean;
  /** Header edits for the BCC copy only, applied last (e.g. its own X-Trxmail-Ref). */
  readonly bccHeaderEdits: readonly HeaderEdit[];
  /** Where rendered copies go. */
  readonly newSpool: () => Spool;
  readonly logger?: TrackingStageOptions['logger'];
}

export interface RenderedCopies {
  /** The To copy's new body, or null when tracking changed nothing (keep the received body). */
  readonly toBody: Spool | null;
  /** Top-level header changes the rewrite made (to apply to the To copy too). */
  readonly toHeaderEdits: readonly HeaderEdit[];
  /** The untracked BCC copy (whole message), or null. */
  readonly bccMessage: Spool | null;
  readonly linksRewritten: number;
  readonly pixelInserted: boolean;
  /** Removes every spool of the rendering; safe to call more than once. */
  dispose(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const NO_COPIES: RenderedCopies = { toBody: null, toHeaderEdits: [], bccMessage: null, linksRewritten: 0, pixelInserted: false, dispose: async () => {} };

async function* original(input: RenderCopiesInput): AsyncGenerator<Buffer> {
  yield Buffer.from(input.headers.map((f) => `${f.name}:${input.leadingSpace ? '' : ' '}${f.value}\r\n`).join(''), 'utf8');
  yield CRLF;
  yield* input.body.read();
}

/** A sink that writes everything after a message's header block (and its blank line) to `body`. */
function bodyOnly(body: Spool): (chunk: Buffer) => Promise<void> | void {
  let head: Buffer = Buffer.alloc(0);
  let inBody = false;
  return (chunk) => {
    if (inBody) return body.write(chunk);
    // Keep only the last 3 bytes of the head: enough to find a CRLFCRLF across chunks.
    const all = Buffer.concat([head, chunk]);
    const end = all.indexOf('\r\n\r\n');
    if (end === -1) {
      head = all.subarray(Math.max(0, all.length - 3));
      return undefined;
    }
    inBody = true;
    head = Buffer.alloc(0);
    return body.write(all.subarray(end + 4));
  };
}

export async function renderCopies(input: RenderCopiesInput): Promise<RenderedCopies> {
  const spools: Spool[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(spools.splice(0).map((s) => s.dispose()));
  };
  const logger = input.logger ? { logger: input.logger } : {};
  try {
    // The To copy: no header edits here (the caller edits its own copy), tracking on. Without
    // any tracking asked for there is no To rendering at all.
    let toBody: Spool | null = null;
    let toHeaderEdits: readonly HeaderEdit[] = [];
    let linksRewritten = 0;
    let pixelInserted = false;
    if (input.tracking.pixelUrl !== null || input.tracking.clickUrl !== null) {
      const toStage = createTrackingStage(Object.assign({}, input.tracking, logger));
      const spool = input.newSpool();
      spools.push(spool);
      await pumpThrough(original(input), createMessageTransform({ onHeaders: () => [], bodyStages: [toStage.stage] }), bodyOnly(spool));
      await spool.end();
      const result = toStage.result();
      if (result.tracked > 0) {
        toBody = spool;
        toHeaderEdits = result.rootHeaderEdits;
        linksRewritten = result.linksRewritten;
        pixelInserted = result.pixelInserted;
      } else {
        spools.splice(spools.indexOf(spool), 1);
        await spool.dispose();
      }
    }
    if (toBody === null && !input.bccCopyEvenUntracked) {
      await dispose();
      return NO_COPIES;
    }

    let bccMessage: Spool | null = null;
    if (input.wantBccCopy) {
      // When the To body is rewritten, the BCC body goes through the same stage untracked (so
      // both are encoded alike); when the To body is left as received, so is the BCC body.
      const bccStages = toBody === null ? [] : [createTrackingStage({ pixelUrl: null, clickUrl: null, ...logger }).stage];
      bccMessage = input.newSpool();
      spools.push(bccMessage);
      const bcc = bccMessage;
      await pumpThrough(
        original(input),
        createMessageTransform({
          onHeaders: () => [...input.headerEdits, ...toHeaderEdits, ...input.bccHeaderEdits],
          bodyStages: bccStages,
        }),
        (chunk) => bcc.write(chunk),
      );
      await bccMessage.end();
    }
    return { toBody, toHeaderEdits, bccMessage, linksRewritten, pixelInserted, dispose };
  } catch (err: unknown) {
    await dispose();
    throw err;
  }
}

/**
 * The two renderings of an accepted message when tracking applies (architecture.md: "The BCC
 * recipient gets the message rendered exactly as for the To recipient but without any
 * tracking"):
 *
 *  - the To copy: the body with the open pixel and/or tracked links (the milter replaces the
 *    body of the message Postfix holds with it, SMFIR_REPLBODY), plus the changes the
 *    rewrite made to the top-level header block (e.g. Content-Transfer-Encoding of a
 *    single-part HTML message), as HeaderEdits;
 *  - the BCC copy: the whole message with the same header edits as the To copy, its body
 *    passed through the same rewrite stage with tracking off — so both copies are encoded
 *    alike and differ only by tracking — handed to Postfix separately by the caller.
 *
 * Both stream through the transform and into Spools (memory up to SPOOL_MEMORY_BYTES, then a
 * temporary file), so memory stays bounded whatever the message size. When the rewrite
 * tracked nothing (no HTML part, unknown charset, part over the cap) there is no To body and
 * no BCC copy: the message stays one transaction.
 *
 * Throws what the transform throws (RejectError for EMAXLEN, TransientError for spool I/O);
 * spools are disposed on error.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Acceptance, HeaderEdit, HeaderField } from '../core/types.js';
import { Spool } from '../lib/spool.js';
import { createTrackingStage, type TrackingStageOptions } from '../tracking/tracking-stage.js';
import { parseHeaderBlock } from '../mail/header-block.js';
import { createMessageTransform } from '../transform/message-transform.js';

export interface TrackedCopiesInput {
  /** Header fields as Postfix sent them; values keep their leading whitespace when `leadingSpace`. */
  readonly headers: readonly HeaderField[];
  readonly leadingSpace: boolean;
  /** The original body (after the header/body blank line). */
  readonly body: Spool;
  readonly verdict: Acceptance;
  /** Tracking for the To recipient. */
  readonly tracking: Pick<TrackingStageOptions, 'pixelUrl' | 'clickUrl'>;
  /** Whether a separate untracked BCC copy is wanted (a BCC recipient that is not suppressed). */
  readonly wantBccCopy: boolean;
  /** Header edits for the BCC copy only, applied after the verdict's (e.g. its own X-Trxmail-Ref). */
  readonly bccHeaderEdits?: readonly HeaderEdit[];
  readonly spoolDir: string;
  readonly logger?: TrackingStageOptions['logger'];
}

export interface TrackedCopies {
  /** The To copy's new body, or null when tracking changed nothing. */
  readonly toBody: Spool | null;
  /** Top-level header changes the rewrite made (to apply to the To copy too). */
  readonly toHeaderEdits: readonly HeaderEdit[];
  /** The untracked BCC copy (whole message), or null. */
  readonly bccMessage: Spool | null;
  readonly linksRewritten: number;
  readonly pixelInserted: boolean;
  dispose(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

function headerBytes(fields: readonly HeaderField[], leadingSpace: boolean): Buffer {
  return Buffer.from(fields.map((f) => `${f.name}:${leadingSpace ? '' : ' '}${f.value}\r\n`).join(''), 'utf8');
}

function original(input: TrackedCopiesInput): Readable {
  const head = headerBytes(input.headers, input.leadingSpace);
  return Readable.from(
    (async function* () {
      yield head;
      yield CRLF;
      yield* input.body.read();
    })(),
  );
}

/** Writes a message's header block to `onHead` and everything after the blank line to `body`. */
class HeadBodySplitter extends Writable {
  private head: Buffer[] = [];
  private headLength = 0;
  private inBody = false;

  constructor(
    private readonly body: Spool,
    private readonly onHead: (head: Buffer) => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.inBody) {
      this.body.write(chunk).then(() => cb(), cb);
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    const all = Buffer.concat(this.head, this.headLength);
    const end = all.indexOf('\r\n\r\n');
    if (end === -1) {
      this.head = [all];
      cb();
      return;
    }
    this.inBody = true;
    this.onHead(all.subarray(0, end + 2));
    this.head = [];
    this.body.write(all.subarray(end + 4)).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.inBody) {
      // A message that ends inside its header: no body.
      this.onHead(Buffer.concat(this.head));
      this.head = [];
    }
    cb();
  }
}

/** Fields whose value changed (or appeared) between two header blocks, as `set` edits. */
function headerChanges(before: readonly HeaderField[], after: readonly HeaderField[]): HeaderEdit[] {
  const first = (fields: readonly HeaderField[]): Map<string, HeaderField> => {
    const m = new Map<string, HeaderField>();
    for (const f of fields) if (!m.has(f.name.toLowerCase())) m.set(f.name.toLowerCase(), f);
    return m;
  };
  const a = first(before);
  const edits: HeaderEdit[] = [];
  for (const [key, f] of first(after)) {
    const old = a.get(key);
    const norm = (v: string): string => v.replace(/\r?\n(?=[ \t])/g, '').trim();
    if (!old || norm(old.value) !== norm(f.value)) edits.push({ op: 'set', name: f.name, value: norm(f.value) });
  }
  return edits;
}

export async function renderTrackedCopies(input: TrackedCopiesInput): Promise<TrackedCopies> {
  const spools: Spool[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(spools.map((s) => s.dispose()));
  };
  try {
    // The To copy: no header edits here (the milter edits Postfix's copy), tracking on.
    const toStage = createTrackingStage({ ...input.tracking, ...(input.logger ? { logger: input.logger } : {}) });
    const toBody = new Spool(input.spoolDir);
    spools.push(toBody);
    let toHead: Buffer = Buffer.alloc(0);
    await pipeline(
      original(input),
      createMessageTransform({ onHeaders: () => [], bodyStages: [toStage.stage] }),
      new HeadBodySplitter(toBody, (h) => (toHead = h)),
    );
    await toBody.end();
    const result = toStage.result();
    if (result.tracked === 0) {
      await dispose();
      return { toBody: null, toHeaderEdits: [], bccMessage: null, linksRewritten: 0, pixelInserted: false, dispose: async () => {} };
    }
    const inputFields = parseHeaderBlock(Buffer.concat([headerBytes(input.headers, input.leadingSpace), CRLF])).fields;
    const toHeaderEdits = headerChanges(inputFields, parseHeaderBlock(Buffer.concat([toHead, CRLF])).fields);

    let bccMessage: Spool | null = null;
    if (input.wantBccCopy) {
      const bccStage = createTrackingStage({ pixelUrl: null, clickUrl: null, ...(input.logger ? { logger: input.logger } : {}) });
      bccMessage = new Spool(input.spoolDir);
      spools.push(bccMessage);
      const sink = bccMessage;
      await pipeline(
        original(input),
        createMessageTransform({
          onHeaders: () => [...input.verdict.headerEdits, ...toHeaderEdits, ...(input.bccHeaderEdits ?? [])],
          bodyStages: [bccStage.stage],
        }),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            sink.write(chunk).then(() => cb(), cb);
          },
        }),
      );
      await bccMessage.end();
    }
    return {
      toBody,
      toHeaderEdits,
      bccMessage,
      linksRewritten: result.linksRewritten,
      pixelInserted: result.pixelInserted,
      dispose,
    };
  } catch (err: unknown) {
    await dispose();
    throw err;
  }
}

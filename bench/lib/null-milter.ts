/**
 * A milter that decides nothing, on trxmail's own milter stack (MilterServer, session, codec):
 * it answers MAIL and end-of-message with `continue` and makes no edits. It asks Postfix for
 * the events of the rules handler but the body: C not sent (like the rules handler), MAIL
 * answered, RCPT and headers sent without waiting for replies, and the body not sent at all.
 *
 * bench/postfix --null-milter measures a Postfix with this milter, to split the cost of the
 * trxmail milter into "any milter conversation" (Postfix smtpd/cleanup + our codec/session)
 * and "the rules" (store, core, edits).
 */
import type { MilterHandlerFactory } from '../../src/milter/handler.js';
import { MilterReplies } from '../../src/milter/handler.js';
import { MilterServer } from '../../src/milter/server.js';

export const nullMilterHandler: MilterHandlerFactory = () => ({
  needsConnectInfo: false,
  mail: () => MilterReplies.continue,
  eom: () => ({ edits: [], reply: MilterReplies.continue }),
});

/** Listens on `inet:127.0.0.1:port`; close() it when done. */
export async function startNullMilter(port: number): Promise<MilterServer> {
  const server = new MilterServer({ handler: nullMilterHandler });
  await server.listen(`inet:127.0.0.1:${port}`);
  return server;
}

/** The trxmail endpoints the postfix-check tests check a configuration against. */
import type { PostfixCheckTarget } from '../../src/postfix/check.js';

export const TARGET: PostfixCheckTarget = {
  milter: 'inet:127.0.0.1:8891',
  policy: 'inet:127.0.0.1:8892',
  auth: 'inet:127.0.0.1:8893',
  bounceDomain: 'bounces.example',
  reinject: '127.0.0.1:10026',
};

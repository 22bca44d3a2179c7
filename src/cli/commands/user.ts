/**
 * `trxmail user add|passwd|remove|list`: customer users, the SMTP (and reports API) logins.
 * The password comes from standard input or a hidden prompt (../password-input.ts), never
 * from the command line, and is stored as a salted scrypt hash.
 *
 * Throws UsageError: not an e-mail address, an unknown space or user, a user that exists
 * already, a password too short or not repeated the same.
 */
import { normaliseDomain } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import { hashPassword } from '../../lib/password.js';
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { readNewPassword } from '../password-input.js';

function loginArg(email: string): string {
  const e = email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(e) || normaliseDomain(e.slice(e.lastIndexOf('@') + 1)) === null) {
    throw new UsageError(`not an e-mail address: "${email}"`);
  }
  return e;
}

export function registerUserCommands(ctx: CliContext): void {
  const user = ctx.program.command('user').description('customer users (SMTP logins)');
  user
    .command('add <email>')
    .description('add a user; the password is read from standard input or prompted for')
    .requiredOption('-s, --space <name>', 'the space the user belongs to')
    .action(async (email: string, o: { space: string }) => {
      const login = loginArg(email);
      const s = await ctx.space(o.space);
      const store = await ctx.getStore();
      if (await store.getUserByEmail(login)) throw new UsageError(`user ${login} exists already`);
      const pw = await readNewPassword(ctx.io);
      await store.createUser({ spaceId: s.id, email: login, passwordHash: await hashPassword(pw) });
      ctx.out(`user ${login} added to ${s.name}\n`);
    });
  user
    .command('passwd <email>')
    .description("change a user's password (standard input or prompt)")
    .action(async (email: string) => {
      const login = loginArg(email);
      const store = await ctx.getStore();
      if (!(await store.getUserByEmail(login))) throw new UsageError(`no user ${login}`);
      const pw = await readNewPassword(ctx.io);
      await store.setPasswordHash(login, await hashPassword(pw));
      ctx.out(`password of ${login} changed\n`);
    });
  user
    .command('remove <email>')
    .description('remove a user')
    .action(async (email: string) => {
      const login = loginArg(email);
      if (!(await (await ctx.getStore()).removeUser(login))) throw new UsageError(`no user ${login}`);
      ctx.out(`user ${login} removed\n`);
    });
  withFormat(user.command('list').description('list users').option('-s, --space <name>', 'only this space')).action(
    async (o: { space?: string; json?: boolean; csv?: boolean }) => {
      const store = await ctx.getStore();
      const only = o.space !== undefined ? await ctx.space(o.space) : null;
      const users = await store.listUsers(only?.id);
      const names = new Map((await store.listSpaces()).map((s) => [s.id, s.name]));
      const cols: Column<(typeof users)[number]>[] = [
        { header: 'EMAIL', value: (u) => u.email },
        { header: 'SPACE', value: (u) => names.get(u.spaceId) ?? String(u.spaceId) },
        { header: 'CREATED', value: (u) => u.createdAt },
      ];
      ctx.out(render(outputFormat(o), cols, users, (u) => ({ email: u.email, space: names.get(u.spaceId), createdAt: u.createdAt })));
    },
  );
}

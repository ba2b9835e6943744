/**
 * The bot's command core: one object every chat adapter (web channel, Discord,
 * Slack) sits on. It imports no platform library. Adapters hand it a
 * platform-neutral interaction (a command with options, a button's custom id, a
 * form submit) and render the `Reply` it returns; refusals come back as private
 * (ephemeral) replies, never as exceptions. State lives in the database: button
 * ids name rows, so a fresh `BotCore` after a restart answers the same clicks.
 *
 * @example
 *   const core = new BotCore({ bank, queue: new JobQueue(bank.db), events });
 *   const reply = await core.handle({ type: 'command', command: 'zip', options: { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing' },
 *     user: { platform: 'web', id: 'ann', name: 'Ann' }, communityId: 'web:local', channelId: 'main' });
 *   // while reply.follow is set, the adapter edits the message with:
 *   if (reply.kind === 'message' && reply.follow) await edit(await core.renderStatus(reply.follow.renderId));
 *   // Slack text:
 *   await core.handleText(ctx, '/zip', 'subject:corgi style:watercolor prompt:"a corgi surfing" count:2');
 */
import { randomBytes } from 'node:crypto';
import { describeError, isZipbankError } from '../../errors/index.ts';
import type { Render } from '../../bank/schema.ts';
import { completeOption } from './autocomplete.ts';
import { bankCommand } from './bank-commands.ts';
import { handleButton, handleRemixSubmit } from './buttons.ts';
import { COMMANDS, findCommand, findTop } from './commands.ts';
import { coreDeps, renderStatusReply, textReply, type BotCoreOptions, type CoreDeps } from './context.ts';
import { decodeCustomId } from './custom-ids.ts';
import { historyReply } from './lineage.ts';
import { CoreRefusal, isRefusal, say } from './messages.ts';
import { stringOf, validateOptions } from './options.ts';
import { parseCommandText } from './parse.ts';
import type { AutocompleteRequest, Choice, CoreInteraction, InteractionContext, MessageReply, Reply } from './types.ts';
import { zipCommand, zipRequestOf } from './zip.ts';

export class BotCore {
  private readonly d: CoreDeps;

  constructor(options: BotCoreOptions) {
    this.d = coreDeps(options);
  }

  /** Answer one interaction. Never throws: refusals and failures are ephemeral replies. */
  async handle(ix: CoreInteraction): Promise<Reply> {
    try {
      return await this.dispatch(ix);
    } catch (e) {
      return this.failure(e, ix);
    }
  }

  /** A slash command typed as text (Slack, the web channel): parsed, then handled like `handle`. */
  async handleText(ctx: InteractionContext, command: string, text: string): Promise<Reply> {
    try {
      const parsed = parseCommandText(command, text);
      return await this.dispatch({ ...ctx, type: 'command', command: parsed.command, options: parsed.options });
    } catch (e) {
      return this.failure(e, { ...ctx, type: 'command', command, options: {} });
    }
  }

  /** Choices for the option being typed (at most 25); empty on any failure. */
  async autocomplete(req: AutocompleteRequest): Promise<Choice[]> {
    try {
      return await completeOption(this.d, req);
    } catch (e) {
      this.d.log('warn', `autocomplete ${req.command} ${req.option}: ${describeError(e)}`);
      return [];
    }
  }

  /** The message of a render as it stands now (what the adapter edits in place). */
  renderStatus(renderId: string): Promise<MessageReply> {
    return renderStatusReply(this.d, renderId).catch((e: unknown) => this.failure(e));
  }

  /** Remember which chat message shows a render (for `activeRenders` after a restart). */
  bindMessage(renderId: string, where: { channelId?: string | undefined; messageId: string }): Promise<void> {
    return this.d.bank.renders.bindMessage(renderId, where);
  }

  /** Renders still queued or running that a message shows: what a restarted adapter follows again. */
  activeRenders(platform?: string): Promise<Render[]> {
    return this.d.bank.renders.active(platform ? { platform } : {});
  }

  private async dispatch(ix: CoreInteraction): Promise<Reply> {
    switch (ix.type) {
      case 'command': {
        const cmd = findCommand(ix.command);
        if (!cmd) {
          const top = findTop(ix.command);
          if (top?.subcommands) throw new CoreRefusal('command.subcommand-missing', { command: top.name, subcommands: top.subcommands.map((c) => c.name) });
          throw new CoreRefusal('command.unknown', { command: ix.command, known: COMMANDS.map((c) => c.name) });
        }
        const v = validateOptions(cmd, ix.options);
        if (cmd.path === 'zip') return zipCommand(this.d, ix, zipRequestOf(v));
        if (cmd.path === 'remix history') return historyReply(this.d, stringOf(v, 'render')!);
        return bankCommand(this.d, ix, cmd.path, v);
      }
      case 'button': {
        const a = decodeCustomId(ix.customId);
        if (!a || a.action === 'remix-submit') throw new CoreRefusal('button.unknown');
        return handleButton(this.d, ix, a);
      }
      case 'form': {
        const a = decodeCustomId(ix.customId);
        if (!a || a.action !== 'remix-submit') throw new CoreRefusal('button.unknown');
        return handleRemixSubmit(this.d, ix, a.renderId, ix.fields);
      }
    }
  }

  private failure(e: unknown, ix?: CoreInteraction): MessageReply {
    const reply = (text: string) => textReply(text, { ephemeral: true });
    if (isRefusal(e) || isZipbankError(e)) return reply(e.message);
    const what = ix ? (ix.type === 'command' ? `/${ix.command}` : `${ix.type} ${ix.customId}`) : 'render status';
    const ref = randomBytes(4).toString('hex');
    this.d.log('error', `[${ref}] ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return reply(say('error.internal', { ref }));
  }
}

export { COMMANDS, LEAVES, findCommand, type OptionDef, type LeafCommand, type TopCommand, type OptionType } from './commands.ts';
export { parseCommandLine, parseCommandText, type ParsedCommand } from './parse.ts';
export { validateOptions, type OptionValues } from './options.ts';
export { encodeCustomId, decodeCustomId, type ButtonAction } from './custom-ids.ts';
export { renderReply, renderState, type RenderView, type RenderState } from './progress.ts';
export { MESSAGES, say, CoreRefusal, isRefusal, type MessageCode } from './messages.ts';
export { DEFAULT_LIMITS, type Limits } from './policy.ts';
export { RENDER_DEFAULTS, type RenderDefaults } from './derive.ts';
export { diffRenders, type RenderChange } from './lineage.ts';
export type { BotCoreOptions } from './context.ts';
export type * from './types.ts';
export { RenderFollower, type FollowerOptions, type Followed } from './follow.ts';

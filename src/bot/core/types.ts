/**
 * The platform-neutral shapes the command core speaks: what an adapter hands in (a
 * user's command, button click or form submit) and what it gets back (a `Reply`:
 * text, cards, images and files named by storage key or given as bytes, buttons,
 * a form, and whether the reply is private). Adapters translate these to Discord
 * embeds/components/modals, Slack Block Kit, or the web channel's JSON.
 *
 * @example
 *   const ix: CoreInteraction = {
 *     type: 'command', command: 'zip', options: { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing' },
 *     user: { platform: 'discord', id: '42', name: 'Ann' }, communityId: 'discord:1234', channelId: '99',
 *   };
 *   const reply = await core.handle(ix);
 *   if (reply.kind === 'message' && reply.follow) watch(reply.follow.renderId);
 */

export interface CoreUser {
  /** `discord`, `slack`, `web`. */
  platform: string;
  id: string;
  name?: string | undefined;
  /** Platform role ids in this community (matched against the community's moderator roles). */
  roleIds?: string[] | undefined;
  /** The platform says this user moderates this community (e.g. Discord's Manage Messages). */
  isModerator?: boolean | undefined;
}

/** A file a user attached to a command (the adapter has downloaded it). */
export interface AttachmentInput {
  filename: string;
  data: Uint8Array;
  contentType?: string | undefined;
}

export type OptionValue = string | number | boolean | AttachmentInput;
/** Option values as a platform delivers them: typed (Discord) or all strings (Slack text). */
export type RawOptions = Readonly<Record<string, OptionValue | undefined>>;

export interface InteractionContext {
  user: CoreUser;
  /** `platform:external id` (`discord:<guild id>`); absent in direct messages. */
  communityId?: string | undefined;
  channelId?: string | undefined;
}

export type CoreInteraction =
  /** `command` is the path of a leaf command: `zip`, `bank search`, `remix history`. */
  | (InteractionContext & { type: 'command'; command: string; options: RawOptions })
  | (InteractionContext & { type: 'button'; customId: string })
  | (InteractionContext & { type: 'form'; customId: string; fields: Readonly<Record<string, string>> });

export interface AutocompleteRequest extends InteractionContext {
  command: string;
  /** The option being typed. */
  option: string;
  value: string;
  /** The other options typed so far (narrow the choices: a style of the subject's base model). */
  options?: RawOptions | undefined;
}

/** One autocomplete choice (Discord allows 25, names 1-100 characters). */
export interface Choice {
  name: string;
  value: string;
}

export interface CardField {
  name: string;
  value: string;
  inline?: boolean;
}

/** An embed (Discord) / section (Slack) / card (web). */
export interface Card {
  title: string;
  description?: string;
  fields: CardField[];
  /** Images shown in the card, as storage keys (the adapter uploads or links them). */
  imageKeys: string[];
  footer?: string;
}

/** A file sent with the message: a stored file (by key) or bytes. */
export interface Attachment {
  name: string;
  contentType: string;
  key?: string;
  data?: Uint8Array;
}

export type ButtonStyle = 'primary' | 'secondary' | 'success' | 'danger';

export interface Button {
  /** Custom id (at most 100 characters): names database rows, so it works after a restart. */
  id: string;
  label: string;
  style: ButtonStyle;
  disabled?: boolean;
}

export interface MessageReply {
  kind: 'message';
  text: string;
  /** Visible only to the user who acted (refusals, private answers). */
  ephemeral: boolean;
  cards: Card[];
  attachments: Attachment[];
  /** Rows of at most 5 buttons, at most 5 rows. */
  buttons: Button[][];
  /** The adapter keeps this message and edits it with `core.renderStatus(renderId)` until the render ends. */
  follow?: { renderId: string };
  /** Replace the message that carried the button, instead of posting a new one. */
  replace?: boolean;
}

export interface FormField {
  id: string;
  label: string;
  style: 'short' | 'paragraph';
  value?: string;
  required: boolean;
  maxLength?: number;
  placeholder?: string;
}

/** A modal form (Discord modal, Slack view); its submit comes back as a `form` interaction with `id`. */
export interface FormReply {
  kind: 'form';
  id: string;
  title: string;
  fields: FormField[];
}

export type Reply = MessageReply | FormReply;

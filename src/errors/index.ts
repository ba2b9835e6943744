/**
 * Coded errors. Every refusal the product makes is a `ZipbankError` with a stable
 * string code, the offending values (`details`) and an optional `cause`. The text a
 * user reads comes from one message table (the files in `./messages/`), so the CLI,
 * the web channel, Discord and Slack all say the same thing.
 *
 * @example
 *   throw new ZipbankError('safetensors.truncated', { file: 'a.safetensors', tensor: 'x', end: 900, size: 512 });
 *   // ZipbankError[safetensors.truncated]: a.safetensors is truncated: tensor "x" ends at byte 900 of 512 ...
 */
import { safetensorsMessages } from './messages/safetensors.ts';
import { loraMessages } from './messages/lora.ts';
import { bankMessages } from './messages/bank.ts';
import { configMessages } from './messages/config.ts';
import { engineMessages } from './messages/engine.ts';
import { jobsMessages } from './messages/jobs.ts';
import { worldMessages } from './messages/world.ts';
import { webMessages } from './messages/web.ts';
import { slackMessages } from './messages/slack.ts';

const table = {
  ...safetensorsMessages,
  ...loraMessages,
  ...bankMessages,
  ...configMessages,
  ...engineMessages,
  ...jobsMessages,
  ...worldMessages,
  ...webMessages,
  ...slackMessages,
};

type Table = typeof table;
export type ErrorCode = keyof Table;
export type ErrorDetails<C extends ErrorCode> = Parameters<Table[C]>[0];

export class ZipbankError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly details: ErrorDetails<C>;

  constructor(code: C, details: ErrorDetails<C>, options?: { cause?: unknown }) {
    const render = table[code] as (d: ErrorDetails<C>) => string;
    super(render(details), options);
    this.code = code;
    this.details = details;
  }

  override get name(): string {
    return `ZipbankError[${this.code}]`;
  }

  /** The message a chat user reads (no stack, no code). */
  get userMessage(): string {
    return this.message;
  }
}

export function isZipbankError(e: unknown, code?: ErrorCode): e is ZipbankError {
  return e instanceof ZipbankError && (code === undefined || e.code === code);
}

/** A message for any thrown value: the table's text for coded errors, else a generic one. */
export function describeError(e: unknown): string {
  if (e instanceof ZipbankError) return e.message;
  if (e instanceof Error) return `unexpected error: ${e.message}`;
  return `unexpected error: ${String(e)}`;
}

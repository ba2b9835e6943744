/**
 * Button and form ids that name database rows, so a button keeps working after a
 * restart (nothing is kept in memory). Format: `zb1:<action>:<render uuid as 22
 * base64url characters>[:<argument>]`, at most 32 characters (Discord allows 100).
 *
 * @example
 *   const id = encodeCustomId({ action: 'variation', renderId: render.id, index: 2 }); // 'zb1:v:Ej5FZ-ibEtOkVkJmFBdAAA:2'
 *   decodeCustomId(id); // { action: 'variation', renderId: '123e4567-e89b-12d3-a456-426614174000', index: 2 }
 */
import { isUuid } from '../../bank/renders.ts';

export type ButtonAction =
  /** Image `index` (1-based) in full size. */
  | { action: 'full'; renderId: string; index: number }
  /** A child render near image `index`'s seed. */
  | { action: 'variation'; renderId: string; index: number }
  | { action: 'reroll'; renderId: string }
  /** Style strength one step down (-1) or up (+1). */
  | { action: 'strength'; renderId: string; delta: -1 | 1 }
  /** Opens the remix form. */
  | { action: 'remix'; renderId: string }
  /** The remix form's submit. */
  | { action: 'remix-submit'; renderId: string }
  | { action: 'export'; renderId: string }
  | { action: 'stats'; renderId: string }
  | { action: 'cancel'; renderId: string };

const PREFIX = 'zb1';
const CODES = {
  full: 'u',
  variation: 'v',
  reroll: 'r',
  strength: 's',
  remix: 'm',
  'remix-submit': 'mf',
  export: 'e',
  stats: 'z',
  cancel: 'x',
} as const satisfies Record<ButtonAction['action'], string>;
const ACTIONS = new Map(Object.entries(CODES).map(([a, c]) => [c as string, a as ButtonAction['action']]));

export function uuidToCompact(id: string): string {
  return Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
}

export function compactToUuid(s: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{22}$/.test(s)) return undefined;
  const hex = Buffer.from(s, 'base64url').toString('hex');
  if (hex.length !== 32) return undefined;
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return isUuid(id) ? id : undefined;
}

export function encodeCustomId(a: ButtonAction): string {
  const parts = [PREFIX, CODES[a.action], uuidToCompact(a.renderId)];
  if (a.action === 'full' || a.action === 'variation') parts.push(String(a.index));
  if (a.action === 'strength') parts.push(a.delta < 0 ? '-' : '+');
  return parts.join(':');
}

/** The action a custom id names, or undefined for ids that are not zipbank's (or are malformed). */
export function decodeCustomId(id: string): ButtonAction | undefined {
  const [prefix, code, compact, arg, ...rest] = id.split(':');
  if (prefix !== PREFIX || code === undefined || compact === undefined || rest.length > 0) return undefined;
  const action = ACTIONS.get(code);
  const renderId = compactToUuid(compact);
  if (!action || !renderId) return undefined;
  switch (action) {
    case 'full':
    case 'variation': {
      if (!arg || !/^[1-9]$/.test(arg)) return undefined;
      return { action, renderId, index: Number(arg) };
    }
    case 'strength':
      if (arg !== '-' && arg !== '+') return undefined;
      return { action, renderId, delta: arg === '-' ? -1 : 1 };
    default:
      return arg === undefined ? { action, renderId } : undefined;
  }
}

/** Who is acting on the bank: a chat user, or the operator at the CLI. */
export interface Actor {
  /** `discord`, `slack`, `web`, `cli`. */
  platform: string;
  userId: string;
  displayName?: string;
  /** The community the action comes from (`discord:<guild id>`), for visibility and moderation. */
  communityId?: string;
  /** Platform role ids of the actor in that community (moderator checks). */
  roleIds?: string[];
}

/** The operator at the terminal. */
export const CLI_ACTOR: Actor = { platform: 'cli', userId: 'local', displayName: 'operator' };

export function actorKey(a: Pick<Actor, 'platform' | 'userId'>): string {
  return `${a.platform}:${a.userId}`;
}

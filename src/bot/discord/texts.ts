/**
 * The few texts only the Discord adapter writes (everything else comes from the
 * core's table, src/bot/core/messages.ts, or the error tables in src/errors): what
 * happened to a file that did not fit the server's upload limit (render images are
 * linked on the web channel; other files, such as an exported LoRA, never are), a
 * failed download of an attached file, and a form that could not be opened in time.
 *
 * @example
 *   discordText('attach.link', { name: 'grid.png', size: 12 << 20, limit: 10 << 20, url: 'https://zipbank.example.org/files/renders/..' });
 *   // 'grid.png (12.0 MiB) is over this server's 10.0 MiB upload limit: https://zipbank.example.org/files/renders/..'
 */

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export const DISCORD_TEXTS = {
  'attach.webp': (d: { name: string; size: number; limit: number }) =>
    `${d.name} (${mib(d.size)}) is over this server's ${mib(d.limit)} upload limit: sent as WebP instead.`,
  'attach.link': (d: { name: string; size: number; limit: number; url: string }) =>
    `${d.name} (${mib(d.size)}) is over this server's ${mib(d.limit)} upload limit: ${d.url}`,
  'attach.not-linked': (d: { name: string; size: number; limit: number; web: string | undefined }) =>
    `${d.name} (${mib(d.size)}) is too large for this server's ${mib(d.limit)} upload limit, and only render images are linked publicly: ` +
    `get it on zipbank's web channel${d.web ? ` (${d.web})` : ''} or with the \`zipbank\` CLI on the bot's host.`,
  'attach.too-large': (d: { name: string; size: number; limit: number }) =>
    `${d.name} (${mib(d.size)}) is over this server's ${mib(d.limit)} upload limit, and no web address is configured to link it (ZIPBANK_PUBLIC_URL).`,
  'attach.missing': (d: { name: string }) => `${d.name} is no longer in the file store.`,
  'download.failed': (d: { name: string; reason: string }) => `could not download ${d.name} from Discord (${d.reason}); attach it again.`,
  'form.late': (_d: Record<string, never>) => `the form could not be opened in time; click the button again.`,
  'remix.slow': (_d: Record<string, never>) => `the Remix form could not be prepared within Discord's 3 seconds (the bot is busy); click 🎛️ Remix again in a moment.`,
} as const;

export type DiscordTextCode = keyof typeof DISCORD_TEXTS;

export function discordText<C extends DiscordTextCode>(code: C, details: Parameters<(typeof DISCORD_TEXTS)[C]>[0]): string {
  return (DISCORD_TEXTS[code] as (d: typeof details) => string)(details);
}

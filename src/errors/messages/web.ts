/** Messages for the local web channel (src/bot/web): what a browser sent that the channel cannot take. */
export const webMessages = {
  'web.not-a-command': (d: { text: string }) =>
    `"${d.text}" is not a command. Messages here are slash commands, e.g. /zip subject:corgi style:watercolor prompt:"a corgi surfing"; type / to see them all.`,
  'web.bad-user': (_d: Record<string, never>) => `choose a display name (1 to 32 characters) before you post.`,
  'web.bad-request': (d: { reason: string }) => `the page sent a request the channel cannot read: ${d.reason}. Reload the page.`,
  'web.body-too-large': (d: { max: number }) => `that request is larger than ${d.max} bytes.`,
  'web.attachment-too-large': (d: { size: number; max: number }) =>
    `the file is ${(d.size / 2 ** 20).toFixed(1)} MiB; the bank takes files up to ${(d.max / 2 ** 20).toFixed(0)} MiB.`,
  'web.attachment-gone': (_d: Record<string, never>) => `the attached file is no longer here (attachments wait 15 minutes); attach it again.`,
  'web.attachment-unused': (d: { command: string }) => `/${d.command} takes no file; remove the attachment or use /bank upload.`,
  'web.message-not-found': (d: { id: string }) => `there is no message ${d.id} in this channel (reload the page).`,
};

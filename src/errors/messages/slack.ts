/**
 * Messages for the Slack adapter (src/bot/slack): settings that cannot work
 * together, a token or connection Slack refuses, and what a Slack user reads when
 * the platform cannot do what a reply needs (a channel the app is not in, files in
 * a slash command, private files).
 *
 * @example
 *   throw new ZipbankError('slack.socket-needs-app-token', {});
 */
export const slackMessages = {
  'slack.no-token': (_d: Record<string, never>) =>
    `SLACK_BOT_TOKEN is not set: the Slack app needs its bot token (xoxb-..., on the app's "OAuth & Permissions" page). See README, "Slack".`,
  'slack.socket-needs-app-token': (_d: Record<string, never>) =>
    `SLACK_MODE=socket (the default) needs SLACK_APP_TOKEN: an app-level token (xapp-...) with the connections:write scope ("Basic Information" > "App-Level Tokens"), and Socket Mode enabled in the app. Or set SLACK_MODE=http with SLACK_SIGNING_SECRET and a public URL. See README, "Slack".`,
  'slack.http-needs-signing-secret': (_d: Record<string, never>) =>
    `SLACK_MODE=http needs SLACK_SIGNING_SECRET ("Basic Information" > "App Credentials"): every request from Slack is checked with it. Or use SLACK_MODE=socket with SLACK_APP_TOKEN (no public URL needed). See README, "Slack".`,
  'slack.auth-failed': (d: { reason: string }) =>
    `Slack refused the bot token (auth.test: ${d.reason}). Check SLACK_BOT_TOKEN and that the app is installed in the workspace.`,
  'slack.connect-failed': (d: { reason: string }) =>
    `could not connect to Slack in Socket Mode: ${d.reason}. Check SLACK_APP_TOKEN (xapp-..., scope connections:write) and that Socket Mode is enabled in the app.`,
  'slack.listen-failed': (d: { host: string; port: number; reason: string }) =>
    `the Slack HTTP receiver could not listen on ${d.host}:${d.port}: ${d.reason}. Set SLACK_PORT to a free port.`,
  'slack.not-in-channel': (_d: Record<string, never>) =>
    `zipbank cannot post in this conversation. Invite the app to the channel (\`/invite @zipbank\`, or the app's name) and try again.`,
  'slack.no-file-upload': (_d: Record<string, never>) =>
    `Slack slash commands cannot carry files, so \`/bank upload\` does not work here. Add LoRAs with \`zipbank bank add\` or the web channel.`,
  'slack.files-in-dm': (_d: Record<string, never>) => `(Slack cannot show private files here: the files are in your direct messages with zipbank.)`,
  'slack.files-failed': (d: { reason: string }) => `the files could not be sent: ${d.reason}.`,
  'slack.modal-failed': (d: { reason: string }) => `the form could not be opened (${d.reason}); Slack allows 3 seconds, so try again.`,
};

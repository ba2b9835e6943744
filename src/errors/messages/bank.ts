/** Messages for the LoRA bank (src/bank). */
export const bankMessages = {
  'bank.invalid-name': (d: { name: string }) =>
    `"${d.name}" cannot be a bank name: use 2-32 characters, lowercase letters, digits, "-" or "_", starting with a letter or digit (e.g. "corgi", "watercolor-v2").`,
  'bank.invalid-kind': (d: { kind: string }) => `kind "${d.kind}" is not one of subject, style, other.`,
  'bank.invalid-tag': (d: { tag: string }) => `tag "${d.tag}" is too long (at most 32 characters).`,
  'bank.too-many': (d: { what: string; count: number; limit: number }) => `${d.count} ${d.what} given; at most ${d.limit} are allowed.`,
  'bank.community-required': (_d: Record<string, never>) =>
    `a community-only LoRA must be uploaded from inside a community (a server or workspace); upload it as public, or from the community.`,
  'bank.file-too-large': (d: { file: string; size: number; limit: number }) =>
    `${d.file} is ${(d.size / 2 ** 20).toFixed(1)} MiB; this bank accepts LoRA files up to ${(d.limit / 2 ** 20).toFixed(0)} MiB.`,
  'bank.family-not-served': (d: { file: string; family: string; served: string }) =>
    `${d.file} is an ${d.family} LoRA; this bank serves ${d.served}.`,
  'bank.name-taken': (d: { name: string }) =>
    `the name "${d.name}" is already used in the bank. Pick another (e.g. "${d.name}-2"), or look at it with \`bank show ${d.name}\`.`,
  'bank.duplicate-removed': (d: { name: string }) =>
    `this file's tensors are already in the bank as "${d.name}", which was removed. Ask a moderator if it should come back.`,
  'bank.forbidden': (d: { action: string; name: string }) =>
    `you cannot ${d.action} "${d.name}": only its uploader or a moderator can.`,
  'bank.invalid-rating': (d: { stars: unknown }) => `a rating is a whole number of stars from 1 to 5, not ${JSON.stringify(d.stars)}.`,
  'bank.own-rating': (d: { name: string }) => `you cannot rate "${d.name}": it is your own upload.`,
  'bank.invalid-report': (d: { reason: string; allowed: string }) => `report reason "${d.reason}" is not one of: ${d.allowed}.`,
  'bank.invalid-cursor': (_d: Record<string, never>) => `this page link has expired or is invalid; start the search again.`,
  'bank.invalid-query': (d: { reason: string }) => `invalid bank query: ${d.reason}.`,
  'bank.connect-failed': (d: { location: string; reason: string }) =>
    `cannot open the database at ${d.location}: ${d.reason}. Check DATABASE_URL (or unset it to use the embedded database) and that the server is running.`,
  'bank.migration-failed': (d: { location: string; reason: string }) =>
    `applying the database migrations to ${d.location} failed: ${d.reason}.`,
  'bank.seed-missing': (d: { path: string }) =>
    `cannot seed the bank: ${d.path} is missing. Restore it from the repository (git checkout -- models/world/loras), or retrain the seeded LoRAs with \`npm run train:seeds\`.`,
  'bank.seed-invalid': (d: { path: string; reason: string }) => `cannot seed the bank: ${d.path} is not a valid manifest (${d.reason}).`,
  'bank.not-found': (d: { name: string }) => `no LoRA named "${d.name}" in the bank. Try \`bank search ${d.name}\`.`,
};

/**
 * Slash-command definitions built from the core's command table (typed options,
 * autocomplete, attachments, Discord's limits) and their registration against the
 * fake Discord's REST: once per scope, again only when the definitions change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationCommandOptionType as T, REST } from 'discord.js';
import type { TopCommand } from '../../../src/bot/core/index.ts';
import { checkDefinitions, commandDefinitions, definitionsHash, inviteUrl, registerCommands, registrationKey } from '../../../src/bot/discord/commands.ts';
import { FakeDiscord } from '../../support/fake-discord/index.ts';

const TOKEN = 'fake-bot-token-0123456789abcdef';

function memoryState() {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async <V = unknown>(key: string) => map.get(key) as V | undefined,
    set: async (key: string, value: unknown) => void map.set(key, value),
    keys: async (prefix: string) => [...map.keys()].filter((k) => k.startsWith(prefix)).sort(),
    delete: async (key: string) => void map.delete(key),
  };
}

describe('command definitions', () => {
  const defs = commandDefinitions();
  const top = (name: string) => defs.find((d) => d.name === name)!;
  const sub = (cmd: string, name: string) => top(cmd).options!.find((o) => o.name === name) as { type: number; options: { name: string; type: number; required?: boolean }[] };

  it('types /zip options, autocompletes bank names and puts required options first', () => {
    const zip = top('zip');
    expect(zip).toMatchObject({ type: 1, contexts: [0, 1], integration_types: [0] });
    const o = Object.fromEntries(zip.options!.map((x) => [x.name, x]));
    expect(zip.options!.map((x) => x.name).slice(0, 3)).toEqual(['subject', 'style', 'prompt']);
    expect(o.subject).toMatchObject({ type: T.String, required: true, autocomplete: true, max_length: 32 });
    expect(o.style).toMatchObject({ type: T.String, required: true, autocomplete: true });
    expect(o.prompt).toMatchObject({ type: T.String, required: true, min_length: 1, max_length: 1000 });
    expect(o.seed).toMatchObject({ type: T.Integer, min_value: 0, max_value: 4_294_967_295 });
    expect(o.strength).toMatchObject({ type: T.Number, min_value: 0, max_value: 1 });
    expect(o.method).toMatchObject({ type: T.String, choices: [{ name: 'ziplora', value: 'ziplora' }, { name: 'direct', value: 'direct' }] });
    expect(o.method).not.toHaveProperty('autocomplete');
  });

  it('makes subcommands of /bank with an attachment option for upload', () => {
    const upload = sub('bank', 'upload');
    expect(upload.type).toBe(T.Subcommand);
    expect(upload.options[0]).toMatchObject({ name: 'file', type: T.Attachment, required: true });
    expect(upload.options.find((x) => x.name === 'nsfw')).toMatchObject({ type: T.Boolean });
    expect(sub('bank', 'rate').options.find((x) => x.name === 'name')).toMatchObject({ autocomplete: true });
    expect(sub('remix', 'history').options).toEqual([expect.objectContaining({ name: 'render', type: T.String, required: true })]);
  });

  it("stays within Discord's limits, and says how a table would not", () => {
    expect(checkDefinitions(defs)).toEqual([]);
    const bad: TopCommand[] = [
      {
        name: 'Too-Long-Name-For-Discord-Commands-X',
        description: '',
        options: [
          { name: 'a', type: 'string', description: 'x' },
          { name: 'b', type: 'string', description: 'y'.repeat(101), required: true },
          { name: 'c', type: 'string', description: 'z', autocomplete: 'lora', choices: [{ name: 'q', value: 'q' }] },
          ...Array.from({ length: 23 }, (_, i) => ({ name: `o${i}`, type: 'boolean' as const, description: 'd' })),
        ],
      },
    ];
    const built = commandDefinitions(bad);
    // commandDefinitions drops choices for autocomplete options and sorts required first; the raw shape shows the rest.
    const problems = checkDefinitions(built);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('must be 1-32 lowercase'),
        expect.stringContaining('description must be 1-100 characters (has 0)'),
        expect.stringContaining('description must be 1-100 characters (has 101)'),
        expect.stringContaining('26 options (at most 25)'),
      ]),
    );
    const raw = structuredClone(built);
    raw[0]!.options!.push({ name: 'late', description: 'd', type: T.String, required: true });
    const c = raw[0]!.options!.find((o) => o.name === 'c') as { choices?: unknown[]; autocomplete?: boolean };
    expect(c.autocomplete).toBe(true);
    c.choices = Array.from({ length: 26 }, (_, i) => ({ name: `n${i}`, value: `v${i}` }));
    expect(checkDefinitions(raw)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('late: a required option after an optional one'),
        expect.stringContaining('26 choices (at most 25)'),
        expect.stringContaining('choices and autocomplete together'),
      ]),
    );
  });

  it('hashes the definitions stably; any change shows', () => {
    expect(definitionsHash(commandDefinitions())).toBe(definitionsHash(defs));
    const changed = structuredClone(defs);
    changed[0]!.description += '!';
    expect(definitionsHash(changed)).not.toBe(definitionsHash(defs));
  });

  it('invites with the bot and applications.commands scopes and the permissions it uses', () => {
    const url = new URL(inviteUrl('123456789012345678'));
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
    // View Channel, Send Messages, Embed Links, Attach Files, Read Message History.
    expect(url.searchParams.get('permissions')).toBe(String(1024 + 2048 + 16384 + 32768 + 65536));
  });
});

describe('registerCommands', () => {
  let fake: FakeDiscord;
  let rest: REST;
  beforeAll(async () => {
    fake = await FakeDiscord.start({ token: TOKEN });
    rest = new REST({ version: '10', api: fake.api }).setToken(TOKEN);
  });
  afterAll(async () => {
    rest?.clearHashSweeper();
    rest?.clearHandlerSweeper();
    await fake?.close();
  });

  it('registers per scope only when the definitions changed', async () => {
    const state = memoryState();
    const app = fake.applicationId;
    const guild = fake.guilds[0]!.id;
    const r1 = await registerCommands({ rest, applicationId: app, guildId: guild, state });
    expect(r1).toMatchObject({ scope: 'guild', registered: true, count: 3, key: `discord:commands:${app}:guild:${guild}` });
    expect(fake.commandPuts).toEqual([expect.objectContaining({ scope: guild, count: 3 })]);
    expect(fake.commands.guild.get(guild)!.map((c: { name: string }) => c.name)).toEqual(['zip', 'bank', 'remix']);
    expect(state.map.get(registrationKey(app, guild))).toMatchObject({ hash: r1.hash, count: 3 });

    // A restart: nothing sent.
    expect(await registerCommands({ rest, applicationId: app, guildId: guild, state })).toMatchObject({ registered: false });
    expect(fake.commandPuts).toHaveLength(1);

    // Global is its own scope.
    expect(await registerCommands({ rest, applicationId: app, state })).toMatchObject({ scope: 'global', registered: true });
    expect(fake.callsTo(/^\/applications\/\d+\/commands$/, 'PUT')).toHaveLength(1);
    expect(await registerCommands({ rest, applicationId: app, state })).toMatchObject({ registered: false });

    // Changed definitions (a new version of the table): sent again, once.
    const changed = commandDefinitions().map((d) => (d.name === 'zip' ? { ...d, description: `${d.description}!` } : d));
    expect(await registerCommands({ rest, applicationId: app, guildId: guild, state, definitions: changed })).toMatchObject({ registered: true });
    expect(await registerCommands({ rest, applicationId: app, guildId: guild, state, definitions: changed })).toMatchObject({ registered: false });
    expect(await registerCommands({ rest, applicationId: app, guildId: guild, state, definitions: changed, force: true })).toMatchObject({ registered: true });
    // Going global emptied the guild's registration first (count 0).
    expect(fake.commandPuts.map((p) => [p.scope, p.count])).toEqual([[guild, 3], [guild, 0], ['global', 3], [guild, 3], [guild, 3]]);
  });

  it('empties the commands of a guild registered earlier when the bot goes global or moves guild', async () => {
    const state = memoryState();
    const app = fake.applicationId;
    const [a, b] = [fake.guilds[0]!.id, '998877665544332211'];
    await registerCommands({ rest, applicationId: app, guildId: a, state });
    expect(fake.commands.guild.get(a)).toHaveLength(3);
    // Moved to guild b: a is emptied and forgotten.
    expect(await registerCommands({ rest, applicationId: app, guildId: b, state })).toMatchObject({ scope: 'guild', registered: true, cleared: [a] });
    expect(fake.commands.guild.get(a)).toEqual([]);
    expect(fake.commands.guild.get(b)).toHaveLength(3);
    expect(state.map.has(registrationKey(app, a))).toBe(false);
    // Global: b is emptied; a restart clears nothing more.
    expect(await registerCommands({ rest, applicationId: app, state })).toMatchObject({ scope: 'global', cleared: [b] });
    expect(fake.commands.guild.get(b)).toEqual([]);
    expect(await registerCommands({ rest, applicationId: app, state })).toMatchObject({ registered: false, cleared: [] });
    // Back to a development guild: the global commands stay.
    expect(await registerCommands({ rest, applicationId: app, guildId: a, state })).toMatchObject({ registered: true, cleared: [] });
    expect(fake.commands.global).toHaveLength(3);
  });

  it('starts even when an old guild cannot be emptied: forgets it on 403 (bot gone), retries later on other errors', async () => {
    const state = memoryState();
    const app = fake.applicationId;
    const [gone, flaky] = ['111111111111111111', '222222222222222222'];
    await state.set(registrationKey(app, gone), { hash: 'x', at: '', count: 3 });
    await state.set(registrationKey(app, flaky), { hash: 'x', at: '', count: 3 });
    fake.fail({ method: 'PUT', route: new RegExp(`/guilds/${gone}/commands$`), status: 403 });
    fake.fail({ method: 'PUT', route: new RegExp(`/guilds/${flaky}/commands$`), status: 400 });
    const logs: string[] = [];
    const r = await registerCommands({ rest, applicationId: app, state, force: true, log: (_level, line) => logs.push(line) });
    expect(r).toMatchObject({ scope: 'global', registered: true, cleared: [gone] });
    expect(state.map.has(registrationKey(app, gone))).toBe(false);
    expect(state.map.has(registrationKey(app, flaky))).toBe(true);
    expect(logs.join('\n')).toMatch(new RegExp(`guild ${flaky}.*next start`));
    // The next start empties it.
    expect(await registerCommands({ rest, applicationId: app, state })).toMatchObject({ registered: false, cleared: [flaky] });
  });

  it('refuses definitions that break the limits without calling Discord', async () => {
    const before = fake.calls.length;
    const broken = commandDefinitions().map((d) => ({ ...d, description: '' }));
    await expect(registerCommands({ rest, applicationId: fake.applicationId, state: memoryState(), definitions: broken })).rejects.toThrow(/break Discord's limits/);
    expect(fake.calls.length).toBe(before);
  });
});

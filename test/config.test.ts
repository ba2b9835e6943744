import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../src/config.ts';
import { isZipbankError } from '../src/errors/index.ts';

describe('config', () => {
  it('has embedded defaults: PGlite and files under ./data, CPU-capable auto device', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c).toMatchObject({
      dataDir: '/srv/app/data',
      databaseUrl: undefined,
      storageDir: '/srv/app/data/files',
      port: 8080,
      host: '127.0.0.1',
      device: 'auto',
      bankFamilies: ['sd15', 'sd2', 'sdxl', 'world'],
      maxUploadMiB: 1024,
      admins: ['cli:local'],
      models: { world: expect.stringMatching(/models\/world$/) },
    });
  });

  it('reads ZIPBANK_MODELS as family=folder pairs, folders resolved against the working directory', () => {
    expect(loadConfig({ ZIPBANK_MODELS: 'sd15=models/tiny, sdxl=/srv/sdxl=v1' }, '/srv/app').models).toEqual({
      sd15: '/srv/app/models/tiny',
      sdxl: '/srv/sdxl=v1',
    });
    expect(loadConfig({ ZIPBANK_MODELS: 'none' }, '/srv/app').models).toEqual({});
    // Unset (or empty): the bundled world model, for the world family.
    expect(loadConfig({ ZIPBANK_MODELS: '' }, '/srv/app').models).toEqual({ world: expect.stringMatching(/models\/world$/) });
    expect(loadConfig({}, '/srv/app').models.world).toMatch(/models\/world$/);
    expect(loadConfig({ ZIPBANK_BANK_FAMILIES: 'sd15' }, '/srv/app').models).toEqual({});
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        ZIPBANK_DATA_DIR: '/var/zb',
        DATABASE_URL: 'postgres://u:p@db/zb',
        ZIPBANK_STORAGE_DIR: 'files',
        PORT: '0',
        ZIPBANK_DEVICE: 'cpu',
        ZIPBANK_BANK_FAMILIES: 'sdxl',
        ZIPBANK_MAX_UPLOAD_MB: '300',
        ZIPBANK_ADMINS: 'discord:1, slack:U2',
      },
      '/srv/app',
    );
    expect(c).toMatchObject({
      dataDir: '/var/zb',
      databaseUrl: 'postgres://u:p@db/zb',
      storageDir: '/srv/app/files',
      port: 0,
      device: 'cpu',
      bankFamilies: ['sdxl'],
      maxUploadMiB: 300,
      admins: ['discord:1', 'slack:U2'],
    });
  });

  it.each([
    ['PORT', 'eighty', /PORT="eighty" is invalid: expected an integer port/],
    ['PORT', '70000', /PORT/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL.*postgres:\/\//],
    ['ZIPBANK_DEVICE', 'tpu', /ZIPBANK_DEVICE.*auto, cuda, webgpu, cpu/],
    ['ZIPBANK_BANK_FAMILIES', 'sd15,flux', /ZIPBANK_BANK_FAMILIES/],
    ['ZIPBANK_ADMINS', 'bob', /ZIPBANK_ADMINS.*platform:id/],
    ['ZIPBANK_LOG_LEVEL', 'loud', /ZIPBANK_LOG_LEVEL/],
    ['ZIPBANK_MODELS', '/models/sd15', /ZIPBANK_MODELS="\/models\/sd15" is invalid: expected comma-separated family=folder pairs/],
    ['ZIPBANK_MODELS', 'sd15x=/m', /ZIPBANK_MODELS.*families from sd15, sd2, sdxl/],
    ['ZIPBANK_MODELS', 'flux=/m', /ZIPBANK_MODELS/],
    ['ZIPBANK_MODELS', 'sd15=', /ZIPBANK_MODELS/],
    ['ZIPBANK_MODELS', 'sd15=/a,sd15=/b', /ZIPBANK_MODELS.*each family once/],
  ])('rejects %s=%s naming the variable and what to set', (variable, value, message) => {
    let err: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (e) {
      err = e;
    }
    expect(isZipbankError(err, 'config.invalid')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it('documents every setting', () => {
    for (const s of Object.values(SETTINGS)) {
      expect(s.env).toMatch(/^[A-Z_]+$/);
      expect(s.description.length).toBeGreaterThan(10);
    }
  });
});

/**
 * Reads the configs of a diffusers pipeline folder: model_index.json, then the
 * config.json of each component it lists (unet, text_encoder, text_encoder_2, vae).
 *
 * @example
 *   const cfgs = await readPipelineFolder('/models/stable-diffusion-v1-5');
 *   cfgs.unet.blockOutChannels; // [320, 640, 1280, 1280]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import { COMPONENT_FOLDERS, parsePipelineConfigs, type ComponentKey, type PipelineConfigs, type RawPipelineConfigs } from './config.ts';

async function readJson(folder: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path.join(folder, file), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `read failed: ${code ?? String(e)}`;
    throw new ZipbankError('model.missing-file', { folder, file, reason }, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ZipbankError('model.missing-file', { folder, file, reason: `not valid JSON: ${(e as Error).message}` }, { cause: e });
  }
}

/** The raw config.json contents of each component that model_index.json lists. */
export async function readPipelineFolderRaw(folder: string): Promise<RawPipelineConfigs> {
  const index = await readJson(folder, 'model_index.json');
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new ZipbankError('model.missing-file', { folder, file: 'model_index.json', reason: 'not a JSON object' });
  }
  const listed = (k: ComponentKey) => {
    const entry = (index as Record<string, unknown>)[COMPONENT_FOLDERS[k]];
    return Array.isArray(entry) && entry.some((x) => x !== null);
  };
  if (!listed('unet')) {
    throw new ZipbankError('model.missing-file', { folder, file: 'model_index.json', reason: 'it lists no "unet" component' });
  }
  const raw: RawPipelineConfigs = { unet: await readJson(folder, 'unet/config.json') };
  for (const k of ['textEncoder', 'textEncoder2', 'vae'] as const) {
    if (listed(k)) raw[k] = await readJson(folder, `${COMPONENT_FOLDERS[k]}/config.json`);
  }
  return raw;
}

/** Parsed, cross-checked configs of a diffusers pipeline folder. */
export async function readPipelineFolder(folder: string): Promise<PipelineConfigs> {
  return parsePipelineConfigs(await readPipelineFolderRaw(folder), folder);
}

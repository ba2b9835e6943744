/**
 * The model that ships in the repository: `models/world/` (SD 1.5 family
 * architecture at 64x64, trained from scratch on the procedural world by
 * `npm run train:world`). The engine uses it when no model is given.
 *
 * @example
 *   const dir = await bundledModel();   // absolute path, or a clear error if it is missing
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ZipbankError } from '../../errors/index.ts';

/** Absolute path of the bundled model folder (it may be absent in a trimmed checkout). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('../../../models/world/', import.meta.url)).replace(/\/$/, '');

/** The bundled model's folder, checked to exist. */
export async function bundledModel(): Promise<string> {
  try {
    await stat(`${BUNDLED_MODEL_DIR}/model_index.json`);
  } catch {
    throw new ZipbankError('model.no-bundled', { dir: BUNDLED_MODEL_DIR });
  }
  return BUNDLED_MODEL_DIR;
}

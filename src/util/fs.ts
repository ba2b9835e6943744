import { stat } from 'node:fs/promises';

/** Whether anything (file, folder, link target) is at `p`; false on any error, e.g. no such path or no permission. */
export async function pathExists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Whether `p` is a regular file (following links); false on any error. */
export async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

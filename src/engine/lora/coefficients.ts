/**
 * Per-input-column coefficients (ZipLoRA's mergers m [in]) on host matrices: checking
 * a vector against its module, and dW diag(m) / A diag(m) for a [rows, in·kh·kw]
 * matrix (for convs one coefficient per input channel, shared by its kernel taps).
 *
 * @example
 *   checkCoefficients(target, m, module.base.inFeatures);
 *   scaleColumns(down, rank, m, kh * kw);   // down <- down diag(m), in place
 */
import { ZipbankError } from '../../errors/index.ts';

/** Checks a coefficient vector against its module (`lora.bad-mergers`). */
export function checkCoefficients(target: string, m: Float32Array, inFeatures: number, file = 'coefficients'): void {
  if (m.length !== inFeatures) {
    throw new ZipbankError('lora.bad-mergers', { file, reason: `the vector for ${target} has ${m.length} values; the module has ${inFeatures} input features` });
  }
}

/** Multiplies the columns of a [rows, in·kk] matrix by m [in] (each channel's kk taps alike). */
export function scaleColumns(a: Float32Array, rows: number, m: Float32Array, kk: number): void {
  const cols = m.length * kk;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) a[o + c]! *= m[Math.floor(c / kk)]!;
  }
}

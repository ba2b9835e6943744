/**
 * Parameter specs: the name and shape of every tensor an architecture consumes,
 * in diffusers/transformers naming. Layer helpers append specs to a list.
 *
 * @example
 *   const p: ParamSpec[] = [];
 *   linear(p, 'time_embedding.linear_1', 1280, 320);
 *   // [{ name: 'time_embedding.linear_1.weight', shape: [1280, 320] },
 *   //  { name: 'time_embedding.linear_1.bias', shape: [1280] }]
 */
export interface ParamSpec {
  name: string;
  shape: number[];
}

export function linear(p: ParamSpec[], name: string, out: number, inp: number, bias = true): void {
  p.push({ name: `${name}.weight`, shape: [out, inp] });
  if (bias) p.push({ name: `${name}.bias`, shape: [out] });
}

export function conv(p: ParamSpec[], name: string, out: number, inp: number, kernel: number): void {
  p.push({ name: `${name}.weight`, shape: [out, inp, kernel, kernel] });
  p.push({ name: `${name}.bias`, shape: [out] });
}

/** GroupNorm or LayerNorm affine parameters. */
export function norm(p: ParamSpec[], name: string, channels: number): void {
  p.push({ name: `${name}.weight`, shape: [channels] });
  p.push({ name: `${name}.bias`, shape: [channels] });
}

/** ResnetBlock2D; `temb` null for the VAE (no time_emb_proj). */
export function resnet(p: ParamSpec[], name: string, inp: number, out: number, temb: number | null): void {
  norm(p, `${name}.norm1`, inp);
  conv(p, `${name}.conv1`, out, inp, 3);
  if (temb !== null) linear(p, `${name}.time_emb_proj`, out, temb);
  norm(p, `${name}.norm2`, out);
  conv(p, `${name}.conv2`, out, out, 3);
  if (inp !== out) conv(p, `${name}.conv_shortcut`, out, inp, 1);
}

/** Number of scalars in a tensor of this shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Total scalars in a list of specs. */
export function countParameters(specs: readonly ParamSpec[]): number {
  return specs.reduce((a, s) => a + numel(s.shape), 0);
}

/**
 * Adam (Kingma & Ba) over named Float32Array parameters, in place, with bias
 * correction: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²; p -= lr · m̂ / (sqrt(v̂) + eps).
 * Optional decoupled weight decay (AdamW). State can be saved and restored
 * (checkpoints).
 *
 * @example
 *   const opt = new Adam({ lr: 0.01 });
 *   opt.step(params, grads);     // Map<string, Float32Array> each
 */
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** AdamW decoupled weight decay. Default 0. */
  weightDecay?: number;
  /** Learning-rate multipliers by parameter name (e.g. a faster token-embedding table). Default 1. */
  lrScale?: Readonly<Record<string, number>>;
}

/** The rows of a [rows, width] table to update (each row once); the others have had no gradient yet. */
export interface SparseRows {
  width: number;
  rows: Iterable<number>;
}

export interface AdamState {
  t: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly lrScale: Readonly<Record<string, number>>;
  private state: AdamState = { t: 0, m: new Map(), v: new Map() };

  constructor(o: AdamOptions) {
    if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new RangeError(`Adam: learning rate must be a positive number, got ${o.lr}`);
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    for (const [name, k] of Object.entries(o.lrScale ?? {})) {
      if (!(k > 0) || !Number.isFinite(k)) throw new RangeError(`Adam: the learning-rate scale of ${name} must be a positive number, got ${k}`);
    }
    this.lrScale = { ...o.lrScale };
  }

  get steps(): number {
    return this.state.t;
  }

  /**
   * One update of every parameter that has a gradient; `lr` overrides the rate for this
   * step. `sparse` names tables of which only some rows are updated: a row that has
   * never had a non-zero gradient has zero moments, so its update is exactly zero and
   * skipping it changes nothing. Pass every row that has EVER had a gradient (moments
   * of earlier rows keep moving the weights). Not with weight decay, which moves every row.
   */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr = this.lr, sparse?: ReadonlyMap<string, SparseRows>): void {
    if (sparse?.size && this.weightDecay) throw new RangeError('Adam: row-sparse updates cannot be used with weight decay (it moves every row)');
    const s = this.state;
    s.t++;
    const c1 = 1 - this.beta1 ** s.t;
    const c2 = 1 - this.beta2 ** s.t;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (g.length !== p.length) throw new RangeError(`Adam: gradient of ${name} has ${g.length} values for ${p.length} parameters`);
      let m = s.m.get(name);
      let v = s.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        s.m.set(name, m);
        s.v.set(name, v);
      }
      const rate = lr * (this.lrScale[name] ?? 1);
      const rows = sparse?.get(name);
      if (!rows) {
        this.update(name, p, g, m, v, 0, p.length, rate, c1, c2);
        continue;
      }
      const w = rows.width;
      if (!(w > 0) || p.length % w !== 0) throw new RangeError(`Adam: ${name}'s ${p.length} values are not rows of ${w}`);
      const n = p.length / w;
      for (const row of rows.rows) {
        if (!Number.isInteger(row) || row < 0 || row >= n) throw new RangeError(`Adam: row ${row} of ${name} is outside its ${n} rows`);
        this.update(name, p, g, m, v, row * w, (row + 1) * w, rate, c1, c2);
      }
    }
  }

  private update(name: string, p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, from: number, to: number, lr: number, c1: number, c2: number): void {
    for (let i = from; i < to; i++) {
      const gi = g[i]!;
      if (!Number.isFinite(gi)) throw new RangeError(`Adam: the gradient of ${name} is not finite (element ${i} = ${gi})`);
      const mi = (m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi);
      const vi = (v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi);
      let pi = p[i]!;
      if (this.weightDecay) pi -= lr * this.weightDecay * pi;
      p[i] = pi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + this.eps);
    }
  }

  /** A copy of the optimiser state (for checkpoints). */
  save(): AdamState {
    const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, v.slice()]));
    return { t: this.state.t, m: copy(this.state.m), v: copy(this.state.v) };
  }

  restore(state: AdamState): void {
    const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, v.slice()]));
    this.state = { t: state.t, m: copy(state.m), v: copy(state.v) };
  }
}

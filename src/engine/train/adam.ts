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
  private state: AdamState = { t: 0, m: new Map(), v: new Map() };

  constructor(o: AdamOptions) {
    if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new RangeError(`Adam: learning rate must be a positive number, got ${o.lr}`);
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
  }

  get steps(): number {
    return this.state.t;
  }

  /** One update of every parameter that has a gradient; `lr` overrides the rate for this step. */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr = this.lr): void {
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
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        if (!Number.isFinite(gi)) throw new RangeError(`Adam: the gradient of ${name} is not finite (element ${i} = ${gi})`);
        const mi = (m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi);
        const vi = (v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi);
        let pi = p[i]!;
        if (this.weightDecay) pi -= lr * this.weightDecay * pi;
        p[i] = pi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + this.eps);
      }
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

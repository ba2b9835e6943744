/**
 * Multiply-add FLOPs of one UNet forward, counted over the modules the real graph
 * builder emits: the UNet graph is built with shape-only weights and a layer hook
 * that records every Linear and Conv2d (path, weight shape); each module's spatial
 * size follows from its path (down_blocks.i at 1/2^i of the latent, up_blocks.i at
 * 1/2^(n-1-i), samplers change it by 2). Convs: 2 * Cin/groups * Cout * kh * kw *
 * Hout * Wout; linears: 2 * M * N * K with M the tokens; each attention adds its
 * score and value matmuls, 2 * 2 * Nq * Nkv * C. Norms, softmax and elementwise ops
 * are left out (a few percent), as FLOP counts usually do.
 *
 * @example
 *   const f = unetFlops(presetConfigs('sd15').unet, { batch: 2, latent: 64, sequence: 77 });
 *   f.total / 1e12;   // TFLOPs of one classifier-free-guidance step
 */
import { buildUNetGraph } from '../../src/engine/models/unet/graph.ts';
import type { UNetConfig } from '../../src/engine/models/unet/config.ts';
import { unetParams } from '../../src/engine/models/unet/params.ts';
import type { WeightSource } from '../../src/engine/onnx/external.ts';

export interface FlopsOptions {
  batch: number;
  /** Latent height (= width). */
  latent: number;
  /** Text tokens. */
  sequence: number;
}

export interface UNetFlops {
  conv: number;
  linear: number;
  attention: number;
  total: number;
  modules: number;
}

/** Shapes without data: enough to build (never run) the graph. */
function shapeOnlyWeights(cfg: UNetConfig): WeightSource {
  const shapes = new Map(unetParams(cfg).map((p) => [p.name, p.shape]));
  return {
    description: 'shape-only weights',
    get(name) {
      const shape = shapes.get(name);
      return shape && { dtype: 'float32', shape, external: { location: 'none', offset: 0, length: 4 * shape.reduce((a, b) => a * b, 1) } };
    },
  };
}

/** Downsampling level of a module's output (0 = latent size); -1 for per-sample vectors. */
export function moduleLevel(path: string, levels: number): number {
  if (/^(time_embedding|add_embedding)\./.test(path) || path.endsWith('.time_emb_proj')) return -1;
  let m = /^down_blocks\.(\d+)\.(downsamplers)?/.exec(path);
  if (m) return Number(m[1]) + (m[2] ? 1 : 0);
  if (path.startsWith('mid_block.')) return levels - 1;
  m = /^up_blocks\.(\d+)\.(upsamplers)?/.exec(path);
  if (m) return levels - 1 - Number(m[1]) - (m[2] ? 1 : 0);
  return 0;
}

export function unetFlops(cfg: UNetConfig, o: FlopsOptions): UNetFlops {
  const levels = cfg.blockOutChannels.length;
  const out: UNetFlops = { conv: 0, linear: 0, attention: 0, total: 0, modules: 0 };
  buildUNetGraph(cfg, {
    weights: shapeOnlyWeights(cfg),
    layers: {
      hook: (_g, call) => {
        const w = call.weight.shape as readonly number[];
        const weightSize = w.reduce((a, b) => a * b, 1);
        const level = moduleLevel(call.path, levels);
        const side = level < 0 ? 1 : o.latent / 2 ** level;
        const positions = side * side;
        out.modules++;
        if (call.kind === 'conv') out.conv += 2 * weightSize * positions * o.batch;
        else {
          const cross = /\.attn2\.to_[kv]$/.test(call.path);
          out.linear += 2 * weightSize * (cross ? o.sequence : positions) * o.batch;
          const attn = /\.(attn[12])\.to_q$/.exec(call.path);
          if (attn) out.attention += 4 * positions * (attn[1] === 'attn2' ? o.sequence : positions) * w[0]! * o.batch;
        }
        return call.y;
      },
    },
  });
  out.total = out.conv + out.linear + out.attention;
  return out;
}

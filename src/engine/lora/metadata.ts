/**
 * The human side of a LoRA's safetensors metadata: kohya-ss training keys (`ss_*`)
 * and the Stability model-spec keys (`modelspec.*`). Malformed JSON values are
 * reported as warnings, never thrown. The base-model claim is only a hint; the
 * tensors decide (see detect.ts).
 *
 * @example
 *   const { summary, warnings } = summarizeMetadata(header.metadata);
 *   summary.triggerWords;    // ['smart falcon (umamusume)']
 *   summary.claimedFamily;   // 'sd15'
 */
import type { BaseFamily } from '../models/modules.ts';

export interface LoraMetadataSummary {
  title?: string;
  author?: string;
  description?: string;
  license?: string;
  /** Likely trigger words: modelspec.trigger_phrase, the training comment, then tags in (nearly) every caption. */
  triggerWords: string[];
  /** The metadata's own words for the base model, with the key it came from. */
  baseModelClaim?: string;
  /** That claim read as a family ('other' for non-SD models), undefined when unreadable. */
  claimedFamily?: BaseFamily | 'other';
  networkModule?: string;
  networkDim?: number;
  networkAlpha?: number;
  networkArgs?: Record<string, unknown>;
  /** e.g. '768x768'. */
  resolution?: string;
  outputName?: string;
  sdModelName?: string;
  trainingComment?: string;
  tags: string[];
  /** Most frequent caption tags (ss_tag_frequency), highest first, at most 10. */
  topTags: { tag: string; count: number }[];
  hasThumbnail: boolean;
}

const MAX_TEXT = 2000;

function present(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return !t || t === 'None' || t === 'null' ? undefined : t;
}

function text(v: string | undefined): string | undefined {
  const t = present(v);
  return t !== undefined && t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT)}…` : t;
}

function number(v: string | undefined): number | undefined {
  const t = text(v);
  if (t === undefined) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function json(md: Record<string, string>, key: string, warnings: string[]): unknown {
  const raw = present(md[key]);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    warnings.push(`metadata ${key} is not valid JSON; ignored`);
    return undefined;
  }
}

/** Read a base-model description ('sd_1.5', 'stable-diffusion-xl-v1-base/lora', 'flux-1-dev') as a family. */
export function familyFromText(s: string): BaseFamily | 'other' | undefined {
  const t = s.toLowerCase();
  if (/zipbank[-_ ]?world|^world$/.test(t)) return 'world';
  if (/flux|sd3|sd_3|stable-diffusion-v3|cascade|kandinsky|pixart|hunyuan|auraflow|lumina|hidream|qwen|\bwan|ltx|chroma|refiner/.test(t)) return 'other';
  if (/xl|pony|illustrious/.test(t)) return 'sdxl';
  if (/(^|[^0-9])(v2|2\.0|2\.1|2)([^0-9]|$)|sd2/.test(t)) return 'sd2';
  if (/(^|[^0-9])(v1|1\.5|1\.4|1)([^0-9]|$)|sd1/.test(t)) return 'sd15';
  return undefined;
}

function claim(md: Record<string, string>): { text: string; family?: BaseFamily | 'other' } | undefined {
  for (const key of ['modelspec.architecture', 'ss_base_model_version']) {
    const v = text(md[key]);
    if (v) {
      const family = familyFromText(v);
      return { text: `${v} (${key})`, ...(family ? { family } : {}) };
    }
  }
  const v2 = text(md['ss_v2']);
  if (v2 === 'True') return { text: 'ss_v2 = True', family: 'sd2' };
  if (v2 === 'False' && text(md['ss_sd_scripts_commit_hash']) !== undefined) return { text: 'ss_v2 = False', family: 'sd15' };
  return undefined;
}

const unescape = (s: string) => s.replace(/\\([()[\]])/g, '$1').trim();

function resolution(md: Record<string, string>): string | undefined {
  const v = text(md['modelspec.resolution']) ?? text(md['ss_resolution']);
  if (!v) return undefined;
  const nums = v.match(/\d+/g);
  if (!nums) return v;
  return nums.length === 1 ? `${nums[0]}x${nums[0]}` : `${nums[0]}x${nums[1]}`;
}

function tagStats(md: Record<string, string>, warnings: string[]): { top: { tag: string; count: number }[]; triggers: string[] } {
  const freq = json(md, 'ss_tag_frequency', warnings);
  const dirs = json(md, 'ss_dataset_dirs', warnings);
  const counts = new Map<string, number>();
  const triggers: string[] = [];
  if (typeof freq === 'object' && freq !== null) {
    for (const [dir, tags] of Object.entries(freq as Record<string, unknown>)) {
      if (typeof tags !== 'object' || tags === null || Object.keys(tags).length === 0) {
        const token = dir.replace(/^\d+_/, '').trim();
        if (token) triggers.push(token);
        continue;
      }
      for (const [tag, n] of Object.entries(tags as Record<string, unknown>)) {
        if (typeof n === 'number' && tag.trim()) counts.set(tag.trim(), (counts.get(tag.trim()) ?? 0) + n);
      }
    }
  }
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([tag, count]) => ({ tag, count }));
  let images = 0;
  if (typeof dirs === 'object' && dirs !== null) {
    for (const d of Object.values(dirs as Record<string, unknown>)) {
      const c = (d as { img_count?: unknown } | null)?.img_count;
      if (typeof c === 'number') images += c;
    }
  }
  const max = top[0]?.count ?? 0;
  const threshold = images > 0 ? Math.max(1, Math.ceil(images * 0.9)) : max;
  for (const { tag, count } of top.slice(0, 3)) if (count >= threshold) triggers.push(tag);
  return { top: top.slice(0, 10), triggers };
}

function commentTriggers(comment: string | undefined): string[] {
  const m = comment && /trigger(?:\s*words?|\s*phrases?)?\s*(?:is|are|:|=)\s*(.+)/i.exec(comment);
  return m ? m[1]!.split(/,|\n/).map((s) => s.trim()).filter(Boolean) : [];
}

/** Summarise the metadata; `warnings` lists values that could not be read. */
export function summarizeMetadata(md: Record<string, string>): { summary: LoraMetadataSummary; warnings: string[] } {
  const warnings: string[] = [];
  const stats = tagStats(md, warnings);
  const comment = text(md['ss_training_comment']);
  const phrase = (text(md['modelspec.trigger_phrase']) ?? '').split(',');
  const seen = new Set<string>();
  const triggerWords: string[] = [];
  for (const w of [...phrase, ...commentTriggers(comment), ...stats.triggers].map(unescape)) {
    if (w && !seen.has(w.toLowerCase())) {
      seen.add(w.toLowerCase());
      triggerWords.push(w);
    }
  }
  const args = json(md, 'ss_network_args', warnings);
  const c = claim(md);
  const summary: LoraMetadataSummary = {
    triggerWords,
    tags: (text(md['modelspec.tags']) ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    topTags: stats.top,
    hasThumbnail: text(md['modelspec.thumbnail']) !== undefined,
  };
  const set = <K extends keyof LoraMetadataSummary>(k: K, v: LoraMetadataSummary[K] | undefined) => {
    if (v !== undefined) summary[k] = v;
  };
  set('title', text(md['modelspec.title']) ?? text(md['ss_output_name']));
  set('author', text(md['modelspec.author']));
  set('description', text(md['modelspec.description']));
  set('license', text(md['modelspec.license']));
  set('baseModelClaim', c?.text);
  set('claimedFamily', c?.family);
  set('networkModule', text(md['ss_network_module']));
  set('networkDim', number(md['ss_network_dim']));
  set('networkAlpha', number(md['ss_network_alpha']));
  if (typeof args === 'object' && args !== null && !Array.isArray(args)) summary.networkArgs = args as Record<string, unknown>;
  else if (args !== undefined) warnings.push('metadata ss_network_args is not a JSON object; ignored');
  set('resolution', resolution(md));
  set('outputName', text(md['ss_output_name']));
  set('sdModelName', text(md['ss_sd_model_name']));
  set('trainingComment', comment);
  return { summary, warnings };
}

/**
 * The prompt a render is drawn with: the user's words, plus the trigger words each
 * LoRA needs to show. People type `/zip subject:corgi style:watercolor prompt:"a
 * corgi surfing"`; the corgi LoRA only answers to "sks dog" and the style LoRA to
 * "watercolor painting". So a subject's name in the prompt is replaced by its first
 * trigger (or the trigger is put in front when the name is absent), and a style's
 * trigger is appended unless the prompt already has it. A prompt that already
 * carries the triggers is left as it is (remixes do not grow).
 *
 * @example
 *   withTriggers('a corgi surfing', { name: 'corgi', triggerWords: ['sks dog'] }, { name: 'watercolor', triggerWords: ['watercolor painting'] });
 *   // 'a sks dog surfing, watercolor painting'
 */

export interface TriggerSource {
  name: string;
  displayName?: string | null;
  triggerWords: readonly string[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const has = (prompt: string, phrase: string) => new RegExp(`(^|[^\\p{L}\\p{N}])${escape(phrase)}($|[^\\p{L}\\p{N}])`, 'iu').test(prompt);

/** The user's prompt with the subject's and the style's trigger words worked in. */
export function withTriggers(prompt: string, subject: TriggerSource, style: TriggerSource): string {
  let p = prompt.trim();
  const st = subject.triggerWords.map((w) => w.trim()).filter(Boolean);
  if (st.length > 0 && !st.some((w) => has(p, w))) {
    const names = [subject.displayName ?? '', subject.name, subject.name.replace(/[-_]/g, ' ')].map((n) => n.trim()).filter(Boolean);
    const name = names.find((n) => has(p, n));
    if (name) p = p.replace(new RegExp(`(^|[^\\p{L}\\p{N}])${escape(name)}(?=$|[^\\p{L}\\p{N}])`, 'iu'), (_m, pre: string) => `${pre}${st[0]}`);
    else p = p ? `${st[0]}, ${p}` : st[0]!;
  }
  const yt = style.triggerWords.map((w) => w.trim()).filter(Boolean);
  if (yt.length > 0 && !yt.some((w) => has(p, w))) p = p ? `${p.replace(/[\s,.;]+$/, '')}, ${yt[0]}` : yt[0]!;
  return p;
}

/** The bank browser page (static HTML + a little script that calls the JSON API). */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zipbank</title>
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: light dark; }
  body { max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
  header { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
  h1 { margin: 0 1rem 0 0; }
  input, select, button { font: inherit; padding: .3rem .5rem; }
  #q { flex: 1; min-width: 12rem; }
  #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1rem; margin-top: 1rem; }
  .card { border: 1px solid #8884; border-radius: 8px; padding: .75rem; cursor: pointer; }
  .card h3 { margin: 0 0 .25rem; font-size: 1.05rem; }
  .meta { opacity: .75; font-size: .85rem; }
  .tags span { display: inline-block; background: #8882; border-radius: 4px; padding: 0 .3rem; margin: .1rem; font-size: .8rem; }
  #detail img { max-width: 160px; border-radius: 6px; margin: .25rem; }
  #empty { margin-top: 2rem; opacity: .8; }
</style>
</head>
<body>
<header>
  <h1>zipbank</h1>
  <input id="q" placeholder="search the bank: corgi, watercolor, ..." autocomplete="off" list="names">
  <datalist id="names"></datalist>
  <select id="kind"><option value="">all kinds</option><option>subject</option><option>style</option><option>other</option></select>
  <select id="base"><option value="">all models</option><option value="sd15">SD 1.x</option><option value="sd2">SD 2.x</option><option value="sdxl">SDXL</option></select>
  <select id="sort"><option value="">best match</option><option value="popular">popular</option><option value="rating">rating</option><option value="newest">newest</option></select>
</header>
<p class="meta" id="status"></p>
<div id="detail"></div>
<div id="grid"></div>
<p id="empty" hidden>The bank is empty. Add a LoRA from a terminal:<br>
<code>npm run cli -- bank add my-lora.safetensors --name corgi --kind subject --prompt "a photo of sks corgi"</code></p>
<button id="more" hidden>more</button>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
let cursor = null;
async function load(append) {
  const p = new URLSearchParams();
  for (const k of ['q', 'kind', 'base', 'sort']) if ($(k).value) p.set(k, $(k).value);
  if (!$('q').value && $('sort').value === '') p.set('sort', 'popular');
  if (append && cursor) p.set('cursor', cursor);
  const r = await fetch('/api/loras?' + p);
  const page = await r.json();
  if (!r.ok) { $('status').textContent = page.error; return; }
  cursor = page.nextCursor || null;
  $('more').hidden = !cursor;
  const html = page.items.map((l) => '<div class="card" data-name="' + esc(l.name) + '"><h3>' + esc(l.displayName) +
    '</h3><div class="meta">' + esc(l.name) + ' · ' + esc(l.kind) + ' · ' + esc(l.baseModel) + ' · ' + l.usesCount + ' uses · ' +
    (l.ratingCount ? l.ratingMean.toFixed(1) + '★' : 'unrated') + '</div><p>' + esc(l.description).slice(0, 160) +
    '</p><div class="tags">' + l.tags.map((t) => '<span>' + esc(t) + '</span>').join('') + '</div></div>').join('');
  $('grid').innerHTML = append ? $('grid').innerHTML + html : html;
  $('empty').hidden = !(page.items.length === 0 && !append && !$('q').value);
}
async function complete() {
  const r = await fetch('/api/autocomplete?prefix=' + encodeURIComponent($('q').value));
  const items = await r.json();
  $('names').innerHTML = items.map((i) => '<option value="' + esc(i.name) + '">' + esc(i.displayName) + '</option>').join('');
}
async function show(name) {
  const r = await fetch('/api/loras/' + encodeURIComponent(name));
  const d = await r.json();
  if (!r.ok) { $('detail').textContent = d.error; return; }
  const l = d.lora;
  $('detail').innerHTML = '<h2>' + esc(l.displayName) + ' <small class="meta">' + esc(l.name) + '</small></h2><p class="meta">' +
    esc(l.kind) + ' · ' + esc(l.baseModel) + ' · ' + esc(l.format) + ' · rank ' + esc(l.ranks.join('/')) + ' · ' + l.moduleCount + ' modules</p>' +
    (l.instancePrompt ? '<p>instance prompt: <code>' + esc(l.instancePrompt) + '</code></p>' : '') +
    (l.triggerWords.length ? '<p>trigger words: ' + l.triggerWords.map(esc).join(', ') + '</p>' : '') +
    '<p>' + esc(l.description) + '</p>' + d.images.map((i) => '<img alt="' + esc(i.prompt) + '" title="' + esc(i.prompt) + '" src="/files/' + esc(i.storageKey) + '">').join('');
}
let timer;
$('q').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { load(false); complete(); }, 150); });
for (const k of ['kind', 'base', 'sort']) $(k).addEventListener('change', () => load(false));
$('more').addEventListener('click', () => load(true));
$('grid').addEventListener('click', (e) => { const c = e.target.closest('.card'); if (c) show(c.dataset.name); });
fetch('/api/health').then((r) => r.json()).then((h) => { $('status').textContent = h.loras + ' LoRAs (' + h.subjects + ' subjects, ' + h.styles + ' styles) · database: ' + h.database; });
load(false);
</script>
</body>
</html>
`;

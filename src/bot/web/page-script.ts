/**
 * The page's script (plain browser JavaScript, no build step): who you are (an id
 * and a display name kept in localStorage), the live channel over Server-Sent
 * Events (messages upserted by id and version, so edits replace in place), the
 * composer (slash-command autocomplete from the server, a staged file for /bank
 * upload), buttons and the form dialog (answers that only this tab sees are drawn
 * here and nowhere else), and the bank gallery.
 *
 * @example
 *   `<script>${PAGE_SCRIPT}</script>`
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const md = (s) => esc(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/\x60([^\x60]+)\x60/g, '<code>$1</code>');
const HEADERS = { 'content-type': 'application/json', 'x-zipbank': '1' };

// ---- who am I -------------------------------------------------------------
function loadMe() {
  let me = null;
  try { me = JSON.parse(localStorage.getItem('zipbank.user') || 'null'); } catch (e) { me = null; }
  if (!me || typeof me.id !== 'string' || !/^[A-Za-z0-9_-]{6,64}$/.test(me.id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    me = { id: 'w' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''), name: '' };
  }
  return me;
}
let me = loadMe();
function saveMe() { localStorage.setItem('zipbank.user', JSON.stringify(me)); $('me').textContent = me.name || '…'; }
function askName() {
  return new Promise((resolve) => {
    $('nameInput').value = me.name || '';
    $('nameDialog').showModal();
    $('nameForm').onsubmit = () => {
      const name = $('nameInput').value.trim().slice(0, 32);
      if (!name) return false;
      me.name = name;
      saveMe();
      resolve();
    };
  });
}
$('me').onclick = async () => { await askName(); connect(); };

// ---- messages ---------------------------------------------------------------
const messages = new Map(); // id -> { version, el, seq }
const log = $('log');
function hue(s) { let h = 0; for (const c of String(s)) h = (h * 31 + c.charCodeAt(0)) >>> 0; return h % 360; }
function avatar(name, id, cls) { return '<span class="' + cls + '" style="background:hsl(' + hue(id) + ' 55% 45%)">' + esc((name || '?').slice(0, 1).toUpperCase()) + '</span>'; }
function clock(iso) { const d = new Date(iso); return '<time title="' + esc(d.toLocaleString()) + '">' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) + '</time>'; }

function cardHtml(c) {
  const fields = (c.fields || []).map((f) => '<div class="' + (f.inline === false || !f.inline ? 'wide' : '') + '"><dt>' + esc(f.name) + '</dt><dd>' + md(f.value) + '</dd></div>').join('');
  const imgs = (c.images || []).map((u, i) => '<img class="' + (c.images.length === 1 ? 'grid' : 'preview') + '" loading="lazy" alt="' + esc(c.title) + ' ' + (i + 1) + '" src="' + esc(u) + '">').join('');
  return '<div class="card"><h4>' + md(c.title) + '</h4>' + (c.description ? '<p>' + md(c.description) + '</p>' : '') +
    (fields ? '<dl class="fields">' + fields + '</dl>' : '') + imgs + (c.footer ? '<div class="footer">' + esc(c.footer) + '</div>' : '') + '</div>';
}

function messageHtml(m) {
  const by = m.by ? '<div class="invoke">' + avatar(m.by.name, m.by.id, 'mini') + ' <b>' + esc(m.by.name) + '</b> ' +
    (m.by.action.charAt(0) === '/' ? 'used <code>' + esc(m.by.action) + '</code>' : esc(m.by.action)) + '</div>' : '';
  const head = '<div class="head"><b>zipbank</b><span class="badge">BOT</span>' + clock(m.createdAt) + (m.version > 1 && !m.renderId ? '<span class="edited">(edited)</span>' : '') + '</div>';
  const atts = (m.attachments || []).map((a) => a.image
    ? '<a href="' + esc(a.url) + '" target="_blank"><img alt="' + esc(a.name) + '" src="' + esc(a.url) + '"></a>'
    : '<a class="file" href="' + esc(a.url) + '" download="' + esc(a.name) + '">⬇ ' + esc(a.name) + '</a>').join('');
  const rows = (m.buttons || []).map((row) => '<div class="row">' + row.map((b) =>
    '<button type="button" class="' + esc(b.style) + '" data-custom-id="' + esc(b.id) + '"' + (b.disabled ? ' disabled' : '') + '>' + esc(b.label) + '</button>').join('') + '</div>').join('');
  const eph = m.ephemeral ? '<div class="eph-note">Only you can see this · <a data-dismiss>Dismiss</a></div>' : '';
  return '<div class="avatar bot">zb</div><div class="body">' + by + head + '<div class="text">' + md(m.text) + '</div>' +
    (m.cards || []).map(cardHtml).join('') + (atts ? '<div class="atts">' + atts + '</div>' : '') + rows + eph + '</div>';
}

function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 120; }
function upsert(m) {
  const old = messages.get(m.id);
  if (old && old.version >= m.version) return;
  const stick = nearBottom();
  const el = old ? old.el : document.createElement('article');
  el.className = 'msg' + (m.ephemeral ? ' eph' : '');
  el.dataset.id = m.id;
  if (m.renderId) el.dataset.renderId = m.renderId;
  el.dataset.live = m.live ? '1' : '0';
  el.dataset.version = String(m.version);
  const used = old ? Array.from(el.querySelectorAll('button.used')).map((b) => b.dataset.customId) : [];
  el.innerHTML = messageHtml(m);
  for (const id of used) { const b = el.querySelector('button[data-custom-id="' + CSS.escape(id) + '"]'); if (b) b.classList.add('used'); }
  if (!old) {
    const empty = log.querySelector('.empty');
    if (empty) empty.remove();
    // Keep stored messages in posting order; private ones go where they happened (the end).
    let before = null;
    if (m.seq != null) for (const [, o] of messages) if (o.seq != null && o.seq > m.seq && (!before || o.seq < Number(before.dataset.seq))) before = o.el;
    if (m.seq != null) el.dataset.seq = String(m.seq);
    log.insertBefore(el, before);
  }
  messages.set(m.id, { version: m.version, el, seq: m.seq });
  if (stick || !old) log.scrollTop = log.scrollHeight;
}
function note(text) {
  const now = new Date().toISOString();
  upsert({ id: 'note-' + Math.random().toString(36).slice(2), version: 1, createdAt: now, updatedAt: now, ephemeral: true, text: text, cards: [], attachments: [], buttons: [], live: false });
}

log.addEventListener('click', (e) => {
  const dismiss = e.target.closest('[data-dismiss]');
  if (dismiss) { const el = dismiss.closest('.msg'); messages.delete(el.dataset.id); el.remove(); return; }
  const b = e.target.closest('button[data-custom-id]');
  if (!b || b.disabled) return;
  b.classList.add('used');
  const msg = b.closest('.msg');
  act('/api/channel/button', { customId: b.dataset.customId, messageId: msg ? msg.dataset.id : undefined });
});

async function act(path, body) {
  try {
    const r = await fetch(path, { method: 'POST', headers: HEADERS, body: JSON.stringify(Object.assign({ user: me }, body)) });
    const out = await r.json();
    if (!r.ok) { note(out.error || ('the server answered ' + r.status)); return out; }
    if (out.message) upsert(out.message);
    if (out.form) openForm(out.form);
    return out;
  } catch (e) {
    note('could not reach zipbank: ' + e.message);
    return null;
  }
}

// ---- forms (Remix) ----------------------------------------------------------
function openForm(f) {
  const body = $('formBody');
  body.innerHTML = '<h3>' + esc(f.title) + '</h3>' + f.fields.map((x) =>
    '<label for="field-' + esc(x.id) + '">' + esc(x.label) + '</label>' + (x.style === 'paragraph'
      ? '<textarea id="field-' + esc(x.id) + '" name="' + esc(x.id) + '" rows="3"' + (x.maxLength ? ' maxlength="' + x.maxLength + '"' : '') + (x.required ? ' required' : '') + ' placeholder="' + esc(x.placeholder || '') + '">' + esc(x.value || '') + '</textarea>'
      : '<input id="field-' + esc(x.id) + '" name="' + esc(x.id) + '" value="' + esc(x.value || '') + '"' + (x.maxLength ? ' maxlength="' + x.maxLength + '"' : '') + (x.required ? ' required' : '') + '>')).join('') +
    '<div class="actions"><button type="button" class="cancel">Cancel</button><button class="ok" value="ok">Submit</button></div>';
  body.querySelector('.cancel').onclick = () => $('formDialog').close();
  body.onsubmit = (e) => {
    e.preventDefault();
    const fields = {};
    for (const x of f.fields) fields[x.id] = body.elements[x.id].value;
    $('formDialog').close();
    act('/api/channel/form', { customId: f.id, fields: fields });
  };
  $('formDialog').showModal();
}

// ---- live channel -----------------------------------------------------------
let source = null;
function connect() {
  if (source) source.close();
  const q = new URLSearchParams({ userId: me.id, userName: me.name });
  source = new EventSource('/api/channel/events?' + q);
  source.addEventListener('hello', (e) => {
    const d = JSON.parse(e.data);
    for (const m of d.messages) upsert(m);
    showOnline(d.online);
    document.body.dataset.connected = '1';
  });
  source.addEventListener('message', (e) => upsert(JSON.parse(e.data).message));
  source.addEventListener('presence', (e) => showOnline(JSON.parse(e.data).online));
  source.onerror = () => { document.body.dataset.connected = '0'; };
}
function showOnline(names) { $('online').textContent = names.length ? 'here: ' + names.join(', ') : ''; }

// ---- composer: send, attach, autocomplete --------------------------------------
const input = $('input');
let staged = null;
function grow() { input.style.height = 'auto'; input.style.height = Math.min(input.scrollHeight, 128) + 'px'; }
async function send() {
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  grow();
  hidePopup();
  $('hint').textContent = '';
  const attachments = staged ? [staged.id] : [];
  staged = null;
  $('attached').hidden = true;
  $('send').disabled = true;
  try { await act('/api/channel/command', { text: text, attachments: attachments }); } finally { $('send').disabled = false; input.focus(); }
}
$('sendForm').onsubmit = (e) => { e.preventDefault(); send(); };

$('file').onchange = async () => {
  const f = $('file').files[0];
  $('file').value = '';
  if (!f) return;
  $('attached').hidden = false;
  $('attached').textContent = '📎 uploading ' + f.name + '…';
  const q = new URLSearchParams({ filename: f.name, userId: me.id, userName: me.name });
  try {
    const r = await fetch('/api/channel/attachments?' + q, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-zipbank': '1' }, body: f });
    const out = await r.json();
    if (!r.ok) { $('attached').hidden = true; note(out.error); return; }
    staged = out;
    $('attached').innerHTML = '📎 ' + esc(out.filename) + ' (' + (out.size / 1048576).toFixed(1) + ' MiB) <button type="button" title="remove">✕</button>';
    $('attached').querySelector('button').onclick = () => { staged = null; $('attached').hidden = true; };
    if (!input.value.trim()) { input.value = '/bank upload name:' + out.filename.replace(/\.safetensors$/i, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 32) + ' kind:'; complete(); }
    input.focus();
  } catch (e) { $('attached').hidden = true; note('upload failed: ' + e.message); }
};

let popupItems = [];
let popupSel = 0;
let popupRange = null;
let completeSeq = 0;
let completeTimer = null;
function hidePopup() { $('popup').hidden = true; popupItems = []; }
function drawPopup() {
  const p = $('popup');
  if (!popupItems.length) { p.hidden = true; return; }
  p.innerHTML = popupItems.map((it, i) => '<div data-i="' + i + '" class="' + (i === popupSel ? 'sel' : '') + '"><span>' + esc(it.label) + '</span><small>' + esc(it.detail || '') + '</small></div>').join('');
  p.hidden = false;
  const sel = p.querySelector('.sel');
  if (sel) sel.scrollIntoView({ block: 'nearest' });
}
function complete() {
  clearTimeout(completeTimer);
  completeTimer = setTimeout(async () => {
    const seq = ++completeSeq;
    const text = input.value;
    if (!text.startsWith('/')) { hidePopup(); $('hint').textContent = ''; return; }
    try {
      const r = await fetch('/api/channel/complete', { method: 'POST', headers: HEADERS, body: JSON.stringify({ user: me, text: text, cursor: input.selectionStart }) });
      const c = await r.json();
      if (seq !== completeSeq || input.value !== text) return;
      if (!r.ok) { hidePopup(); return; }
      popupItems = c.items || [];
      popupSel = 0;
      popupRange = { start: c.start, end: c.end };
      $('hint').textContent = c.hint || '';
      drawPopup();
    } catch (e) { hidePopup(); }
  }, 60);
}
function accept(i) {
  const it = popupItems[i];
  if (!it || !popupRange) return;
  const v = input.value;
  input.value = v.slice(0, popupRange.start) + it.insert + v.slice(popupRange.end);
  const caret = popupRange.start + it.insert.length;
  input.setSelectionRange(caret, caret);
  hidePopup();
  grow();
  input.focus();
  complete();
}
$('popup').addEventListener('mousedown', (e) => { const d = e.target.closest('[data-i]'); if (d) { e.preventDefault(); accept(Number(d.dataset.i)); } });
input.addEventListener('input', () => { hidePopup(); grow(); complete(); });
input.addEventListener('click', complete);
input.addEventListener('keydown', (e) => {
  const open = !$('popup').hidden && popupItems.length > 0;
  if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
    e.preventDefault();
    popupSel = (popupSel + (e.key === 'ArrowDown' ? 1 : popupItems.length - 1)) % popupItems.length;
    drawPopup();
  } else if (open && e.key === 'Tab') {
    e.preventDefault();
    accept(popupSel);
  } else if (open && e.key === 'Escape') {
    hidePopup();
  } else if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    if (open && popupItems[popupSel] && !/\s$/.test(input.value.slice(0, input.selectionStart)) && popupItems[popupSel].insert !== input.value.slice(popupRange.start, popupRange.end)) accept(popupSel);
    else send();
  }
});
input.addEventListener('blur', () => setTimeout(hidePopup, 150));

// ---- tabs and the bank gallery ------------------------------------------------
function tab(which) {
  $('chat').hidden = which !== 'chat';
  $('bank').hidden = which !== 'bank';
  $('tabChat').classList.toggle('on', which === 'chat');
  $('tabBank').classList.toggle('on', which === 'bank');
  if (which === 'bank') loadBank(false);
  else input.focus();
}
$('tabChat').onclick = () => tab('chat');
$('tabBank').onclick = () => tab('bank');

let cursor = null;
async function loadBank(append) {
  const p = new URLSearchParams();
  for (const k of ['q', 'kind', 'base', 'sort']) if ($(k).value) p.set(k, $(k).value);
  if (!$('q').value && $('sort').value === '') p.set('sort', 'popular');
  if (append && cursor) p.set('cursor', cursor);
  const r = await fetch('/api/loras?' + p);
  const page = await r.json();
  if (!r.ok) { $('status').textContent = page.error; return; }
  cursor = page.nextCursor || null;
  $('more').hidden = !cursor;
  const html = page.items.map((l) => '<div class="lora" data-name="' + esc(l.name) + '"><div class="pic">' +
    (l.preview ? '<img loading="lazy" alt="' + esc(l.displayName) + '" src="' + esc(l.preview) + '">' : esc(l.name.slice(0, 1).toUpperCase())) +
    '</div><div class="info"><h3>' + esc(l.displayName) + '</h3><div class="meta">' + esc(l.name) + ' · ' + esc(l.kind) + ' · ' + esc(l.baseModel) + ' · ' + l.usesCount + ' uses · ' +
    (l.ratingCount ? l.ratingMean.toFixed(1) + '★' : 'unrated') + '</div><div class="tags">' + l.tags.map((t) => '<span>' + esc(t) + '</span>').join('') + '</div></div></div>').join('');
  $('gallery').innerHTML = append ? $('gallery').innerHTML + html : html;
  $('emptyBank').hidden = !(page.items.length === 0 && !append && !$('q').value);
  fetch('/api/health').then((x) => x.json()).then((h) => { $('status').textContent = h.loras + ' LoRAs (' + h.subjects + ' subjects, ' + h.styles + ' styles) · database: ' + h.database; });
}
async function names() {
  const r = await fetch('/api/autocomplete?prefix=' + encodeURIComponent($('q').value));
  const items = await r.json();
  $('names').innerHTML = items.map((i) => '<option value="' + esc(i.name) + '">' + esc(i.displayName) + '</option>').join('');
}
function useInZip(slot, name) {
  let v = input.value.trim();
  if (!v.startsWith('/zip')) v = '/zip';
  v = v.replace(new RegExp('\\s' + slot + ':\\S*'), '');
  input.value = v + ' ' + slot + ':' + name + ' ';
  tab('chat');
  grow();
  complete();
}
async function showLora(name) {
  const r = await fetch('/api/loras/' + encodeURIComponent(name));
  const d = await r.json();
  if (!r.ok) { $('detail').textContent = d.error; return; }
  const l = d.lora;
  $('detail').innerHTML = '<div class="box"><h2>' + esc(l.displayName) + ' <small class="meta">' + esc(l.name) + '</small></h2><p class="meta">' +
    esc(l.kind) + ' · ' + esc(l.baseModel) + ' · ' + esc(l.format) + ' · rank ' + esc(l.ranks.join('/')) + ' · ' + l.moduleCount + ' modules</p>' +
    (l.instancePrompt ? '<p>instance prompt: <code>' + esc(l.instancePrompt) + '</code></p>' : '') +
    (l.triggerWords.length ? '<p>trigger words: ' + l.triggerWords.map(esc).join(', ') + '</p>' : '') +
    '<p>' + esc(l.description) + '</p>' + d.images.map((i) => '<img alt="' + esc(i.prompt || l.name) + '" title="' + esc(i.prompt || '') + '" src="/files/' + esc(i.storageKey) + '">').join('') +
    '<p>' + (l.kind === 'subject' || l.kind === 'style' ? '<button data-use="' + esc(l.kind) + '" data-name="' + esc(l.name) + '">Use as ' + esc(l.kind) + ' in /zip</button>' : '') +
    '<button data-close>Close</button></p></div>';
}
$('detail').addEventListener('click', (e) => {
  const u = e.target.closest('[data-use]');
  if (u) useInZip(u.dataset.use, u.dataset.name);
  if (e.target.closest('[data-close]')) $('detail').innerHTML = '';
});
let qTimer;
$('q').addEventListener('input', () => { clearTimeout(qTimer); qTimer = setTimeout(() => { loadBank(false); names(); }, 150); });
for (const k of ['kind', 'base', 'sort']) $(k).addEventListener('change', () => loadBank(false));
$('more').addEventListener('click', () => loadBank(true));
$('gallery').addEventListener('click', (e) => { const c = e.target.closest('.lora'); if (c) showLora(c.dataset.name); });

// ---- start ----------------------------------------------------------------------
(async () => {
  saveMe();
  if (!me.name) await askName();
  connect();
  input.focus();
})();
`;

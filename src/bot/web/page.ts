/**
 * The page `npm start` serves: one chat channel (messages with names, avatars and
 * times, the bot's cards, images and buttons, a composer with slash-command
 * autocomplete and a file button, the Remix form as a dialog) and the bank as a
 * gallery with preview images. Plain HTML and CSS; the script is ./page-script.ts.
 *
 * @example
 *   res.end(PAGE_HTML);
 */
import { PAGE_SCRIPT } from './page-script.ts';

const STYLE = String.raw`
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color-scheme: light dark;
    --bg: #f6f7f9; --panel: #fff; --text: #1d1f23; --muted: #6b7280; --line: #e3e5e8; --accent: #5865f2; --accent-text: #fff;
    --hover: #eef0f3; --code: #eceff3; --eph: #f2f4ff; --danger: #d83c3e; --success: #248046; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #1e1f22; --panel: #2b2d31; --text: #e6e7e9; --muted: #9aa0a8; --line: #3a3c42; --hover: #32343a; --code: #1e1f22; --eph: #2f3247; }
  }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  html, body { height: 100%; margin: 0; }
  body { background: var(--bg); color: var(--text); display: flex; flex-direction: column; }
  header { display: flex; align-items: center; gap: 1rem; padding: .5rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header h1 span { color: var(--muted); font-weight: normal; }
  nav button { background: none; border: 0; padding: .35rem .7rem; border-radius: 6px; color: var(--muted); cursor: pointer; font: inherit; }
  nav button.on { background: var(--hover); color: var(--text); font-weight: 600; }
  #online { color: var(--muted); font-size: .85rem; flex: 1; text-align: right; }
  #me { font: inherit; background: var(--hover); border: 0; border-radius: 6px; padding: .3rem .6rem; color: var(--text); cursor: pointer; }
  main { flex: 1; min-height: 0; display: flex; }
  #chat { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  #log { flex: 1; overflow-y: auto; padding: 1rem 0; }
  #log .empty { color: var(--muted); padding: 1rem 1.25rem; }
  .msg { display: flex; gap: .75rem; padding: .35rem 1.25rem; }
  .msg:hover { background: var(--hover); }
  .msg.eph { background: var(--eph); }
  .avatar { width: 38px; height: 38px; border-radius: 50%; flex: none; display: grid; place-items: center; font-weight: 700; color: #fff; font-size: .95rem; margin-top: 1.1rem; }
  .avatar.bot { background: var(--accent); }
  .mini { display: inline-grid; place-items: center; width: 16px; height: 16px; border-radius: 50%; color: #fff; font-size: .6rem; font-weight: 700; vertical-align: -2px; }
  .body { min-width: 0; flex: 1; }
  .invoke { color: var(--muted); font-size: .8rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .invoke code { font-size: .78rem; }
  .head { display: flex; gap: .4rem; align-items: baseline; }
  .head b { font-weight: 600; }
  .badge { background: var(--accent); color: var(--accent-text); font-size: .62rem; border-radius: 3px; padding: 0 .25rem; font-weight: 700; }
  time, .edited { color: var(--muted); font-size: .75rem; }
  .text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.4; }
  code { background: var(--code); border-radius: 3px; padding: 0 .25rem; font-size: .88em; }
  .card { border-left: 4px solid var(--accent); background: var(--panel); border-radius: 4px; padding: .6rem .8rem; margin-top: .4rem; max-width: 560px; box-shadow: 0 0 0 1px var(--line); }
  .card h4 { margin: 0 0 .25rem; font-size: .95rem; }
  .card p { margin: .2rem 0 .4rem; white-space: pre-wrap; }
  .fields { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: .35rem .8rem; font-size: .85rem; }
  .fields .wide { grid-column: 1 / -1; }
  .fields dt { font-weight: 600; }
  .fields dd { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
  .card img, .atts img { max-width: 100%; border-radius: 4px; margin-top: .5rem; image-rendering: auto; display: block; }
  .card img.grid { width: 400px; max-width: 100%; image-rendering: pixelated; }
  .card .footer { color: var(--muted); font-size: .75rem; margin-top: .3rem; }
  .atts { display: flex; flex-wrap: wrap; gap: .5rem; }
  .atts img { width: 256px; image-rendering: pixelated; }
  .atts a.file { display: inline-block; margin-top: .4rem; padding: .4rem .6rem; background: var(--panel); border: 1px solid var(--line); border-radius: 4px; color: var(--text); text-decoration: none; }
  .row { display: flex; gap: .4rem; margin-top: .4rem; flex-wrap: wrap; }
  .row button { font: inherit; font-size: .85rem; border: 0; border-radius: 4px; padding: .3rem .75rem; cursor: pointer; color: #fff; background: #6d6f78; }
  .row button.primary { background: var(--accent); }
  .row button.success { background: var(--success); }
  .row button.danger { background: var(--danger); }
  .row button.used { outline: 2px solid var(--success); outline-offset: 1px; }
  .row button:disabled { opacity: .5; cursor: default; }
  .eph-note { color: var(--muted); font-size: .75rem; margin-top: .2rem; }
  .eph-note a { color: var(--accent); cursor: pointer; }
  #composer { padding: 0 1.25rem 1rem; position: relative; }
  #popup { position: absolute; bottom: 100%; left: 1.25rem; right: 1.25rem; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; max-height: 300px; overflow-y: auto; box-shadow: 0 4px 16px #0003; }
  #popup div { padding: .35rem .7rem; cursor: pointer; display: flex; gap: .75rem; }
  #popup div.sel, #popup div:hover { background: var(--hover); }
  #popup small { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #hint { color: var(--muted); font-size: .8rem; min-height: 1.1rem; padding: .1rem .2rem; }
  #sendForm { display: flex; gap: .5rem; align-items: flex-end; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .4rem; }
  #input { flex: 1; resize: none; border: 0; background: none; color: var(--text); font: inherit; padding: .35rem; max-height: 8rem; outline: none; }
  #attach { cursor: pointer; padding: .35rem .5rem; border-radius: 6px; }
  #attach:hover { background: var(--hover); }
  #attach input { display: none; }
  #send { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .4rem .9rem; cursor: pointer; }
  #attached { font-size: .85rem; margin-bottom: .3rem; }
  #attached button { background: none; border: 0; color: var(--muted); cursor: pointer; }
  #bank { flex: 1; overflow-y: auto; padding: 1rem 1.25rem; }
  #bank .filters { display: flex; gap: .5rem; flex-wrap: wrap; }
  #bank input, #bank select, dialog input, dialog textarea { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--text); }
  #q { flex: 1; min-width: 12rem; }
  #gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1rem; margin-top: 1rem; }
  .lora { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; cursor: pointer; }
  .lora .pic { aspect-ratio: 1; background: var(--hover); display: grid; place-items: center; font-size: 2.5rem; color: var(--muted); }
  .lora .pic img { width: 100%; height: 100%; object-fit: cover; }
  .lora .info { padding: .5rem .6rem; }
  .lora h3 { margin: 0; font-size: 1rem; }
  .meta { color: var(--muted); font-size: .8rem; }
  .tags span { display: inline-block; background: var(--hover); border-radius: 4px; padding: 0 .3rem; margin: .1rem; font-size: .75rem; }
  #detail { margin-top: 1rem; }
  #detail:empty { display: none; }
  #detail .box { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; }
  #detail img { width: 160px; border-radius: 6px; margin: .25rem; }
  #detail button, #more { font: inherit; border: 1px solid var(--line); background: var(--panel); color: var(--text); border-radius: 6px; padding: .3rem .7rem; cursor: pointer; margin-right: .4rem; }
  dialog { border: 0; border-radius: 10px; padding: 1.2rem; background: var(--panel); color: var(--text); width: min(520px, 92vw); box-shadow: 0 8px 32px #0005; }
  dialog::backdrop { background: #0008; }
  dialog h3 { margin-top: 0; }
  dialog label { display: block; font-size: .8rem; font-weight: 600; text-transform: uppercase; color: var(--muted); margin: .6rem 0 .25rem; }
  dialog textarea, dialog input { width: 100%; }
  dialog .actions { display: flex; justify-content: flex-end; gap: .5rem; margin-top: 1rem; }
  dialog .actions button { font: inherit; border: 0; border-radius: 6px; padding: .4rem 1rem; cursor: pointer; }
  dialog .actions .ok { background: var(--accent); color: #fff; }
  dialog .actions .cancel { background: none; color: var(--text); }
`;

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zipbank</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>zipbank <span>#main</span></h1>
  <nav><button id="tabChat" class="on">Channel</button><button id="tabBank">Bank</button></nav>
  <div id="online"></div>
  <button id="me" title="change your display name">…</button>
</header>
<main>
  <section id="chat">
    <div id="log" aria-live="polite"><div class="empty">Type <code>/</code> to see the commands. Try <code>/bank top</code>, then <code>/zip subject:… style:… prompt:"…"</code>.</div></div>
    <div id="composer">
      <div id="popup" hidden></div>
      <div id="attached" hidden></div>
      <form id="sendForm" autocomplete="off">
        <label id="attach" title="attach a LoRA (.safetensors) for /bank upload">📎<input id="file" type="file" accept=".safetensors"></label>
        <textarea id="input" rows="1" placeholder="/zip subject:corgi style:watercolor prompt:&quot;a corgi surfing&quot;" spellcheck="false"></textarea>
        <button id="send" type="submit">Send</button>
      </form>
      <div id="hint"></div>
    </div>
  </section>
  <section id="bank" hidden>
    <div class="filters">
      <input id="q" placeholder="search the bank: corgi, watercolor, ..." autocomplete="off" list="names">
      <datalist id="names"></datalist>
      <select id="kind"><option value="">all kinds</option><option>subject</option><option>style</option><option>other</option></select>
      <select id="base"><option value="">all models</option><option value="sd15">SD 1.x</option><option value="sd2">SD 2.x</option><option value="sdxl">SDXL</option></select>
      <select id="sort"><option value="">best match</option><option value="popular">popular</option><option value="rating">rating</option><option value="newest">newest</option></select>
    </div>
    <p class="meta" id="status"></p>
    <div id="detail"></div>
    <div id="gallery"></div>
    <p id="emptyBank" class="meta" hidden>The bank is empty. Attach a LoRA with 📎 in the channel and send <code>/bank upload name:corgi kind:subject</code>, or from a terminal:<br>
    <code>npm run cli -- bank add my-lora.safetensors --name corgi --kind subject --prompt "a photo of sks corgi"</code></p>
    <button id="more" hidden>more</button>
  </section>
</main>
<dialog id="formDialog"><form method="dialog" id="formBody"></form></dialog>
<dialog id="nameDialog"><form method="dialog" id="nameForm">
  <h3>Who are you?</h3>
  <label for="nameInput">Display name (others in the channel see it)</label>
  <input id="nameInput" maxlength="32" required autofocus>
  <div class="actions"><button class="ok" value="ok">Join the channel</button></div>
</form></dialog>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

// Humandocs in the browser. Plain JavaScript, no framework, no build step.
//
// The open note's body is edited against a *shadow*: the body as the app last confirmed it, at
// some Automerge heads. Each edit goes to the app as one splice against those heads (one request
// at a time; typing meanwhile is gathered into the next splice). Changes made elsewhere arrive as
// splices against the shadow and are applied to the text being typed with the cursor and selection
// kept on the same characters. The app speaks in Unicode code points, the textarea in UTF-16.
'use strict';

const $ = (sel) => document.querySelector(sel);
const els = {
  list: $('#note-list'), empty: $('#list-empty'), search: $('#search'), newNote: $('#new-note'),
  form: $('#note-form'), none: $('#no-note'), title: $('#title'), body: $('#body'),
  del: $('#delete-note'), meta: $('#note-meta'), save: $('#save-state'), toast: $('#toast'),
  sync: $('#sync-indicator'), syncText: $('#sync-text'), syncLast: $('#sync-last'),
  devicesBtn: $('#devices-button'), dialog: $('#devices-dialog'), devClose: $('#devices-close'),
  devList: $('#device-list'), pairForm: $('#pair-form'), pairUrl: $('#pair-url'),
  pairPw: $('#pair-password'), pairResult: $('#pair-result'), revokeSection: $('#revoke-section'),
  revokeForm: $('#revoke-form'), revokeDevice: $('#revoke-device'), revokePw: $('#revoke-password'),
  revokeResult: $('#revoke-result'), inviteSection: $('#invite-section'), inviteForm: $('#invite-form'),
  inviteMinutes: $('#invite-minutes'), inviteResult: $('#invite-result'), inviteOut: $('#invite-out'),
  inviteLink: $('#invite-link'), inviteQr: $('#invite-qr'), inviteCopy: $('#invite-copy'), files: $('#attachments'), fileInput: $('#file-input'),
  imageDialog: $('#image-dialog'), imageFull: $('#image-full'), imageName: $('#image-name'),
  imageClose: $('#image-close'), historyBtn: $('#history-button'), historyDialog: $('#history-dialog'),
  historyClose: $('#history-close'), versions: $('#version-list'), versionHeading: $('#version-heading'),
  versionPreview: $('#version-preview'), restore: $('#restore-version'), mergeLegend: $('#merge-legend'),
};

// ---------- HTTP ----------

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  return { status: r.status, ok: r.ok, data };
}

function errorText(r) {
  return (r.data && r.data.error && r.data.error.message) || `error ${r.status}`;
}

let toastTimer = null;
function toast(text) {
  els.toast.textContent = text;
  els.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { els.toast.hidden = true; }, 5000);
}

// ---------- text positions ----------

const isHigh = (c) => c >= 0xd800 && c < 0xdc00;
const isLow = (c) => c >= 0xdc00 && c < 0xe000;

/** UTF-16 offset of code point `cp` in `s`. */
function cpToU16(s, cp) {
  let i = 0;
  while (cp > 0 && i < s.length) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length ? 2 : 1;
    cp--;
  }
  return i;
}

/** Code points in `s` before UTF-16 offset `u`. */
function u16ToCp(s, u) {
  let n = 0;
  for (let i = 0; i < u; n++) i += isHigh(s.charCodeAt(i)) ? 2 : 1;
  return n;
}

/** One splice turning `a` into `b` (common prefix and suffix kept), in UTF-16 units. */
function diff(a, b) {
  const max = Math.min(a.length, b.length);
  let p = 0;
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  if (p > 0 && isHigh(a.charCodeAt(p - 1))) p--;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && isLow(a.charCodeAt(a.length - s))) s--;
  return { pos: p, del: a.length - p - s, ins: b.slice(p, b.length - s) };
}

// ---------- the open note ----------

const ed = {
  id: null, shadow: '', heads: [], busy: false, needPull: false,
  titleTimer: null, titleDirty: false, composing: false,
};
// For the browser test: when a local keystroke and a remote change were last seen (epoch ms).
window.hdLastInput = 0;
window.hdLastRemoteRender = 0;

function setSaveState(text) { els.save.textContent = text; }

async function openNote(id) {
  const r = await api('GET', `/api/notes/${id}`);
  if (!r.ok) { toast(errorText(r)); loadList(); return; }
  if (ed.id !== id) shownFiles = '';
  ed.id = id; ed.needPull = false; ed.titleDirty = false;
  ed.shadow = r.data.body; ed.heads = r.data.heads;
  els.none.hidden = true; els.form.hidden = false;
  els.title.value = r.data.title;
  els.body.value = r.data.body;
  showMeta(r.data);
  renderAttachments(r.data.attachments);
  setSaveState('');
  markCurrent();
}

function closeNote() {
  ed.id = null;
  shownFiles = '';
  els.files.replaceChildren();
  els.form.hidden = true; els.none.hidden = false;
  markCurrent();
}

function showMeta(note) {
  const when = note.updated_at_ms ? `Edited ${ago(note.updated_at_ms)}` : '';
  const who = note.edited_by ? ` on ${deviceName(note.edited_by)}` : '';
  els.meta.textContent = when + who;
}

/** Sends what was typed, or first catches up with changes from elsewhere; one request at a time. */
async function flush() {
  if (ed.busy || !ed.id || ed.composing) return;
  const id = ed.id;
  ed.busy = true;
  try {
    if (ed.needPull) {
      ed.needPull = false;
      const r = await api('GET', `/api/notes/${id}/catchup?heads=${ed.heads.join(',')}`);
      if (ed.id !== id) return;
      if (r.ok) applyCatchup(r.data);
      else if (r.status === 404) { noteGone(); return; }
      else toast(errorText(r));
    } else {
      const value = els.body.value;
      if (value === ed.shadow) { setSaveState('Saved'); return; }
      const d = diff(ed.shadow, value);
      const req = {
        heads: ed.heads,
        pos: u16ToCp(ed.shadow, d.pos),
        del: u16ToCp(ed.shadow.slice(d.pos), d.del),
        ins: d.ins,
      };
      setSaveState('Saving…');
      const r = await api('POST', `/api/notes/${id}/splice`, req);
      if (ed.id !== id) return;
      if (r.ok) { ed.shadow = value; ed.heads = r.data.heads; }
      else if (r.status === 409) applyCatchup(r.data);
      else if (r.status === 404) { noteGone(); return; }
      else { toast(errorText(r)); await openNote(id); return; }
    }
  } catch (e) {
    setSaveState('Not reachable — retrying');
    setTimeout(flush, 1500);
    return;
  } finally {
    ed.busy = false;
  }
  flush();
}

/** Applies a catch-up (splices against the shadow, or the whole text) to shadow and textarea. */
function applyCatchup(c) {
  if (c.body.kind === 'reset') {
    const d = diff(ed.shadow, c.body.text);
    remoteSplice(d.pos, d.del, d.ins);
  } else {
    for (const s of c.body.splices) {
      const p = cpToU16(ed.shadow, s.pos);
      const e = p + cpToU16(ed.shadow.slice(p), s.del);
      remoteSplice(p, e - p, s.ins);
    }
  }
  ed.heads = c.heads;
  if (!ed.titleDirty && document.activeElement !== els.title && els.title.value !== c.title) {
    els.title.value = c.title;
  }
}

/**
 * Applies a splice made elsewhere (UTF-16 offsets into the shadow) to the shadow and to the
 * textarea, whose text may hold local edits not sent yet; those edits, the cursor and the
 * selection stay on the characters they were on.
 */
function remoteSplice(p, d, t) {
  if (d === 0 && t.length === 0) return;
  const ta = els.body;
  let value = ta.value;
  const local = diff(ed.shadow, value);
  const a = local.pos, b = local.del, u = local.ins.length, shift = u - b;
  const e = p + d;
  // Deleted ranges in textarea coordinates (what lies inside the local edit is left alone).
  const pieces = [];
  if (d > 0) {
    if (e > a + b) pieces.push([Math.max(p, a + b) + shift, e + shift]);
    if (p < a) pieces.push([p, Math.min(e, a)]);
  }
  const at = p <= a ? p : (p >= a + b ? p + shift : a + u);
  let s0 = ta.selectionStart, s1 = ta.selectionEnd;
  const dir = ta.selectionDirection;
  const delMap = (x, from, to) => (x >= to ? x - (to - from) : (x > from ? from : x));
  for (const [from, to] of pieces) { // right to left
    value = value.slice(0, from) + value.slice(to);
    s0 = delMap(s0, from, to); s1 = delMap(s1, from, to);
  }
  if (t.length) {
    value = value.slice(0, at) + t + value.slice(at);
    if (s0 > at) s0 += t.length;
    if (s1 > at) s1 += t.length;
  }
  ed.shadow = ed.shadow.slice(0, p) + t + ed.shadow.slice(e);
  const scroll = ta.scrollTop;
  ta.value = value;
  ta.setSelectionRange(s0, s1, dir);
  ta.scrollTop = scroll;
  window.hdLastRemoteRender = Date.now();
}

function noteGone() {
  toast('This note was deleted.');
  closeNote();
  loadList();
}

els.body.addEventListener('input', () => {
  window.hdLastInput = Date.now();
  setSaveState('Saving…');
  flush();
});
els.body.addEventListener('compositionstart', () => { ed.composing = true; });
els.body.addEventListener('compositionend', () => { ed.composing = false; flush(); });

els.title.addEventListener('input', () => {
  ed.titleDirty = true;
  clearTimeout(ed.titleTimer);
  ed.titleTimer = setTimeout(sendTitle, 250);
});

async function sendTitle() {
  if (!ed.id) return;
  const id = ed.id, title = els.title.value;
  const r = await api('PUT', `/api/notes/${id}/title`, { title });
  if (!r.ok) { toast(errorText(r)); return; }
  if (ed.id === id && els.title.value === title) ed.titleDirty = false;
  setSaveState('Saved');
  loadList();
}

els.del.addEventListener('click', async () => {
  if (!ed.id) return;
  const name = els.title.value || 'this note';
  if (!confirm(`Delete “${name}” on all your devices?`)) return;
  const r = await api('DELETE', `/api/notes/${ed.id}`);
  if (!r.ok) { toast(errorText(r)); return; }
  closeNote();
  loadList();
});

els.newNote.addEventListener('click', newNote);
async function newNote() {
  const r = await api('POST', '/api/notes', { title: '', body: '' });
  if (!r.ok) { toast(errorText(r)); return; }
  await openNote(r.data.id);
  await loadList();
  els.title.focus();
}

// ---------- attachments ----------

const INLINE = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
let shownFiles = '';

function fileUrl(name) { return `/api/notes/${ed.id}/attachments/${encodeURIComponent(name)}`; }

function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

/** Shows the attachments: images as thumbnails once their bytes are here, others as downloads. */
function renderAttachments(list) {
  const key = JSON.stringify(list.map((a) => [a.name, a.hash]));
  if (key === shownFiles) return;
  shownFiles = key;
  els.files.replaceChildren(...list.map((a) => {
    const li = document.createElement('li');
    li.dataset.name = a.name;
    const name = document.createElement('span');
    name.className = 'a-name';
    name.textContent = `${a.name} · ${size(a.size)}`;
    li.append(name);
    showWhenHere(li, a);
    return li;
  }));
}

/** Asks whether the bytes are here; meanwhile shows that they are on their way. */
async function showWhenHere(li, a) {
  const id = ed.id;
  const r = await api('GET', `${fileUrl(a.name)}/state`);
  if (ed.id !== id || !li.isConnected) return;
  if (!r.ok || !r.data.held) {
    let p = li.querySelector('progress');
    let t = li.querySelector('.arriving');
    if (!p) {
      p = document.createElement('progress');
      p.max = a.size || 1;
      p.setAttribute('aria-label', `${a.name} arriving`);
      t = document.createElement('span');
      t.className = 'muted arriving';
      li.append(p, t);
    }
    const got = (r.ok && r.data.received) || 0;
    p.value = Math.min(got, p.max);
    t.textContent = `arriving — ${size(got)} of ${size(a.size)}`;
    setTimeout(() => showWhenHere(li, a), got > 0 ? 500 : 1500);
    return;
  }
  for (const x of li.querySelectorAll('progress, .arriving')) x.remove();
  if (INLINE.includes(a.type)) {
    const img = document.createElement('img');
    img.src = fileUrl(a.name);
    img.alt = a.name;
    img.tabIndex = 0;
    const open = () => {
      els.imageFull.src = img.src;
      els.imageFull.alt = a.name;
      els.imageName.textContent = a.name;
      els.imageDialog.showModal();
    };
    img.addEventListener('click', open);
    img.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    li.prepend(img);
  } else {
    const link = document.createElement('a');
    link.href = fileUrl(a.name);
    link.textContent = 'Download';
    link.setAttribute('download', a.name);
    li.append(link);
  }
}

async function upload(files) {
  if (!ed.id) return;
  for (const f of files) {
    setSaveState(`Attaching ${f.name}…`);
    let r;
    try {
      const resp = await fetch(`/api/notes/${ed.id}/attachments?name=${encodeURIComponent(f.name)}`, { method: 'POST', body: f });
      r = { ok: resp.ok, status: resp.status, data: await resp.json().catch(() => null) };
    } catch (e) { r = { ok: false, status: 0, data: null }; }
    if (!r.ok) toast(errorText(r));
  }
  setSaveState('Saved');
  refreshNote();
}

async function refreshNote() {
  if (!ed.id) return;
  const r = await api('GET', `/api/notes/${ed.id}`);
  if (r.ok && r.data.id === ed.id) { renderAttachments(r.data.attachments); showMeta(r.data); }
}

els.fileInput.addEventListener('change', () => { upload([...els.fileInput.files]); els.fileInput.value = ''; });
els.form.addEventListener('dragover', (ev) => { ev.preventDefault(); els.form.classList.add('over'); });
els.form.addEventListener('dragleave', () => els.form.classList.remove('over'));
els.form.addEventListener('drop', (ev) => {
  ev.preventDefault();
  els.form.classList.remove('over');
  if (ev.dataTransfer && ev.dataTransfer.files.length) upload([...ev.dataTransfer.files]);
});
els.imageClose.addEventListener('click', () => els.imageDialog.close());

// ---------- history ----------

let picked = null;

async function showHistory() {
  if (!ed.id) return;
  const r = await api('GET', `/api/notes/${ed.id}/history`);
  if (!r.ok) { toast(errorText(r)); return; }
  picked = null;
  els.restore.disabled = true;
  els.versionHeading.textContent = 'Pick a version.';
  els.versionPreview.textContent = '';
  showInterleaving(null);
  const versions = r.data.slice().reverse();
  els.versions.replaceChildren(...versions.map((v, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'version';
    b.dataset.heads = v.heads.join(',');
    if ((v.merged_from || []).length > 1) b.dataset.merged = '';
    const who = document.createElement('span');
    who.className = 'v-who';
    who.textContent = (v.device ? deviceName(v.device) : 'Merged edits') + (i === 0 ? ' · current' : '');
    const what = document.createElement('span');
    what.className = 'muted';
    const when = v.at_ms ? new Date(v.at_ms).toLocaleString() : '';
    what.textContent = `${when} · ${v.changes} edit${v.changes > 1 ? 's' : ''}${v.merge ? ' · merged' : ''}`;
    b.append(who, what);
    b.addEventListener('click', () => pickVersion(b, v));
    li.append(b);
    return li;
  }));
  els.historyDialog.showModal();
}

async function pickVersion(button, v) {
  const merged = (v.merged_from || []).length > 1 ? `&merged_from=${v.merged_from.join(',')}` : '';
  const r = await api('GET', `/api/notes/${ed.id}/version?heads=${v.heads.join(',')}${merged}`);
  if (!r.ok) { toast(errorText(r)); return; }
  for (const b of els.versions.querySelectorAll('button')) b.setAttribute('aria-current', String(b === button));
  picked = v;
  els.versionHeading.textContent = `${r.data.title || 'Untitled'} — ${v.device ? deviceName(v.device) : 'merged edits'}`;
  showInterleaving(r.data.interleaving);
  if (r.data.interleaving) els.versionPreview.replaceChildren(...interleavedLines(r.data.interleaving));
  else els.versionPreview.textContent = r.data.body;
  els.restore.disabled = false;
}

// A merge's lines, each marked with the concurrent branch(es) that typed it (HS history view).
function branchName(b) {
  return b.devices.length ? b.devices.map(deviceName).join(' + ') : 'another branch';
}

function showInterleaving(inter) {
  els.mergeLegend.hidden = !inter;
  if (!inter) { els.mergeLegend.replaceChildren(); return; }
  const parts = inter.branches.map((b, i) => {
    const s = document.createElement('span');
    s.className = `branch b${i % 4}`;
    s.textContent = `${branchName(b)} (${b.changes} edit${b.changes === 1 ? '' : 's'})`;
    return s;
  });
  const lead = document.createElement('span');
  lead.textContent = 'Merged from edits made at the same time: ';
  els.mergeLegend.replaceChildren(lead, ...parts);
}

function interleavedLines(inter) {
  return inter.lines.map((l, n) => {
    const span = document.createElement('span');
    span.className = 'line' + (l.branches.length ? ` from b${l.branches[0] % 4}` : '') + (l.branches.length > 1 ? ' mixed' : '');
    span.dataset.branches = l.branches.join(',');
    if (l.branches.length) span.title = `Typed on ${l.branches.map((i) => branchName(inter.branches[i])).join(' and ')}`;
    span.append(...l.spans.map((sp) => {
      if (sp.branch === null || sp.branch === undefined) return document.createTextNode(sp.text);
      const mark = document.createElement('mark');
      mark.className = `typed t${sp.branch % 4}`;
      mark.textContent = sp.text;
      return mark;
    }));
    if (n < inter.lines.length - 1) span.append('\n');
    return span;
  });
}

els.historyBtn.addEventListener('click', showHistory);
els.historyClose.addEventListener('click', () => els.historyDialog.close());
els.restore.addEventListener('click', async () => {
  if (!picked || !ed.id) return;
  const r = await api('POST', `/api/notes/${ed.id}/restore`, { heads: picked.heads });
  if (!r.ok) { toast(errorText(r)); return; }
  els.historyDialog.close();
  toast('Version restored (as a new edit; the history keeps everything).');
  ed.needPull = true;
  flush();
});

// ---------- the list ----------

let notes = [];

async function loadList() {
  try {
    const r = await api('GET', '/api/notes');
    if (r.ok) { notes = r.data; renderList(); }
  } catch (_) { /* the status line says the app is unreachable */ }
}

let listTimer = null;
function scheduleList() {
  clearTimeout(listTimer);
  listTimer = setTimeout(loadList, 300);
}

function renderList() {
  const q = els.search.value.trim().toLowerCase();
  const shown = notes.filter((n) => !q || n.title.toLowerCase().includes(q) || n.first_line.toLowerCase().includes(q));
  const hadFocus = els.list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  els.list.replaceChildren(...shown.map((n) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'note';
    b.dataset.id = n.id;
    const title = document.createElement('span');
    title.className = 'n-title';
    title.textContent = n.title || 'Untitled';
    const line = document.createElement('span');
    line.className = 'n-line';
    line.textContent = n.first_line || 'No text';
    const meta = document.createElement('span');
    meta.className = 'n-meta';
    const who = n.edited_by ? ` · ${deviceName(n.edited_by)}` : '';
    const clip = n.attachments ? ` · 📎 ${n.attachments}` : '';
    meta.textContent = (n.updated_at_ms ? ago(n.updated_at_ms) : '') + who + clip;
    b.append(title, line, meta);
    b.addEventListener('click', () => openNote(n.id));
    li.append(b);
    return li;
  }));
  els.empty.hidden = notes.length > 0;
  markCurrent();
  if (hadFocus) {
    const again = els.list.querySelector(`button[data-id="${hadFocus}"]`);
    if (again) again.focus();
  }
}

function markCurrent() {
  for (const b of els.list.querySelectorAll('button.note')) {
    b.setAttribute('aria-current', String(b.dataset.id === ed.id));
  }
}

els.search.addEventListener('input', renderList);
els.list.addEventListener('keydown', (ev) => {
  if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
  const buttons = [...els.list.querySelectorAll('button.note')];
  const i = buttons.indexOf(document.activeElement);
  const next = buttons[ev.key === 'ArrowDown' ? i + 1 : i - 1];
  if (next) { next.focus(); ev.preventDefault(); }
});
document.addEventListener('keydown', (ev) => {
  if (ev.altKey && (ev.key === 'n' || ev.key === 'N')) { ev.preventDefault(); newNote(); }
});

// ---------- sync status and devices ----------

let status = null;

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

/** A name for a device given its id or the hex prefix of its id. */
function deviceName(idOrPrefix) {
  if (status && status.id.startsWith(idOrPrefix)) return 'this device';
  if (status && status.server_id && status.server_id.startsWith(idOrPrefix)) return 'the server';
  const d = status && (status.devices || []).find((x) => x.id.startsWith(idOrPrefix));
  if (d && d.name) return d.name;
  return `device ${idOrPrefix.slice(0, 8)}`;
}

async function refreshStatus() {
  let r;
  try { r = await api('GET', '/api/status'); } catch (_) {
    setSync('offline', 'Humandocs is not running', '');
    return;
  }
  if (!r.ok) return;
  status = r.data;
  const pending = status.pending_docs + status.missing_blobs;
  const last = status.last_sync_ms ? `· last synced ${ago(status.last_sync_ms)}` : '';
  if (!status.paired) setSync('unpaired', 'On this device only (not paired)', '');
  else if (!status.server_connected && status.peers.length === 0) setSync('offline', 'Offline — changes kept here', last);
  else if (pending > 0) setSync('syncing', `Syncing ${pending}`, last);
  else if (status.server_connected) setSync('synced', 'All changes on the server', last);
  else setSync('synced', `Synced with ${status.peers.length} device${status.peers.length > 1 ? 's' : ''}, server offline`, last);
  if (els.dialog.open) renderDevices();
}

function setSync(state, text, last) {
  els.sync.dataset.state = state;
  els.syncText.textContent = text;
  els.syncLast.textContent = last;
}

/** What the devices panel says of one device of the registry. */
function deviceState(d) {
  if (d.role === 'this') return 'this device';
  if (d.revoked_at_ms) return `revoked ${ago(d.revoked_at_ms)}`;
  const bits = [];
  if (d.online) {
    const p = status.peers.find((x) => x.id === d.id);
    bits.push(d.up_to_date ? 'online · up to date' : `online · syncing${p ? ` ${p.outstanding}` : ''}`);
  } else {
    bits.push(d.last_seen_ms ? `offline · last seen ${ago(d.last_seen_ms)}` : 'offline · not seen yet');
  }
  if (d.lan) bits.push('on this network');
  return bits.join(' · ');
}

let shownDevices = '';

function renderDevices() {
  if (!status) return;
  const rows = (status.devices || []).map((d) => ({
    name: d.role === 'this' ? `This device${d.name ? ` (${d.name})` : ''}`
      : d.role === 'server' ? 'Server' : (d.name || `Device ${d.id.slice(0, 8)}`),
    id: d.id,
    sub: d.role === 'server' ? (status.server_url || '') : '',
    state: deviceState(d),
    device: d.role === 'device' && !d.revoked_at_ms,
    revoked: !!d.revoked_at_ms,
  }));
  if (rows.length === 0) rows.push({ name: 'This device', id: status.id, state: 'this device' });
  // Rebuilt only when something shown changed, so keyboard focus on a row's button survives the
  // status refreshes.
  const key = JSON.stringify(rows);
  if (key === shownDevices && els.devList.childElementCount === rows.length) return finishDevices();
  shownDevices = key;
  els.devList.replaceChildren(...rows.map((d) => {
    const li = document.createElement('li');
    li.dataset.device = d.id;
    if (d.revoked) li.className = 'revoked';
    const who = document.createElement('div');
    const n = document.createElement('div');
    n.className = 'd-name';
    n.textContent = d.name;
    const i = document.createElement('div');
    i.className = 'd-id';
    i.textContent = d.sub ? `${d.sub} · ${d.id.slice(0, 16)}` : d.id.slice(0, 16);
    i.title = d.id;
    who.append(n, i);
    const st = document.createElement('div');
    st.className = 'd-state';
    st.textContent = d.state;
    li.append(who, st);
    if (d.device) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'danger revoke';
      b.textContent = 'Revoke…';
      b.setAttribute('aria-label', `Revoke ${d.name}`);
      b.addEventListener('click', () => {
        els.revokeSection.hidden = false;
        els.revokeDevice.value = d.id;
        els.revokePw.focus();
      });
      li.append(b);
    }
    return li;
  }));
  finishDevices();
}

/** The panel's sections that depend on whether this device is paired. */
function finishDevices() {
  els.revokeSection.hidden = els.revokeSection.hidden && !status.paired;
  $('#pair-section').hidden = status.paired;
  els.inviteSection.hidden = !status.paired;
}

els.devicesBtn.addEventListener('click', () => {
  renderDevices();
  els.revokeSection.hidden = !(status && status.paired);
  els.dialog.showModal();
});
els.devClose.addEventListener('click', () => els.dialog.close());

els.pairForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  els.pairResult.textContent = 'Pairing…';
  const url = els.pairUrl.value.trim();
  const password = els.pairPw.value;
  const r = await api('POST', '/api/pair', { url, password: password || null });
  els.pairPw.value = '';
  els.pairResult.textContent = r.ok ? 'Paired.' : errorText(r);
  refreshStatus();
});

els.revokeForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  els.revokeResult.textContent = 'Revoking…';
  const r = await api('POST', '/api/revoke', { device: els.revokeDevice.value.trim(), password: els.revokePw.value });
  els.revokePw.value = '';
  if (r.ok) {
    els.revokeResult.textContent = 'Revoked.';
  } else {
    els.revokeResult.textContent = errorText(r);
  }
  refreshStatus();
});

els.inviteForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  els.inviteResult.textContent = 'Creating…';
  els.inviteOut.hidden = true;
  const minutes = Number(els.inviteMinutes.value) || null;
  const r = await api('POST', '/api/invite', { minutes });
  if (!r.ok) { els.inviteResult.textContent = errorText(r); return; }
  els.inviteLink.value = r.data.link;
  els.inviteQr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(r.data.svg)}`;
  els.inviteResult.textContent = `Valid once, until ${new Date(r.data.expires_at_ms).toLocaleTimeString()}.`;
  els.inviteOut.hidden = false;
  els.inviteLink.select();
});
els.inviteCopy.addEventListener('click', async () => {
  try { await navigator.clipboard.writeText(els.inviteLink.value); els.inviteResult.textContent = 'Link copied.'; } catch (_) {
    els.inviteLink.select();
  }
});

// ---------- events from the app ----------

let noteTimer = null;
function refreshSoon() {
  clearTimeout(noteTimer);
  noteTimer = setTimeout(refreshNote, 400);
}

function listen() {
  const es = new EventSource('/api/events');
  es.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    const short = typeof e.id === 'string' ? e.id.replace(/^humandocs\/doc-/, '') : null;
    if (e.event === 'doc-changed') {
      if (short && short === ed.id) { ed.needPull = true; flush(); refreshSoon(); }
      scheduleList();
    } else if (e.event === 'doc-deleted') {
      if (short && short === ed.id) noteGone();
      scheduleList();
    } else if (e.event === 'lagged') {
      if (ed.id) { ed.needPull = true; flush(); }
      scheduleList();
    } else {
      refreshStatus();
    }
  };
  es.onopen = () => { if (ed.id) { ed.needPull = true; flush(); } loadList(); refreshStatus(); };
}

loadList();
refreshStatus();
setInterval(refreshStatus, 2000);
listen();

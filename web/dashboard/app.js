'use strict';
// The Quantum dashboard: plain JavaScript on the ops API v1 (see
// /api/v1/openapi.json). Everything it shows comes from the API; strings
// from the engine are always set as text, never as HTML.

const TOKEN_KEY = 'quantum.token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const FILLS_PAGE = 20;
const MAX_ACTIVITY = 200;

const S = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  tenants: [],            // the latest snapshot, in configuration order
  byId: new Map(),
  route: { view: 'fleet', id: '' },
  stream: null,           // AbortController of the event stream
  started: false,
  fills: { cursors: [0], next: null },
  history: null,
  bars: { symbol: '', at: 0, points: [] }, // the market's minute bars for the chosen symbol
  symbol: '',
  asOf: '',               // the shown tenant's broker.as_of, to refresh the charts on a new read
  refresh: 0,             // debounce timer for the tenant page
  loading: false,         // a tenant page load is in flight
  reload: false,          // and another was asked for meanwhile
};

const $ = (sel, root) => (root || document).querySelector(sel);

// el builds an element: attrs are attributes (data-*, class, ...),
// children are nodes or text.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- formatting ----------------------------------------------------------

const moneyFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function money(s) {
  if (s === null || s === undefined || s === '') return '—';
  return moneyFmt.format(Number(s));
}

function signClass(s) {
  if (s === null || s === undefined) return '';
  const n = Number(s);
  return n > 0 ? 'pos' : n < 0 ? 'neg' : '';
}

function time(t) {
  if (!t) return '—';
  const d = new Date(t);
  return d.toLocaleTimeString('en-GB', { hour12: false });
}

function dateTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return d.toLocaleDateString('en-CA') + ' ' + d.toLocaleTimeString('en-GB', { hour12: false });
}

function age(t) {
  if (!t) return '';
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  return s < 60 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
}

// ---- the API -------------------------------------------------------------

class AuthError extends Error {}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (S.token) h.Authorization = 'Bearer ' + S.token;
  return h;
}

async function api(path, opts) {
  opts = opts || {};
  const init = { method: opts.method || 'GET', headers: headers(), cache: 'no-store' };
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    askToken(S.token ? 'That token was refused.' : '');
    throw new AuthError('unauthorized');
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((body && body.error) || ('HTTP ' + res.status));
    err.body = body;
    err.status = res.status;
    throw err;
  }
  return { status: res.status, body };
}

function toast(msg, bad) {
  const box = $('#toast');
  const d = el('div', { class: bad ? 'bad' : '' }, msg);
  box.append(d);
  // The message fades; the last one stays readable for a support question.
  box.dataset.last = msg;
  setTimeout(() => d.remove(), bad ? 8000 : 4000);
}

// ---- the token -----------------------------------------------------------

function askToken(msg) {
  const dlg = $('#login');
  const err = $('#login-error');
  err.hidden = !msg;
  err.textContent = msg || '';
  if (S.stream) { S.stream.abort(); S.stream = null; }
  setConn('connecting', 'waiting for the token');
  if (!dlg.open) dlg.showModal();
  $('#token').focus();
}

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  S.token = $('#token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, S.token);
  $('#token').value = '';
  $('#login').close();
  start();
});

// ---- the live stream -----------------------------------------------------

function setConn(state, text) {
  const c = $('#conn');
  c.dataset.state = state;
  c.textContent = text || state;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// stream reads /api/v1/events with fetch, which (unlike EventSource) can
// send the bearer header, and reconnects with backoff.
async function stream() {
  let backoff = 500;
  for (;;) {
    const ctl = new AbortController();
    S.stream = ctl;
    try {
      const res = await fetch('/api/v1/events', { headers: headers({ Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store' });
      if (res.status === 401) { askToken(S.token ? 'That token was refused.' : ''); return; }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConn('live', 'live');
      backoff = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (S.stream !== ctl) return;
    setConn('reconnecting', 'reconnecting…');
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 10000);
  }
}

function dispatch(chunk) {
  let name = 'message';
  let data = '';
  for (const line of chunk.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return;
  let v;
  try { v = JSON.parse(data); } catch (e) { return; }
  if (name === 'tenants') onTenants(v.tenants);
  else if (name === 'activity') onActivity(v);
  else if (name === 'gap') onGap(v);
}

function onTenants(list) {
  S.tenants = list;
  S.byId = new Map(list.map((t) => [t.id, t]));
  renderFleet();
  if (S.route.view === 'tenant') renderTenant();
}

function onActivity(a) {
  addActivity(a.kind, a.time, a.tenant, describe(a));
  if (S.route.view === 'tenant' && a.tenant === S.route.id && a.client_order_id) scheduleTenantRefresh();
}

function onGap(g) {
  addActivity('gap', g.time, '', g.dropped + ' events missed: this page fell behind the engine (the engine never waits for it).');
}

function describe(a) {
  const parts = [];
  if (a.side) parts.push(a.side);
  if (a.qty) parts.push(a.qty);
  else if (a.notional) parts.push('$' + a.notional + ' of');
  if (a.symbol) parts.push(a.symbol);
  if (a.price) parts.push('@ ' + a.price);
  if (a.type && a.kind === 'order') parts.push('(' + a.type + ')');
  if (a.state) parts.push('→ ' + a.state);
  if (a.status && a.kind === 'canceled') parts.push(a.status);
  if (a.reason) parts.push('— ' + a.reason);
  return parts.join(' ');
}

function addActivity(kind, t, tenant, text) {
  const list = $('#activity');
  const li = el('li', { class: kind },
    el('span', { class: 't' }, time(t)),
    el('span', { class: 'kind' }, kind.replace('_', ' ')),
    tenant ? el('a', { href: '#/tenant/' + encodeURIComponent(tenant) }, tenant) : '',
    el('span', { class: 'text' }, text));
  list.prepend(li);
  while (list.children.length > MAX_ACTIVITY) list.lastChild.remove();
}

// ---- the fleet -----------------------------------------------------------

// setCell changes a cell only when its text changes, and flashes it, so
// that a live update is visible (and a test can wait on the change).
function setCell(td, text, cls, title) {
  if (td.textContent !== text) {
    const first = td.textContent === '' && !td.dataset.set;
    td.textContent = text;
    td.dataset.set = '1';
    if (!first) { td.classList.remove('flash'); void td.offsetWidth; td.classList.add('flash'); }
  }
  if (cls !== undefined) td.className = cls;
  if (title !== undefined) td.title = title;
}

const FLEET_FIELDS = ['id', 'strategy', 'state', 'health', 'owner', 'equity', 'day_pnl', 'unrealized_pnl', 'open_orders',
  'orders_placed', 'fills', 'risk_rejections', 'last_error', 'switch'];

function renderFleet() {
  const body = $('#fleet tbody');
  const seen = new Set();
  for (const t of S.tenants) {
    seen.add(t.id);
    let tr = body.querySelector('tr[data-tenant="' + CSS.escape(t.id) + '"]');
    if (!tr) {
      tr = el('tr', { 'data-tenant': t.id });
      for (const f of FLEET_FIELDS) tr.append(el('td', { 'data-field': f }));
      tr.querySelector('[data-field="id"]').append(el('a', { href: '#/tenant/' + encodeURIComponent(t.id) }, t.id));
      body.append(tr);
    }
    const td = (f) => tr.querySelector('[data-field="' + f + '"]');
    const b = t.broker;
    const asOf = b.as_of ? 'From the broker, as of ' + dateTime(b.as_of) : 'No broker account read yet';
    setCell(td('strategy'), t.strategy);
    setBadge(td('state'), t.state);
    setBadge(td('health'), t.health);
    setCell(td('owner'), t.owner || (t.health === 'standby' ? 'none live' : ''), 'owner-col',
      t.owner ? 'The engine running this tenant' : '');
    setCell(td('equity'), money(b.equity), 'num', asOf);
    setCell(td('day_pnl'), money(b.day_pnl), 'num ' + signClass(b.day_pnl), asOf);
    setCell(td('unrealized_pnl'), money(b.unrealized_pnl), 'num ' + signClass(b.unrealized_pnl), asOf);
    setCell(td('open_orders'), String(t.open_orders), 'num');
    setCell(td('orders_placed'), String(t.orders_placed), 'num');
    setCell(td('fills'), String(t.fills), 'num');
    setCell(td('risk_rejections'), String(t.risk_rejections), 'num', t.last_risk_reason ? 'Last: ' + t.last_risk_reason : '');
    const err = t.problem || t.last_error || '';
    setCell(td('last_error'), err, 'err', err);
    renderSwitch(td('switch'), t);
  }
  for (const tr of [...body.children]) if (!seen.has(tr.dataset.tenant)) tr.remove();
  // The engine column matters only when several engines share a journal.
  $('#fleet').classList.toggle('no-owner', !S.tenants.some((t) => t.owner));
}

function setBadge(td, value) {
  let b = td.firstElementChild;
  if (!b) { b = el('span'); td.append(b); }
  if (b.textContent !== value) b.textContent = value;
  b.className = 'badge ' + value;
}

const STATES = [
  ['HALTED', 'Halt', 'btn danger'],
  ['REDUCING', 'Reduce', 'btn warn'],
  ['ACTIVE', 'Activate', 'btn'],
];

function renderSwitch(box, t) {
  if (!box.firstElementChild) {
    for (const [st, label, cls] of STATES) {
      box.append(el('button', { type: 'button', class: cls, 'data-action': 'state', 'data-state': st, 'data-tenant': t.id }, label));
    }
  }
  for (const b of box.querySelectorAll('button')) b.disabled = b.dataset.state === t.state;
}

// ---- the kill switch -----------------------------------------------------

const EXPLAIN = {
  HALTED: 'A halted tenant sends no orders at all, not even retries, until it is set ACTIVE again. Open orders stay at the broker.',
  REDUCING: 'A reducing tenant sends only orders that shrink a position.',
  ACTIVE: 'An active tenant trades normally, within its risk limits.',
};

function confirmDialog(title, text, okLabel) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

async function setState(id, st) {
  const ok = await confirmDialog('Set ' + id + ' to ' + st + '?', EXPLAIN[st], 'Set ' + st);
  if (!ok) return;
  try {
    const r = await api('/api/v1/tenants/' + encodeURIComponent(id) + '/state', { method: 'POST', body: { state: st } });
    const t = r.status === 202 ? r.body.tenant : r.body;
    if (r.status === 202) toast(r.body.warning, true); else toast(id + ' is ' + t.state + '.');
    upsert(t);
  } catch (e) {
    if (!(e instanceof AuthError)) toast('Could not set ' + id + ' to ' + st + ': ' + e.message, true);
  }
}

async function setAll(st) {
  const n = S.tenants.length;
  const ok = await confirmDialog('Set all ' + n + ' tenants to ' + st + '?', EXPLAIN[st], 'Set all ' + st);
  if (!ok) return;
  try {
    const r = await api('/api/v1/state', { method: 'POST', body: { state: st } });
    onTenants(r.body.tenants);
    if (r.status === 202) toast('Applied; some states are not saved yet: ' + Object.values(r.body.warnings).join('; '), true);
    else toast('Every tenant is ' + st + '.');
  } catch (e) {
    if (e instanceof AuthError) return;
    if (e.body && e.body.tenants) onTenants(e.body.tenants);
    const failed = e.body && e.body.failed ? ' ' + Object.entries(e.body.failed).map(([k, v]) => k + ': ' + v).join('; ') : '';
    toast('Not every tenant changed.' + failed, true);
  }
}

function upsert(t) {
  const i = S.tenants.findIndex((x) => x.id === t.id);
  if (i >= 0) S.tenants[i] = t; else S.tenants.push(t);
  onTenants(S.tenants);
}

document.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  if (b.dataset.action === 'state') setState(b.dataset.tenant, b.dataset.state);
  else if (b.dataset.action === 'state-all') setAll(b.dataset.state);
});

// ---- the tenant page -----------------------------------------------------

function route() {
  const m = location.hash.match(/^#\/tenant\/(.+)$/);
  S.route = m ? { view: 'tenant', id: decodeURIComponent(m[1]) } : { view: 'fleet', id: '' };
  $('#fleet-view').hidden = S.route.view !== 'fleet';
  $('#tenant-view').hidden = S.route.view !== 'tenant';
  if (S.route.view === 'tenant') {
    S.fills = { cursors: [0], next: null };
    S.history = null;
    S.bars = { symbol: '', at: 0, points: [] };
    S.symbol = '';
    S.asOf = '';
    for (const id of ['#equity-chart', '#price-chart']) {
      const c = $(id);
      c.replaceChildren();
      delete c.dataset.rendered;
      delete c.dataset.points;
    }
    renderTenant();
    loadTenantData();
  }
}

function renderTenant() {
  const t = S.byId.get(S.route.id);
  $('#t-id').textContent = S.route.id;
  if (!t) {
    $('#t-strategy').textContent = S.tenants.length ? 'no such tenant' : '';
    return;
  }
  const b = t.broker;
  $('#t-strategy').textContent = t.strategy;
  setBadge($('#t-state'), t.state);
  $('#t-state').className = '';
  setBadge($('#t-health'), t.health);
  $('#t-health').className = '';
  renderSwitch($('#t-switch'), t);
  const problem = t.problem || t.last_error || '';
  $('#t-problem').hidden = !problem;
  $('#t-problem').textContent = problem;
  const card = (id, text, cls) => { const e = $(id); if (e.textContent !== text) e.textContent = text; e.className = 'v ' + (cls || ''); };
  card('#t-equity', money(b.equity));
  card('#t-daypnl', money(b.day_pnl), signClass(b.day_pnl));
  card('#t-upnl', money(b.unrealized_pnl), signClass(b.unrealized_pnl));
  card('#t-asof', b.as_of ? dateTime(b.as_of) + ' (' + age(b.as_of) + ')' : 'not read yet', 'small');
  card('#t-open', String(t.open_orders));
  card('#t-orders', String(t.orders_placed));
  card('#t-fills', String(t.fills));
  card('#t-risk', String(t.risk_rejections));
  renderPositions(t);
  // A new account read brings a new equity point and marks.
  if ((b.as_of || '') !== S.asOf) {
    S.asOf = b.as_of || '';
    scheduleTenantRefresh();
  }
}

function renderPositions(t) {
  const b = t.broker;
  const held = new Map(b.holdings.map((h) => [h.symbol, h]));
  const symbols = [...new Set([...Object.keys(t.engine_positions), ...held.keys()])].sort();
  const rows = symbols.map((sym) => {
    const h = held.get(sym);
    return el('tr', { 'data-symbol': sym },
      el('td', {}, sym),
      el('td', { class: 'num' }, t.engine_positions[sym] || '0'),
      el('td', { class: 'num' }, h ? h.qty : '0'),
      el('td', { class: 'num' }, h ? h.avg_entry_price : '—'),
      el('td', { class: 'num' }, h && h.current_price ? h.current_price : '—'),
      el('td', { class: 'num' }, h ? money(h.market_value) : '—'),
      el('td', { class: 'num ' + (h ? signClass(h.unrealized_pl) : '') }, h ? money(h.unrealized_pl) : '—'));
  });
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'empty', colspan: 7 }, 'No positions.')));
  $('#positions tbody').replaceChildren(...rows);
  $('#positions-note').textContent = b.as_of
    ? 'Broker columns as of ' + dateTime(b.as_of) + '. The engine position adds the fills received since, so the two differ until the next account read.'
    : 'No broker account read yet.';
}

function scheduleTenantRefresh() {
  clearTimeout(S.refresh);
  S.refresh = setTimeout(loadTenantData, 300);
}

// loadTenantData runs one load at a time: a burst of fills must not pile
// requests onto the browser's few connections to the engine, where they
// would queue ahead of a kill switch press.
async function loadTenantData() {
  if (S.loading) { S.reload = true; return; }
  S.loading = true;
  try {
    do {
      S.reload = false;
      await loadTenantDataOnce();
    } while (S.reload);
  } finally {
    S.loading = false;
  }
}

async function loadTenantDataOnce() {
  const id = S.route.id;
  if (S.route.view !== 'tenant' || !id) return;
  const base = '/api/v1/tenants/' + encodeURIComponent(id);
  try {
    const [open, hist] = await Promise.all([api(base + '/orders?status=open'), api(base + '/history')]);
    if (S.route.id !== id) return;
    renderOpenOrders(open.body.orders);
    S.history = hist.body;
    renderCharts();
    await Promise.all([loadFills(), loadBars()]);
  } catch (e) {
    if (!(e instanceof AuthError)) toast('Could not load ' + id + ': ' + e.message, true);
  }
}

function renderOpenOrders(list) {
  const rows = list.map((o) => el('tr', {},
    el('td', {}, time(o.created_at)),
    el('td', { class: 'mono' }, o.client_order_id),
    el('td', {}, o.symbol),
    el('td', { class: o.side === 'buy' ? 'pos' : 'neg' }, o.side),
    el('td', {}, o.type),
    el('td', { class: 'num' }, o.qty || ('$' + o.notional)),
    el('td', { class: 'num' }, o.limit_price || '—'),
    el('td', {}, o.status),
    el('td', { class: 'num' }, o.filled_qty)));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'empty', colspan: 9 }, 'No open orders.')));
  $('#open-orders tbody').replaceChildren(...rows);
}

async function loadFills() {
  const id = S.route.id;
  const after = S.fills.cursors[S.fills.cursors.length - 1];
  const r = await api('/api/v1/tenants/' + encodeURIComponent(id) + '/fills?limit=' + FILLS_PAGE + '&after=' + after);
  if (S.route.id !== id) return;
  S.fills.next = r.body.next_after === undefined ? null : r.body.next_after;
  const rows = r.body.fills.map((f) => el('tr', {},
    el('td', {}, dateTime(f.time)),
    el('td', {}, f.symbol),
    el('td', { class: f.side === 'buy' ? 'pos' : 'neg' }, f.side),
    el('td', { class: 'num' }, f.qty),
    el('td', { class: 'num' }, f.price),
    el('td', { class: 'mono' }, f.client_order_id)));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'empty', colspan: 6 }, 'No fills on this page.')));
  $('#fills tbody').replaceChildren(...rows);
  $('#fills-page').textContent = 'page ' + S.fills.cursors.length;
  $('#fills-prev').disabled = S.fills.cursors.length < 2;
  $('#fills-first').disabled = S.fills.cursors.length < 2;
  $('#fills-next').disabled = S.fills.next === null;
}

$('#fills-next').addEventListener('click', () => { if (S.fills.next !== null) { S.fills.cursors.push(S.fills.next); loadFills().catch(() => {}); } });
$('#fills-prev').addEventListener('click', () => { if (S.fills.cursors.length > 1) { S.fills.cursors.pop(); loadFills().catch(() => {}); } });
$('#fills-first').addEventListener('click', () => { S.fills.cursors = [0]; loadFills().catch(() => {}); });
$('#symbol').addEventListener('change', (ev) => { S.symbol = ev.target.value; renderCharts(); loadBars().catch(() => {}); });

// BARS_TTL: the bars are fetched through the tenant's own broker client,
// which spends its rate limit; once a minute (a new bar) is enough.
const BARS_TTL = 60000;
// BARS_SHOWN minutes: long enough for context, short enough that a
// strategy's fills are not squeezed into one corner.
const BARS_SHOWN = 120;

async function loadBars() {
  const id = S.route.id, symbol = S.symbol;
  if (!symbol || (S.bars.symbol === symbol && Date.now() - S.bars.at < BARS_TTL)) return;
  S.bars = { symbol, at: Date.now(), points: S.bars.symbol === symbol ? S.bars.points : [] };
  try {
    const r = await api('/api/v1/tenants/' + encodeURIComponent(id) + '/bars?limit=' + BARS_SHOWN + '&symbol=' + encodeURIComponent(symbol));
    if (S.route.id !== id || S.symbol !== symbol) return;
    S.bars.points = r.body.bars.map((b) => ({ t: Date.parse(b.time), v: Number(b.close) }));
  } catch (e) {
    // The chart falls back to the fills and marks; the broker's trouble
    // shows in the fleet's health, not as a toast per refresh.
    if (e instanceof AuthError) throw e;
  }
  renderCharts();
}

// ---- charts --------------------------------------------------------------

function renderCharts() {
  const h = S.history;
  if (!h) return;
  lineChart($('#equity-chart'), {
    points: h.equity.map((p) => ({ t: Date.parse(p.time), v: Number(p.equity) })),
    format: (v) => moneyFmt.format(v),
    minSpan: 0.0005,
    empty: 'No account read yet',
  });
  const symbols = [...new Set([...Object.keys(h.prices), ...h.fills.map((f) => f.symbol)])].sort();
  const sel = $('#symbol');
  if (!symbols.includes(S.symbol)) {
    // The symbol the tenant last traded, else the first it holds.
    S.symbol = h.fills.length ? h.fills[h.fills.length - 1].symbol : (symbols[0] || '');
  }
  const opts = symbols.map((s) => el('option', { value: s, selected: s === S.symbol }, s));
  if (sel.options.length !== opts.length || [...sel.options].some((o, i) => o.value !== symbols[i])) sel.replaceChildren(...opts);
  sel.value = S.symbol;
  // The market's minute closes when the broker gave them; else what the
  // engine saw itself: its fills and the broker's marks of its holdings.
  const bars = S.bars.symbol === S.symbol ? S.bars.points : [];
  const prices = (h.prices[S.symbol] || []).map((p) => ({ t: Date.parse(p.time), v: Number(p.price), mark: p.source === 'mark' }));
  const chart = $('#price-chart');
  chart.dataset.source = bars.length ? 'bars' : 'fills';
  $('#price-line').textContent = bars.length ? "line: the last 2 hours' minute closes" : 'line: fills; ○ broker marks';
  lineChart(chart, {
    points: bars.length ? bars : prices,
    markers: h.fills.filter((f) => f.symbol === S.symbol).map((f) => ({
      t: Date.parse(f.time), v: Number(f.price), side: f.side,
      label: f.side + ' ' + f.qty + ' ' + f.symbol + ' @ ' + f.price + ' (' + time(f.time) + ', ' + f.client_order_id + ')',
    })),
    format: (v) => (Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(4)),
    minSpan: 0.0002,
    empty: S.symbol ? 'No prices yet' : 'No symbols traded yet',
  });
}

// lineChart draws points (and fill markers) into an SVG with a 640×240
// view box: a time axis, a value axis with four grid lines, a line.
function lineChart(box, o) {
  const W = 640, H = 240, L = 70, R = 14, T = 12, B = 28;
  const pts = o.points.filter((p) => isFinite(p.t) && isFinite(p.v)).sort((a, b) => a.t - b.t);
  const marks = (o.markers || []).filter((p) => isFinite(p.t) && isFinite(p.v));
  const all = pts.concat(marks);
  const nodes = [];
  box.dataset.points = String(pts.length);
  box.dataset.markers = String(marks.length);
  if (!all.length) {
    nodes.push(svg('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, o.empty));
    box.replaceChildren(...nodes);
    box.dataset.rendered = 'true';
    return;
  }
  let t0 = Math.min(...all.map((p) => p.t)), t1 = Math.max(...all.map((p) => p.t));
  let v0 = Math.min(...all.map((p) => p.v)), v1 = Math.max(...all.map((p) => p.v));
  if (t1 === t0) { t0 -= 30000; t1 += 30000; }
  // A flat series still gets a readable scale: at least minSpan of its
  // level either side (an equity that moved by cents is not a cliff).
  const pad = Math.max((v1 - v0) * 0.08, Math.abs(v1) * (o.minSpan || 0.001)) || 1;
  v0 -= pad; v1 += pad;
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = v0 + (v1 - v0) * i / 4;
    nodes.push(svg('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    nodes.push(svg('text', { class: 'label', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, o.format(v)));
  }
  nodes.push(svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  nodes.push(svg('text', { class: 'label', x: L, y: H - 8 }, time(t0)));
  nodes.push(svg('text', { class: 'label', x: W - R, y: H - 8, 'text-anchor': 'end' }, time(t1)));
  if (pts.length > 1) {
    nodes.push(svg('polyline', { class: 'line', points: pts.map((p) => x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1)).join(' ') }));
  }
  for (const p of pts) {
    if (p.mark) nodes.push(svg('circle', { class: 'mark', cx: x(p.t), cy: y(p.v), r: 3.5 }));
    else if (pts.length < 60) nodes.push(svg('circle', { class: 'dot', cx: x(p.t), cy: y(p.v), r: 2 }));
  }
  for (const m of marks) {
    const cx = x(m.t), cy = y(m.v), s = 6;
    const d = m.side === 'buy'
      ? `M${cx},${cy - s} L${cx + s},${cy + s * 0.8} L${cx - s},${cy + s * 0.8} Z`
      : `M${cx},${cy + s} L${cx + s},${cy - s * 0.8} L${cx - s},${cy - s * 0.8} Z`;
    const path = svg('path', { class: m.side === 'buy' ? 'buy' : 'sell', d, 'data-fill': '1' });
    path.append(svg('title', {}, m.label));
    nodes.push(path);
  }
  box.replaceChildren(...nodes);
  box.dataset.rendered = 'true';
}

// ---- start ---------------------------------------------------------------

async function start() {
  try {
    const r = await api('/api/v1/tenants');
    onTenants(r.body.tenants);
  } catch (e) {
    if (!(e instanceof AuthError)) { setConn('reconnecting', 'API unreachable'); toast('The API did not answer: ' + e.message, true); }
    return;
  }
  route();
  if (!S.stream) stream();
}

window.addEventListener('hashchange', route);
route();
start();

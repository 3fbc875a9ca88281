/*
 * The supervisor wallboard: plain JavaScript, no build step. It signs in once (a supervisor key from
 * the form, or from the URL fragment `#key=…`, which never reaches a server or a log), and the
 * server answers with a session cookie; then one EventSource (`/wallboard/stream`) keeps every
 * number current. Nothing is reloaded. Untrusted text goes in with textContent only.
 */
const SVG = 'http://www.w3.org/2000/svg';
const params = new URLSearchParams(location.search);
const timeZone = params.get('timeZone') || 'Asia/Jakarta';
/** Between pushes, ages move on for at most this long (real ms); a lost stream freezes them. */
const EXTRAPOLATE_MS = 1500;

const PRIORITIES = [
  ['urgent', 'Darurat', 'Urgent'],
  ['normal', 'Biasa', 'Normal'],
  ['low', 'Rendah', 'Low'],
];
const STATES = {
  available: ['Siap', 'Available'],
  reserved: ['Berdering', 'Ringing'],
  'on-call': ['Bicara', 'On call'],
  'wrap-up': ['Pascapanggilan', 'Wrap-up'],
  break: ['Istirahat', 'Break'],
  offline: ['Keluar', 'Offline'],
};
const REASONS = { missed: 'tak dijawab / missed', unreachable: 'tak terjangkau / unreachable' };
/** Okabe-Ito colours, one per way a call was judged. */
const CLASSES = [
  ['genuine', 'Asli', 'Genuine', '#009e73'],
  ['prank', 'Iseng', 'Prank', '#d55e00'],
  ['silent', 'Diam', 'Silent', '#56b4e9'],
  ['misdial', 'Salah sambung', 'Misdial', '#f0e442'],
  ['info', 'Informasi', 'Info', '#0072b2'],
  ['released', 'Dilepas skrining', 'Released', '#cc79a7'],
  ['none', 'Tanpa putusan', 'No verdict', '#9a9a9a'],
];
const DECISIONS = {
  connect: ['Sambung', 'Connect'],
  'connect-low': ['Prioritas rendah', 'Low priority'],
  challenge: ['Tantangan tekan 5', 'Press-5 challenge'],
  'warn-and-release': ['Peringatkan & lepas', 'Warn & release'],
};
const DISPOSITIONS = {
  connected: 'tersambung / connected',
  abandoned: 'ditinggal / abandoned',
  released: 'dilepas / released',
  silent: 'diam / silent',
  overflowed: 'dialihkan / overflowed',
};
const STATUS = {
  connecting: ['Menghubungkan…', 'Connecting…'],
  live: ['Langsung', 'Live'],
  lost: ['Terputus', 'Connection lost'],
  'signed-out': ['Belum masuk', 'Signed out'],
};

const clockFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone,
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});
const shortTime = new Intl.DateTimeFormat('en-GB', {
  timeZone,
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const dayFormat = new Intl.DateTimeFormat('id-ID', {
  timeZone: 'UTC',
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});

/** The latest `live` push and when it came; the latest `summary`. */
let live = null;
let summary = null;
let source = null;

const $ = (selector) => document.querySelector(selector);

/** An element with a class and text (never markup). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Indonesian first, English smaller beside it. */
function bilingual(tag, className, [id, en]) {
  const node = el(tag, className, `${id} `);
  node.append(el('span', 'en', en));
  return node;
}

function duration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Call-clock milliseconds since the latest push (the replay's clock may run faster). */
function elapsed() {
  if (!live) return 0;
  return Math.min(performance.now() - live.receivedAt, EXTRAPOLATE_MS) * live.data.rate;
}

function setStatus(status) {
  const node = $('#status');
  node.dataset.status = status;
  node.replaceChildren(...bilingual('span', '', STATUS[status]).childNodes);
}

// ---------------------------------------------------------------------------------------------
// Live: the queue and the call takers, pushed every second; ages move on in between.

function renderLive() {
  if (!live) return;
  const { data } = live;
  const since = elapsed();
  const now = Date.parse(data.at) + since;
  $('#time').textContent = clockFormat.format(now);
  const rate = $('#rate');
  rate.hidden = data.rate === 1;
  rate.textContent = `waktu ×${data.rate} / time ×${data.rate}`;

  $('#waiting-count').textContent = String(data.waiting.length);
  $('#waiting-count').dataset.waitingCount = String(data.waiting.length);
  $('#longest').textContent = data.waiting.length === 0 ? '–' : duration(longest(data) + since);
  const priorities = PRIORITIES.map(([priority, id, en]) => {
    const calls = data.waiting.filter((call) => call.priority === priority);
    const row = el('div', 'priority');
    row.dataset.priority = priority;
    row.dataset.count = String(calls.length);
    row.append(bilingual('span', 'name', [`${id} (${calls.length})`, en]));
    const ages = el('span', 'ages');
    for (const call of calls.slice(0, 6)) ages.append(el('span', '', duration(call.waitingMs + since)));
    if (calls.length > 6) ages.append(el('span', 'en', `+${calls.length - 6}`));
    row.append(ages);
    return row;
  });
  $('#priorities').replaceChildren(...priorities);

  const names = summary?.takerNames ?? {};
  $('#takers').replaceChildren(
    ...data.takers.map((taker) => {
      const row = el('li', 'taker');
      row.dataset.taker = taker.takerId;
      row.dataset.state = taker.state;
      const who = el('span', 'who', names[taker.takerId] ? `${names[taker.takerId]} ` : `${taker.takerId} `);
      if (names[taker.takerId]) who.append(el('span', 'en', taker.takerId));
      if (!taker.reachable) who.append(el('span', 'unreachable', ' ✖ tak terjangkau / unreachable'));
      const state = bilingual('span', 'state', STATES[taker.state] ?? [taker.state, '']);
      state.dataset.state = taker.state;
      if (taker.state === 'break' && taker.reason) {
        state.append(el('span', 'en', ` (${REASONS[taker.reason] ?? taker.reason})`));
      }
      row.append(who, state, el('span', 'in-state', duration(taker.inStateMs + since)));
      return row;
    }),
  );
}

function longest(data) {
  return Math.max(...data.waiting.map((call) => call.waitingMs));
}

// ---------------------------------------------------------------------------------------------
// Summary: the day's figures, the chart, screening; pushed when the records change.

const FIGURES = {
  offered: String,
  answered: String,
  abandoned: String,
  released: String,
  prank: String,
  silent: String,
  serviceLevel15: (share) => (share === null ? '–' : `${Math.round(share * 100)}%`),
  averageAnswerSeconds: (s) => (s === null ? '–' : `${s.toFixed(1)} s`),
  p90AnswerSeconds: (s) => (s === null ? '–' : `${s.toFixed(1)} s`),
};

function renderSummary() {
  if (!summary) return;
  const day = $('#day');
  day.dataset.day = summary.day;
  day.textContent = dayFormat.format(new Date(`${summary.day}T12:00:00Z`));
  for (const [name, format] of Object.entries(FIGURES)) {
    const node = document.querySelector(`[data-figure="${name}"]`);
    node.textContent = format(summary.figures[name]);
  }
  renderChart();
  renderScreening();
  renderLive();
}

function renderChart() {
  const width = 1000;
  const height = 220;
  const left = 36;
  const bottom = 24;
  const top = 18;
  const band = (width - left) / 24;
  const totals = summary.hours.map((hour) => CLASSES.reduce((sum, [name]) => sum + hour.calls[name], 0));
  const step = niceStep(Math.max(...totals, 4));
  const max = Math.ceil(Math.max(...totals, 4) / step) * step;
  const y = (n) => height - bottom - (n / max) * (height - bottom - top);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Panggilan per jam / Calls per hour');
  const add = (parent, tag, attributes, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    parent.append(node);
    return node;
  };
  const hourNow = live ? currentHour(Date.parse(live.data.at)) : -1;
  if (hourNow >= 0) {
    add(svg, 'rect', {
      x: left + hourNow * band,
      y: top - 14,
      width: band,
      height: height - bottom - top + 14,
      fill: '#2b2b2b',
    });
  }
  for (let n = 0; n <= max; n += step) {
    add(svg, 'line', { class: 'grid-line', x1: left, x2: width, y1: y(n), y2: y(n) });
    add(svg, 'text', { x: left - 6, y: y(n) + 5, 'text-anchor': 'end' }, String(n));
  }
  summary.hours.forEach((hour, i) => {
    const x = left + i * band + band * 0.14;
    let base = 0;
    for (const [name, id, en, colour] of CLASSES) {
      const count = hour.calls[name];
      if (count === 0) continue;
      const rect = add(svg, 'rect', {
        x,
        y: y(base + count),
        width: band * 0.72,
        height: y(base) - y(base + count),
        fill: colour,
        stroke: '#000',
        'stroke-width': 1,
        'data-hour': hour.hour,
        'data-class': name,
        'data-count': count,
      });
      add(rect, 'title', {}, `${String(hour.hour).padStart(2, '0')}:00 · ${id} / ${en}: ${count}`);
      base += count;
    }
    if (totals[i] > 0) {
      add(
        svg,
        'text',
        { x: x + band * 0.36, y: y(totals[i]) - 4, 'text-anchor': 'middle', 'data-total': hour.hour },
        String(totals[i]),
      );
    }
    add(
      svg,
      'text',
      { x: left + i * band + band / 2, y: height - 5, 'text-anchor': 'middle' },
      String(hour.hour).padStart(2, '0'),
    );
  });
  $('#chart').replaceChildren(svg);
}

function niceStep(max) {
  for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) if (max / step <= 5) return step;
  return 1000;
}

function currentHour(at) {
  const hour = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(at);
  return Number(hour);
}

function renderScreening() {
  $('#decision-counts').replaceChildren(
    ...Object.entries(DECISIONS).map(([decision, words]) => {
      const box = el('div', 'decision-count');
      box.dataset.decision = decision;
      box.append(el('strong', '', String(summary.decisions[decision] ?? 0)), bilingual('span', '', words));
      return box;
    }),
  );
  $('#recent').replaceChildren(
    ...summary.recent.map((call) => {
      const row = el('li');
      row.dataset.decision = call.decision;
      row.dataset.callId = call.callId;
      row.append(
        el('span', 'when', shortTime.format(Date.parse(call.arrivedAt))),
        el('span', 'caller', call.caller),
        bilingual('span', 'decision', DECISIONS[call.decision] ?? [call.decision, '']),
      );
      const outcome = [
        call.reasons[0],
        call.trunk,
        DISPOSITIONS[call.disposition],
        call.verdict && `putusan / verdict: ${call.verdict}`,
      ];
      row.append(el('span', 'reason', outcome.filter(Boolean).join(' · ')));
      return row;
    }),
  );
}

function renderLegend() {
  $('#legend').replaceChildren(
    ...CLASSES.map(([name, id, en, colour]) => {
      const item = el('li');
      item.dataset.class = name;
      const swatch = el('span', 'swatch');
      swatch.style.background = colour;
      item.append(swatch, bilingual('span', '', [id, en]));
      return item;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Signing in and the stream.

const summaryUrl = () => `/wallboard/summary?timeZone=${encodeURIComponent(timeZone)}`;

async function signIn(key) {
  const reply = await fetch('/wallboard/session', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    credentials: 'same-origin',
  });
  if (reply.ok) return null;
  if (reply.status === 403) return 'Kunci ini bukan kunci supervisor / This key is not a supervisor key';
  if (reply.status === 429)
    return 'Terlalu banyak percobaan; tunggu semenit / Too many attempts; wait a minute';
  return 'Kunci tidak sah / Invalid key';
}

function askForKey() {
  const dialog = $('#sign-in');
  if (!dialog.open) dialog.showModal();
  $('#key').focus();
}

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = await signIn($('#key').value.trim());
  $('#sign-in-error').textContent = problem ?? '';
  if (problem) return;
  $('#key').value = '';
  $('#sign-in').close();
  connect();
});

function connect() {
  source?.close();
  setStatus('connecting');
  source = new EventSource(`/wallboard/stream?timeZone=${encodeURIComponent(timeZone)}`);
  source.addEventListener('open', () => setStatus('live'));
  source.addEventListener('live', (event) => {
    live = { data: JSON.parse(event.data), receivedAt: performance.now() };
    renderLive();
  });
  source.addEventListener('summary', (event) => {
    summary = JSON.parse(event.data);
    renderSummary();
  });
  source.addEventListener('error', () => {
    // CONNECTING: the browser retries by itself (the numbers stay up, marked lost meanwhile).
    // CLOSED: the server refused the stream: signed out, or the session ended.
    if (source.readyState === EventSource.CLOSED) void recover();
    else setStatus('lost');
  });
}

async function recover() {
  const reply = await fetch(summaryUrl(), { credentials: 'same-origin' }).catch(() => null);
  if (reply && (reply.status === 401 || reply.status === 403)) {
    setStatus('signed-out');
    askForKey();
    return;
  }
  setStatus('lost');
  setTimeout(connect, 5000);
}

async function start() {
  renderLegend();
  setInterval(renderLive, 250);
  // A key handed over in the fragment (the demo prints such a link): exchanged, then wiped from the
  // address bar and the history.
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  if (key) {
    history.replaceState(null, '', location.pathname + location.search);
    const problem = await signIn(key);
    if (problem) {
      $('#sign-in-error').textContent = problem;
      setStatus('signed-out');
      askForKey();
      return;
    }
  }
  connect();
}

void start();

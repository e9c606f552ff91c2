// Sluice's dashboard: plain DOM, no framework, nothing loaded from elsewhere.
// The API key lives in this tab's sessionStorage only and goes out in the Authorization
// header of each call; the live state comes from GET /v1/stream (server-sent events read
// with fetch, since EventSource cannot send that header).
'use strict';

const keyStorage = 'sluice.key';
const streamRetryMillisecondsMax = 10000;
const chartWidth = 600;
const chartHeight = 140;

const session = { key: null, scopes: new Set(), latest: null, stream: null };
const $ = (id) => document.getElementById(id);

// ---- API ----

// An API answer that is not 2xx, as an Error carrying the server's message.
async function apiError(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return new Error(body.error.message);
  } catch (_) { /* not JSON: the status says it */ }
  return new Error(`HTTP ${response.status}`);
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${session.key}` };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await apiError(response);
  return response;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

// Runs an action from a button; its failure is shown as the server worded it.
async function act(action) {
  try {
    showError('');
    await action();
  } catch (error) {
    showError(error.message);
  }
}

// ---- Sign-in ----

async function signIn(key) {
  session.key = key;
  const response = await fetch('/v1/keys/current', { headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
  if (!response.ok) {
    session.key = null;
    throw await apiError(response);
  }
  const current = await response.json();
  session.scopes = new Set(current.scopes);
  sessionStorage.setItem(keyStorage, key);
  $('who').textContent = `${current.id} · ${current.scopes.join(', ')}`;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  for (const element of document.querySelectorAll('[data-scope]')) {
    element.hidden = !session.scopes.has(element.dataset.scope);
  }
  startStream();
  route();
}

function signOut() {
  sessionStorage.removeItem(keyStorage);
  if (session.stream) session.stream.abort();
  session.key = null;
  session.stream = null;
  session.latest = null;
  location.hash = '';
  location.reload();
}

// ---- The stream ----

function startStream() {
  const controller = new AbortController();
  session.stream = controller;
  readStream(controller.signal);
}

// Reads /v1/stream until signed out, reconnecting with a growing pause after a drop.
async function readStream(signal) {
  let pause = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch('/v1/stream', { headers: { Authorization: `Bearer ${session.key}` }, signal, cache: 'no-store' });
      // A key refused or without the read scope: retrying would not change the answer.
      if (response.status === 401 || response.status === 403) {
        showError((await apiError(response)).message);
        return;
      }
      if (!response.ok) throw await apiError(response);
      $('live').hidden = false;
      pause = 500;
      await readEvents(response.body, signal);
    } catch (error) {
      if (signal.aborted) return;
      showError(`live updates interrupted: ${error.message}`);
    }
    $('live').hidden = true;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, streamRetryMillisecondsMax);
  }
}

// Server-sent events: blocks separated by a blank line, `field: value` lines.
async function readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener('abort', () => reader.cancel().catch(() => {}));
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseEvent(block);
      if (event.type === 'state' && event.data) onState(JSON.parse(event.data));
    }
  }
}

function parseEvent(block) {
  const event = { type: 'message', data: '' };
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event.type = value;
    if (field === 'data') data.push(value);
  }
  event.data = data.join('\n');
  return event;
}

function onState(state) {
  session.latest = state;
  if ($('error').textContent.startsWith('live updates interrupted')) showError('');
  renderCampaigns(state.campaigns);
  renderNumbers(state.senders);
  const open = currentCampaignID();
  const campaign = open && state.campaigns.find((c) => c.id === open);
  if (campaign) renderCampaignFigures(campaign);
}

// ---- Small helpers ----

function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (name === 'text') node.textContent = value;
    else if (name === 'class') node.className = value;
    else if (name.startsWith('data-') || name === 'role' || name.startsWith('aria-')) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

// Messages that no longer wait: all but the unsent (queued, in flight, in doubt).
function finished(campaign) {
  return campaign.total - campaign.unsent;
}

function campaignActions(campaign) {
  return {
    pause: campaign.state === 'active' || campaign.state === 'scheduled',
    resume: campaign.state === 'paused',
    cancel: ['active', 'scheduled', 'paused'].includes(campaign.state),
  };
}

async function changeCampaign(id, action) {
  await act(async () => {
    const response = await api('POST', `/v1/campaigns/${id}/${action}`);
    const campaign = await response.json();
    updateCampaignRow(campaign);
    if (currentCampaignID() === id) renderCampaignFigures(campaign);
  });
}

// ---- Campaigns ----

const campaignRows = new Map();

function renderCampaigns(campaigns) {
  const body = $('campaigns').tBodies[0];
  const listed = new Set(campaigns.map((c) => c.id));
  for (const [id, row] of campaignRows) {
    if (!listed.has(id)) { row.remove(); campaignRows.delete(id); }
  }
  campaigns.forEach((campaign, index) => {
    const row = updateCampaignRow(campaign);
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
  $('no-campaigns').hidden = campaigns.length > 0;
}

function campaignRow(id) {
  const cells = {
    name: element('td', {}, [element('a', { href: `#/campaign/${id}` })]),
    labels: element('td'),
    sender: element('td'),
    state: element('td'),
    progress: element('td', {}, [element('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0' }, [
      element('div', { class: 'fill' }), element('div', { class: 'fill failed' }), element('span'),
    ])]),
    rate: element('td', { class: 'number' }),
    eta: element('td', { class: 'number' }),
    actions: element('td', { class: 'row-actions' }),
  };
  for (const action of ['pause', 'resume', 'cancel']) {
    const button = element('button', { type: 'button', text: action[0].toUpperCase() + action.slice(1), 'data-action': action, 'data-scope': 'submit' });
    button.hidden = true;
    button.addEventListener('click', () => changeCampaign(id, action));
    cells.actions.append(button);
  }
  const row = element('tr', { 'data-campaign': id }, Object.values(cells));
  row.parts = cells;
  return row;
}

function updateCampaignRow(campaign) {
  let row = campaignRows.get(campaign.id);
  if (!row) {
    row = campaignRow(campaign.id);
    campaignRows.set(campaign.id, row);
  }
  const cells = row.parts;
  cells.name.firstChild.textContent = campaign.name || `#${campaign.id}`;
  cells.labels.replaceChildren(...(campaign.labels || []).map((label) => element('span', { class: 'label', text: label })));
  cells.sender.textContent = campaign.sender || '';
  const waiting = campaign.waiting_for && campaign.waiting_for !== campaign.state ? ` (${campaign.waiting_for.replace(/_/g, ' ')})` : '';
  cells.state.textContent = campaign.state + waiting;
  cells.state.className = `state-${campaign.state}`;
  const bar = cells.progress.firstChild;
  const done = finished(campaign);
  const total = Math.max(campaign.total, 1);
  const [fill, failed, label] = bar.children;
  const failedShare = (100 * campaign.counts.failed) / total;
  fill.style.width = `${(100 * done) / total - failedShare}%`;
  failed.style.left = fill.style.width;
  failed.style.width = `${failedShare}%`;
  label.textContent = `${done} / ${campaign.total}`;
  bar.setAttribute('aria-valuemax', String(campaign.total));
  bar.setAttribute('aria-valuenow', String(done));
  bar.dataset.state = campaign.state;
  cells.rate.textContent = campaign.send_rate ? `${campaign.send_rate}/s` : '—';
  cells.eta.textContent = duration(campaign.eta_seconds);
  const allowed = campaignActions(campaign);
  for (const button of cells.actions.children) {
    button.hidden = !session.scopes.has('submit') || !allowed[button.dataset.action];
  }
  return row;
}

// ---- Numbers ----

const numberCards = new Map();

function renderNumbers(senders) {
  const container = $('numbers');
  const listed = new Set(senders.map((s) => s.phone_number_id));
  for (const [id, card] of numberCards) {
    if (!listed.has(id)) { card.remove(); numberCards.delete(id); }
  }
  for (const sender of senders) {
    let card = numberCards.get(sender.phone_number_id);
    if (!card) {
      card = numberCard(sender.phone_number_id);
      numberCards.set(sender.phone_number_id, card);
      container.append(card);
    }
    updateNumberCard(card, sender);
  }
  $('no-numbers').hidden = senders.length > 0;
}

function numberCard(id) {
  const figures = element('div', { class: 'figures' });
  const chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  chart.setAttribute('class', 'chart');
  chart.setAttribute('viewBox', `0 0 ${chartWidth} ${chartHeight}`);
  chart.setAttribute('preserveAspectRatio', 'none');
  chart.setAttribute('role', 'img');
  const legend = element('div', { class: 'legend' }, [
    element('span', { class: 'sent', text: '— sent per second' }), ' · ',
    element('span', { class: 'throttled', text: '— throttled (130429) per second' }), ' · ',
    '- - tier',
  ]);
  const card = element('article', { class: 'sender', 'data-sender': id }, [element('h3', { text: id }), figures, chart, legend]);
  const input = element('input', { type: 'number', min: '1', max: '1000', step: '1', 'aria-label': 'new tier in messages per second' });
  const form = element('form', { class: 'tier-form', 'data-scope': 'admin' }, [
    element('label', { text: 'Tier' }), input, element('span', { text: 'msg/s' }), element('button', { type: 'submit', text: 'Change tier' }),
  ]);
  form.hidden = !session.scopes.has('admin');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(async () => {
      const tier = Number(input.value);
      await api('PATCH', `/v1/senders/${id}`, { tier_mps: tier });
      input.value = '';
    });
  });
  card.append(form);
  card.parts = { figures, chart, input };
  return card;
}

function figure(name, value) {
  return element('span', {}, [`${name} `, element('b', { text: String(value) })]);
}

function updateNumberCard(card, sender) {
  const { figures, chart, input } = card.parts;
  const list = [
    figure('tier', `${sender.tier_mps}/s`),
    figure('paced at', sender.effective_mps === undefined ? '—' : `${Math.round(sender.effective_mps * 10) / 10}/s`),
    figure('sending', sender.send_rate === undefined ? '—' : `${sender.send_rate}/s`),
    figure('in flight', sender.in_flight === undefined ? '—' : `${sender.in_flight} / ${sender.in_flight_limit}`),
    figure('staged', sender.staged === undefined ? '—' : sender.staged),
  ];
  if (sender.paused) list.push(figure('paused', sender.pause_reason || 'yes'));
  if (sender.endpoint_error) list.push(figure('endpoint', sender.endpoint_error));
  figures.replaceChildren(...list);
  if (!input.value && document.activeElement !== input) input.placeholder = String(sender.tier_mps);
  drawChart(chart, sender);
}

// The last minutes of one sender: sent and throttled per second against its tier.
function drawChart(svg, sender) {
  const history = sender.history || { sent: [], throttled: [] };
  // The window: the history there is, from one minute up to the ten kept.
  const samples = Math.min(Math.max(history.sent.length, 60), 600);
  const top = Math.max(sender.tier_mps, ...history.sent, ...history.throttled, 1) * 1.15;
  const x = (i, count) => chartWidth - (count - 1 - i) * (chartWidth / (samples - 1));
  const y = (value) => chartHeight - 14 - (value / top) * (chartHeight - 20);
  const points = (values) => values.map((v, i) => `${x(i, values.length).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const svgElement = (tag, attributes) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  };
  const tierY = y(sender.tier_mps).toFixed(1);
  const tierLabel = svgElement('text', { x: '4', y: String(Number(tierY) - 3) });
  tierLabel.textContent = `tier ${sender.tier_mps}/s`;
  const timeLabel = svgElement('text', { x: '4', y: String(chartHeight - 2) });
  timeLabel.textContent = samples >= 120 ? `−${Math.round(samples / 60)} min` : `−${samples} s`;
  const nowLabel = svgElement('text', { x: String(chartWidth - 24), y: String(chartHeight - 2) });
  nowLabel.textContent = 'now';
  svg.replaceChildren(
    svgElement('line', { class: 'axis', x1: '0', x2: String(chartWidth), y1: String(y(0)), y2: String(y(0)) }),
    svgElement('line', { class: 'tier', x1: '0', x2: String(chartWidth), y1: tierY, y2: tierY }),
    svgElement('polyline', { class: 'sent', points: points(history.sent), 'data-points': String(history.sent.length) }),
    svgElement('polyline', { class: 'throttled', points: points(history.throttled), 'data-points': String(history.throttled.length) }),
    tierLabel, timeLabel, nowLabel,
  );
  const throttled = history.throttled.reduce((sum, v) => sum + v, 0);
  svg.setAttribute('aria-label', `${sender.phone_number_id}: ${history.sent.length} s of history, ${throttled} throttled`);
}

// ---- One campaign ----

const drill = { id: null, cursor: null, next: null };

function currentCampaignID() {
  const match = /^#\/campaign\/(\d+)$/.exec(location.hash);
  return match ? match[1] : null;
}

async function openCampaign(id) {
  if (drill.id !== id) {
    drill.id = id;
    $('retry-result').hidden = true;
    $('campaign-title').textContent = `Campaign #${id}`;
    $('counts').tBodies[0].replaceChildren();
    $('failures').tBodies[0].replaceChildren();
    $('messages').tBodies[0].replaceChildren();
  }
  await act(async () => {
    const response = await api('GET', `/v1/campaigns/${id}`);
    renderCampaignFigures(await response.json());
    await loadMessages(null);
  });
}

function renderCampaignFigures(campaign) {
  if (campaign.id !== drill.id) return;
  $('campaign-title').textContent = campaign.name ? `${campaign.name} (#${campaign.id})` : `Campaign #${campaign.id}`;
  const parts = [`${campaign.state}`, `sender ${campaign.sender || '—'}`, `${finished(campaign)} of ${campaign.total} finished`];
  if (campaign.send_rate) parts.push(`${campaign.send_rate}/s`);
  if (campaign.eta_seconds !== null) parts.push(`ETA ${duration(campaign.eta_seconds)}`);
  if (campaign.retry_of) parts.push(`a retry of #${campaign.retry_of}`);
  if (campaign.retries && campaign.retries.length) parts.push(`retried as #${campaign.retries.join(', #')}`);
  $('campaign-summary').textContent = parts.join(' · ');
  $('counts').tBodies[0].replaceChildren(...Object.entries(campaign.counts).map(([state, count]) =>
    element('tr', { 'data-state': state }, [element('th', { text: state }), element('td', { class: 'number', text: String(count) })])));
  const failures = campaign.failures || [];
  $('failures').tBodies[0].replaceChildren(...failures.map((failure) => {
    const code = failure.code === null ? 'other' : String(failure.code);
    const show = element('button', { type: 'button', text: 'Show' });
    show.addEventListener('click', () => {
      $('filter-state').value = '';
      $('filter-code').value = failure.code === null ? '' : String(failure.code);
      loadMessages(null);
    });
    return element('tr', { 'data-code': code }, [element('td', { text: code }), element('td', { class: 'number', text: String(failure.count) }), element('td', {}, [show])]);
  }));
  $('no-failures').hidden = failures.length > 0;
  const allowed = campaignActions(campaign);
  for (const button of document.querySelectorAll('#view-campaign [data-action]')) {
    button.hidden = !session.scopes.has('submit') || !allowed[button.dataset.action];
  }
}

function messageQuery(cursor, withLimit) {
  const query = new URLSearchParams();
  const state = $('filter-state').value;
  const code = $('filter-code').value.trim();
  if (state) query.set('state', state);
  if (code) query.set('code', code);
  if (withLimit) query.set('limit', $('filter-limit').value);
  if (cursor) query.set('cursor', cursor);
  return query.toString();
}

async function loadMessages(cursor) {
  await act(async () => {
    const id = drill.id;
    const response = await api('GET', `/v1/campaigns/${id}/messages?${messageQuery(cursor, true)}`);
    const page = await response.json();
    if (id !== drill.id) return;
    drill.cursor = cursor;
    drill.next = page.next_cursor;
    $('messages').tBodies[0].replaceChildren(...page.messages.map((m) => element('tr', { 'data-message': m.id }, [
      element('td', { text: m.id }), element('td', { text: m.to }), element('td', { text: m.external_id || '' }),
      element('td', { text: m.state }), element('td', { class: 'number', text: String(m.attempts) }),
      element('td', { text: m.error ? `${m.error.code}${m.error.message ? ` ${m.error.message}` : ''}` : '' }),
      element('td', { text: m.sent_at || '' }),
    ])));
    $('no-messages').hidden = page.messages.length > 0;
    $('next-page').hidden = !page.next_cursor;
  });
}

// The CSV needs the Authorization header too: fetched, then saved from a Blob.
async function exportCSV() {
  await act(async () => {
    const id = drill.id;
    const response = await api('GET', `/v1/campaigns/${id}/messages.csv?${messageQuery(null, false)}`);
    const url = URL.createObjectURL(await response.blob());
    const link = element('a', { href: url, download: `campaign-${id}-messages.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

async function retryCampaign() {
  await act(async () => {
    const response = await api('POST', `/v1/campaigns/${drill.id}/retry`, { states: ['failed', 'unknown'] });
    const receipt = await response.json();
    const result = $('retry-result');
    result.replaceChildren(`Retry campaign created with ${receipt.accepted} messages: `,
      element('a', { href: `#/campaign/${receipt.id}`, id: 'retry-link', text: `#${receipt.id}` }));
    result.hidden = false;
  });
}

// ---- Views ----

function route() {
  if (!session.key) return;
  const id = currentCampaignID();
  const view = id ? 'campaign' : (location.hash === '#/numbers' ? 'numbers' : 'campaigns');
  for (const name of ['sign-in', 'campaigns', 'numbers', 'campaign']) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.dataset.view === view);
  if (id) openCampaign(id);
}

function start() {
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key').value.trim();
    signIn(key).then(() => { $('key').value = ''; showError(''); }, (error) => showError(error.message));
  });
  $('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  for (const button of document.querySelectorAll('#view-campaign [data-action]')) {
    button.addEventListener('click', () => changeCampaign(drill.id, button.dataset.action));
  }
  $('retry').addEventListener('click', retryCampaign);
  $('export').addEventListener('click', (event) => { event.preventDefault(); exportCSV(); });
  $('next-page').addEventListener('click', () => loadMessages(drill.next));
  $('message-filter').addEventListener('submit', (event) => { event.preventDefault(); loadMessages(null); });
  const saved = sessionStorage.getItem(keyStorage);
  if (saved) signIn(saved).catch((error) => { sessionStorage.removeItem(keyStorage); showError(error.message); });
}

start();

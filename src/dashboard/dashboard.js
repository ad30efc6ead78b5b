// The operator dashboard: plain DOM and uPlot, bundled by esbuild (scripts/build-dashboard.mjs).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { projectSettings } from './project-settings.js';

const $ = (selector) => document.querySelector(selector);
const state = { poll: undefined, range: '7d', chart: undefined, next: null };

function key() {
  return sessionStorage.getItem('clickvote-secret-key') ?? '';
}

async function api(path, options = {}) {
  const token = options.admin ? sessionStorage.getItem('clickvote-admin-token') : key();
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body?.detail ?? response.statusText);
  return body;
}

function show(message) {
  $('#message').textContent = message;
}

const settings = projectSettings({ api, show, $ });

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.appendChild(td);
}

async function loadPolls() {
  const { polls } = await api('/v1/polls');
  const list = $('#polls');
  list.replaceChildren();
  for (const poll of polls) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `${poll.name} (${poll.kind}${poll.archived ? ', archived' : ''})`;
    button.addEventListener('click', () => selectPoll(poll));
    item.appendChild(button);
    list.appendChild(item);
  }
  if (polls.length > 0 && state.poll === undefined) await selectPoll(polls[0]);
}

async function selectPoll(poll) {
  state.poll = poll;
  $('#poll-name').textContent = poll.name;
  const orders = { like: ['count', 'sum', 'average'], updown: ['count', 'sum', 'average', 'wilson'], rating: ['count', 'sum', 'average', 'bayes'] }[poll.kind];
  const select = $('#order');
  select.replaceChildren(...orders.map((order) => Object.assign(document.createElement('option'), { value: order, textContent: order })));
  $('#poll-panel').hidden = false;
  await Promise.all([loadTop(), loadChart(), loadAudit(true)]);
}

async function loadTop() {
  const { items } = await api(`/v1/polls/${encodeURIComponent(state.poll.name)}/top?order=${$('#order').value}&limit=20`);
  const body = $('#top tbody');
  body.replaceChildren();
  items.forEach((item, index) => {
    const row = document.createElement('tr');
    for (const value of [index + 1, item.target, item.count, item.sum, item.average === null ? '–' : item.average.toFixed(2)]) cell(row, String(value));
    body.appendChild(row);
  });
}

async function loadChart() {
  const { buckets } = await api(`/v1/analytics/polls/${encodeURIComponent(state.poll.name)}?range=${state.range}`);
  const data = [
    buckets.map((b) => Date.parse(b.start) / 1000),
    buckets.map((b) => b.cast),
    buckets.map((b) => b.changed),
    buckets.map((b) => b.retracted),
    buckets.map((b) => b.net),
  ];
  state.chart?.destroy();
  state.chart = new uPlot(
    {
      width: Math.min(760, $('#chart').clientWidth || 760),
      height: 260,
      series: [{}, { label: 'cast', stroke: '#2f6fde' }, { label: 'changed', stroke: '#d98b1a' }, { label: 'retracted', stroke: '#c0392b' }, { label: 'net', stroke: '#27ae60' }],
    },
    data,
    $('#chart'),
  );
  for (const button of document.querySelectorAll('[data-range]')) button.setAttribute('aria-pressed', String(button.dataset.range === state.range));
}

async function loadAudit(fromStart) {
  if (fromStart) state.next = null;
  const after = state.next === null ? '' : `&after=${state.next}`;
  const { events, next } = await api(`/v1/audit/events?poll=${encodeURIComponent(state.poll.name)}&limit=20${after}`);
  state.next = next;
  const body = $('#audit tbody');
  if (fromStart) body.replaceChildren();
  for (const event of events) {
    const row = document.createElement('tr');
    const by = event.metadata?.source === 'moderation' ? `moderation: ${event.metadata.reason}` : event.metadata?.clientAddressHash ?? '';
    for (const value of [event.recordedAt, event.type, event.target, event.voter, event.previous, event.value, by]) cell(row, String(value));
    body.appendChild(row);
  }
  $('#audit-more').hidden = next === null;
}

async function loadProjections() {
  if (!sessionStorage.getItem('clickvote-admin-token')) return;
  const { projections } = await api('/v1/admin/projections', { admin: true });
  const [tallies] = projections;
  $('#projection').textContent = `${tallies.name}: ${tallies.status}, generation ${tallies.generation}, lag ${tallies.lag.events} events / ${tallies.lag.seconds.toFixed(1)} s`;
  $('#projection-panel').hidden = false;
}

function wire() {
  $('#key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    sessionStorage.setItem('clickvote-secret-key', $('#key').value.trim());
    if ($('#admin-token').value.trim()) sessionStorage.setItem('clickvote-admin-token', $('#admin-token').value.trim());
    await start();
  });
  $('#create-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api(`/v1/polls/${encodeURIComponent($('#new-name').value.trim())}`, { method: 'PUT', body: { kind: $('#new-kind').value } });
      show(`Poll ${$('#new-name').value} saved.`);
      await loadPolls();
    } catch (error) {
      show(error.message);
    }
  });
  $('#order').addEventListener('change', () => loadTop());
  for (const button of document.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => {
      state.range = button.dataset.range;
      loadChart();
    });
  }
  $('#audit-more').addEventListener('click', () => loadAudit(false));
  settings.wire();
  $('#rebuild').addEventListener('click', async () => {
    try {
      const started = await api('/v1/admin/projections/tallies/rebuild', { method: 'POST', admin: true });
      show(`Rebuild into generation ${started.generation} started.`);
    } catch (error) {
      show(error.message);
    }
    await loadProjections();
  });
}

async function start() {
  if (!key()) return;
  $('#key-panel').hidden = true;
  $('#main').hidden = false;
  try {
    await Promise.all([loadPolls(), loadProjections(), settings.load()]);
  } catch (error) {
    show(error.message);
  }
}

wire();
start();

// The project's polls: the list to pick one from, the form that defines one, and its top targets.
import { api } from './session.js';
import { $, emptyRow, row } from './dom.js';

const orders = { like: ['count'], updown: ['sum', 'count', 'wilson', 'average'], rating: ['bayes', 'average', 'count', 'sum'] };
const orderNames = { count: 'most votes', sum: 'highest score', average: 'highest average', wilson: 'best up/down ratio (Wilson)', bayes: 'best rated (Bayesian average)' };

export function pollsView({ show, fail, onSelect }) {
  let selected;

  async function load() {
    const { polls } = await api('/v1/polls');
    const list = $('#polls');
    list.replaceChildren();
    $('#no-polls').hidden = polls.length > 0;
    for (const poll of polls) {
      const button = Object.assign(document.createElement('button'), { type: 'button', className: 'pill' });
      button.textContent = `${poll.name} · ${poll.kind}${poll.kind === 'rating' ? ` ${poll.min}–${poll.max}` : ''}${poll.archived ? ' · archived' : ''}`;
      button.dataset.poll = poll.name;
      button.addEventListener('click', () => select(poll).catch(fail));
      list.appendChild(document.createElement('li')).appendChild(button);
    }
    const again = polls.find((poll) => poll.name === selected?.name) ?? polls[0];
    if (again === undefined) $('#poll-panel').hidden = true;
    else await select(again);
  }

  async function select(poll) {
    selected = poll;
    for (const button of document.querySelectorAll('#polls button')) button.setAttribute('aria-pressed', String(button.dataset.poll === poll.name));
    for (const name of document.querySelectorAll('.poll-name')) name.textContent = poll.name;
    $('#order').replaceChildren(...orders[poll.kind].map((order) => Object.assign(document.createElement('option'), { value: order, textContent: orderNames[order] })));
    fillForm(poll);
    $('#poll-panel').hidden = false;
    await Promise.all([loadTop(), onSelect(poll)]);
  }

  async function loadTop() {
    const { items } = await api(`/v1/polls/${encodeURIComponent(selected.name)}/top?order=${$('#order').value}&limit=20`);
    const body = $('#top tbody');
    if (items.length === 0) return body.replaceChildren(emptyRow(5, `No votes yet on ${selected.name}.`));
    body.replaceChildren(...items.map((item, index) => row([index + 1, item.target, item.count, item.sum, item.average === null ? '–' : item.average.toFixed(2)])));
  }

  function fillForm(poll) {
    $('#new-name').value = poll.name;
    $('#new-kind').value = poll.kind;
    $('#new-min').value = poll.min ?? 1;
    $('#new-max').value = poll.max ?? 5;
    showScale();
  }

  function showScale() {
    const rating = $('#new-kind').value === 'rating';
    $('#scale').hidden = !rating;
    for (const input of [$('#new-min'), $('#new-max')]) input.disabled = !rating;
  }

  async function save(event) {
    event.preventDefault();
    const name = $('#new-name').value.trim();
    const kind = $('#new-kind').value;
    const scale = kind === 'rating' ? { min: Number($('#new-min').value), max: Number($('#new-max').value) } : {};
    try {
      const saved = await api(`/v1/polls/${encodeURIComponent(name)}`, { method: 'PUT', body: { kind, ...scale } });
      show(`Poll ${name} ${saved.change ?? 'saved'}.`);
      selected = saved;
      await load();
    } catch (error) {
      fail(error);
    }
  }

  function wire() {
    $('#create-form').addEventListener('submit', save);
    $('#new-kind').addEventListener('change', showScale);
    $('#order').addEventListener('change', () => loadTop().catch(fail));
    showScale();
  }

  return { load, wire, reset: () => (selected = undefined) };
}

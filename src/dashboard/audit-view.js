// The poll's audit log, newest first, filtered by target and voter, a page at a time.
import { api } from './session.js';
import { $, emptyRow, localTime, row } from './dom.js';

const pageSize = 20;

export function auditView({ fail }) {
  let poll;
  // The cursor each page was read from: the first is the newest page, the last the one shown.
  let pages = [undefined];
  let next = null;

  function query() {
    const params = new URLSearchParams({ poll: poll.name, order: 'newest', limit: String(pageSize) });
    for (const name of ['target', 'voter']) {
      const value = $(`#audit-${name}`).value.trim();
      if (value) params.set(name, value);
    }
    if (pages.at(-1) !== undefined) params.set('after', pages.at(-1));
    return params;
  }

  async function load(selected = poll) {
    if (selected !== poll) pages = [undefined];
    poll = selected;
    const params = query();
    const page = await api(`/v1/audit/events?${params}`);
    next = page.next;
    const filtered = params.has('target') || params.has('voter');
    const body = $('#audit tbody');
    if (page.events.length === 0) body.replaceChildren(emptyRow(6, filtered ? 'No events match these filters.' : `No votes yet on ${poll.name}.`));
    else body.replaceChildren(...page.events.map(eventRow));
    $('#audit-pager').hidden = pages.length === 1 && next === null;
    $('#audit-newer').disabled = pages.length === 1;
    $('#audit-older').disabled = next === null;
    $('#audit-page').textContent = `Page ${pages.length}${page.events.length ? `, ${page.events.length} event${page.events.length === 1 ? '' : 's'}` : ''}`;
  }

  function eventRow(event) {
    const by = event.metadata?.source === 'moderation' ? `moderation: ${event.metadata.reason}` : event.metadata?.clientAddressHash ?? event.metadata?.source ?? '';
    const tr = row([localTime(event.recordedAt), whatHappened(event), event.target, event.voter, `${event.previous} → ${event.value}`, by]);
    tr.firstChild.title = event.recordedAt;
    tr.lastChild.className = 'mono';
    return tr;
  }

  function go(move) {
    move();
    load().catch(fail);
  }

  function wire() {
    $('#audit-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      go(() => (pages = [undefined]));
    });
    $('#audit-filters').addEventListener('reset', () => setTimeout(() => go(() => (pages = [undefined]))));
    $('#audit-older').addEventListener('click', () => go(() => pages.push(next)));
    $('#audit-newer').addEventListener('click', () => go(() => pages.pop()));
  }

  return { load, wire };
}

/** A VoteCast over an earlier value is a change of mind: the chart counts it apart, and so does this. */
function whatHappened(event) {
  if (event.type === 'VoteRetracted') return 'retracted';
  return event.type === 'VoteCast' && event.previous !== 0 ? 'changed' : event.type === 'VoteCast' ? 'cast' : event.type;
}

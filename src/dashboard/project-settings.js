// The project's voter policy, allowed origins, rate limits, keys and moderation, for the dashboard.
import { api } from './session.js';
import { $, localTime, row } from './dom.js';

const limitNames = ['votesPerAddress', 'votesPerVoter', 'votersPerAddress'];

export function projectSettings({ show, fail }) {
  let pendingRetraction;

  async function load() {
    const project = await api('/v1/projects/current');
    $('#project-name').textContent = `${project.name} (${project.id})`;
    $('#voter-policy').value = project.voterPolicy;
    $('#allowed-origins').value = project.allowedOrigins.join('\n');
    for (const name of limitNames) $(`#limit-${name}`).value = project.rateLimits[name];
    $('#limits-off').hidden = project.rateLimits.enabled;
    $('#keys tbody').replaceChildren(...project.keys.map(keyRow));
  }

  function keyRow(key) {
    const revoke = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Revoke', className: 'danger' });
    revoke.setAttribute('aria-label', `Revoke ${key.fingerprint}`);
    revoke.addEventListener('click', () => revokeKey(key));
    const tr = row([key.fingerprint, key.kind, localTime(key.createdAt), key.lastUsedAt === null ? 'never' : localTime(key.lastUsedAt), revoke]);
    tr.firstChild.className = 'mono';
    return tr;
  }

  async function revokeKey(key) {
    if (!confirm(`Revoke ${key.kind} key ${key.fingerprint}? Requests with it are refused from then on.`)) return;
    await attempt(async () => {
      await api(`/v1/projects/current/keys/${key.fingerprint}`, { method: 'DELETE' });
      show(`Key ${key.fingerprint} revoked.`);
      await load();
    });
  }

  async function createKey(kind) {
    await attempt(async () => {
      const created = await api('/v1/projects/current/keys', { method: 'POST', body: { kind } });
      $('#new-key-value').textContent = created.key;
      $('#new-key').hidden = false;
      show(`New ${kind} key ${created.fingerprint}: copy it now, it is not shown again.`);
      await load();
    });
  }

  async function saveSettings() {
    const origins = $('#allowed-origins').value.split(/\s+/).filter(Boolean);
    const rateLimits = Object.fromEntries(limitNames.map((name) => [name, Number($(`#limit-${name}`).value)]));
    await attempt(async () => {
      await api('/v1/projects/current', { method: 'PATCH', body: { voterPolicy: $('#voter-policy').value, allowedOrigins: origins, rateLimits } });
      show('Settings saved.');
      await load();
    });
  }

  function moderationFilter() {
    const value = (selector) => $(selector).value.trim() || undefined;
    const instant = (selector) => (value(selector) === undefined ? undefined : new Date(value(selector)).toISOString());
    return { reason: value('#mod-reason'), voter: value('#mod-voter'), clientAddressHash: value('#mod-address'), poll: value('#mod-poll'), from: instant('#mod-from'), to: instant('#mod-to') };
  }

  // Always a dry run first: the button that retracts names the count it will retract.
  async function countMatches() {
    const filter = moderationFilter();
    await attempt(async () => {
      const { ballots } = await api('/v1/moderation/retractions', { method: 'POST', body: { ...filter, dryRun: true } });
      pendingRetraction = ballots > 0 ? filter : undefined;
      $('#mod-count').textContent = ballots === 1 ? '1 active ballot matches.' : `${ballots} active ballots match.`;
      $('#mod-retract').textContent = `Retract ${ballots} ballot${ballots === 1 ? '' : 's'}`;
      $('#mod-retract').hidden = ballots === 0;
    });
  }

  async function retract() {
    if (pendingRetraction === undefined) return;
    const filter = pendingRetraction;
    pendingRetraction = undefined;
    $('#mod-retract').hidden = true;
    await attempt(async () => {
      const { ballots, retracted } = await api('/v1/moderation/retractions', { method: 'POST', body: filter });
      $('#mod-count').textContent = `Retracted ${retracted} of ${ballots} matching ballots.`;
    });
  }

  async function attempt(work) {
    try {
      await work();
    } catch (error) {
      fail(error);
    }
  }

  function wire() {
    $('#settings-form').addEventListener('submit', (event) => (event.preventDefault(), saveSettings()));
    $('#new-public-key').addEventListener('click', () => createKey('public'));
    $('#new-secret-key').addEventListener('click', () => createKey('secret'));
    $('#moderation-form').addEventListener('submit', (event) => (event.preventDefault(), countMatches()));
    $('#moderation-form').addEventListener('input', () => {
      pendingRetraction = undefined;
      $('#mod-retract').hidden = true;
    });
    $('#mod-retract').addEventListener('click', retract);
  }

  return { load, wire };
}

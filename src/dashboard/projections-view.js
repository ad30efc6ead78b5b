// How far the read model is behind the log, refreshed by itself, and a rebuild where one is possible.
import { api, ApiError } from './session.js';
import { $ } from './dom.js';

const refreshMs = 5000;

export function projectionsView({ show }) {
  let timer;

  async function load() {
    try {
      const { projections } = await api('/v1/admin/projections', { admin: true });
      const [tallies] = projections;
      const rebuilding = tallies.rebuild?.status === 'rebuilding' ? `, rebuilding: ${tallies.rebuild.eventsDone} of ${tallies.rebuild.eventsTotal} events` : '';
      $('#projection').textContent = `Tallies ${tallies.status}, generation ${tallies.generation}${rebuilding}.`;
      $('#lag').textContent = lag(tallies.lag);
      $('#held-back').textContent = heldBack(tallies.heldBackBy);
      $('#lag-updated').textContent = `checked ${new Date().toLocaleTimeString()}, every ${refreshMs / 1000} s`;
      $('#rebuild').hidden = !tallies.rebuildable;
      $('#rebuild-unavailable').hidden = tallies.rebuildable;
    } catch (error) {
      $('#rebuild').hidden = true;
      $('#projection').textContent = unavailable(error);
    }
  }

  async function rebuild() {
    try {
      const started = await api('/v1/admin/projections/tallies/rebuild', { method: 'POST', admin: true });
      show(`Rebuild into generation ${started.generation} started.`);
    } catch (error) {
      show(error.message, 'error');
    }
    await load();
  }

  function start() {
    stop();
    void load();
    timer = setInterval(load, refreshMs);
  }

  function stop() {
    clearInterval(timer);
    timer = undefined;
  }

  function wire() {
    $('#rebuild').addEventListener('click', rebuild);
  }

  return { start, stop, wire };
}

function lag({ events, seconds }) {
  if (events === 0) return 'Up to date: 0 events behind the log.';
  return `${events} event${events === 1 ? '' : 's'} behind the log; the oldest has waited ${seconds.toFixed(1)} s.`;
}

function heldBack(by) {
  if (by === null) return '';
  if (by.kind === 'restored') return `Events restored from another cluster wait behind transaction ${by.transactionId}.`;
  const who = [by.applicationName, by.pid === null ? by.preparedAs && `prepared as ${by.preparedAs}` : `pid ${by.pid}`].filter(Boolean).join(', ');
  return `Held back by transaction ${by.transactionId}${who ? ` (${who})` : ''}${by.ageSeconds === undefined ? '' : `, open ${Math.round(by.ageSeconds)} s`}: see README, Metrics.`;
}

function unavailable(error) {
  if (!(error instanceof ApiError)) return `The projection status could not be read: ${error.message}`;
  if (error.status === 404) return 'The admin API is served on the internal port here (INTERNAL_PORT), not on this one.';
  if (error.status === 401) return 'The admin token was refused: sign out and sign in with the deployment\'s ADMIN_TOKEN.';
  return error.message;
}

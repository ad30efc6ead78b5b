// Votes per hour or day from the log: ballot counts on the left axis, the score's net change on the right.
import uPlot from 'uplot';
import { api } from './session.js';
import { $ } from './dom.js';

const counted = [
  { label: 'cast', stroke: '#2f5bd3' },
  { label: 'changed', stroke: '#c7860e' },
  { label: 'retracted', stroke: '#b3261e' },
];
// Net is a sum of values, not a number of ballots: its own scale and axis, so a quiet day with
// many down-votes does not flatten the counts, and the two are never read off one axis.
const net = { label: 'net (right axis)', stroke: '#1f8a4c', fill: 'rgba(31, 138, 76, 0.25)', width: 1, scale: 'net', paths: uPlot.paths.bars({ size: [0.6, 24] }), points: { show: false } };

export function activityChart({ fail }) {
  let range = '7d';
  let chart;
  let poll;

  async function load(selected = poll) {
    poll = selected;
    for (const button of document.querySelectorAll('[data-range]')) button.setAttribute('aria-pressed', String(button.dataset.range === range));
    const { buckets, bucket } = await api(`/v1/analytics/polls/${encodeURIComponent(poll.name)}?range=${range}`);
    chart?.destroy();
    chart = undefined;
    const quiet = buckets.every((b) => b.cast === 0 && b.changed === 0 && b.retracted === 0);
    $('#chart-empty').hidden = !quiet;
    $('#chart').hidden = quiet;
    if (quiet) return;
    // A bucket where the score did not move draws no bar at all, rather than a sliver on the zero line.
    const data = [buckets.map((b) => Date.parse(b.start) / 1000), ...['cast', 'changed', 'retracted'].map((name) => buckets.map((b) => b[name])), buckets.map((b) => b.net || null)];
    const half = (bucket === 'hour' ? 3600 : 86400) / 2;
    chart = new uPlot(
      {
        width: Math.min(880, $('#chart').parentElement.clientWidth - 32 || 760),
        height: 280,
        scales: { x: { time: true, range: (_, min, max) => [min - half, max + half] }, ballots: { range: (_, min, max) => [0, Math.ceil(Math.max(1, max) * 1.1)] }, net: { range: (_, min, max) => symmetric(min, max) } },
        axes: [
          {},
          { scale: 'ballots', label: `ballots per ${bucket}`, size: 60 },
          { scale: 'net', side: 1, label: `net score change per ${bucket}`, grid: { show: false }, size: 60 },
        ],
        series: [{}, ...counted.map((series) => ({ ...series, scale: 'ballots', width: 2, points: { show: false } })), net],
      },
      data,
      $('#chart'),
    );
  }

  function wire() {
    for (const button of document.querySelectorAll('[data-range]')) {
      button.addEventListener('click', () => {
        range = button.dataset.range;
        load().catch(fail);
      });
    }
  }

  return { load, wire };
}

/** Zero in the middle of the net axis: up and down read the same at a glance. */
function symmetric(min, max) {
  const reach = Math.ceil(Math.max(1, Math.abs(min ?? 0), Math.abs(max ?? 0)) * 1.15);
  return [-reach, reach];
}

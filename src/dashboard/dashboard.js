// The operator dashboard: plain DOM and uPlot, bundled by esbuild (scripts/build-dashboard.mjs).
import 'uplot/dist/uPlot.min.css';
import { activityChart } from './activity-chart.js';
import { auditView } from './audit-view.js';
import { $ } from './dom.js';
import { pollsView } from './polls-view.js';
import { projectionsView } from './projections-view.js';
import { projectSettings } from './project-settings.js';
import { isRefusedKey, session } from './session.js';

function show(message, kind = 'info') {
  $('#message').textContent = message;
  $('#message').dataset.kind = kind;
}

/** A refused key ends the session and says why on the key form; anything else is said on the page. */
function fail(error) {
  if (isRefusedKey(error)) signOut(`That key was refused: ${error.message} Type the project's secret key (cv_sk_…).`);
  else show(error.message, 'error');
}

const chart = activityChart({ fail });
const audit = auditView({ fail });
const polls = pollsView({ show, fail, onSelect: (poll) => Promise.all([chart.load(poll), audit.load(poll)]) });
const projections = projectionsView({ show });
const settings = projectSettings({ show, fail });

function signOut(message) {
  session.signOut();
  projections.stop();
  polls.reset();
  show('');
  $('#main').hidden = true;
  $('#sign-out').hidden = true;
  $('#key-panel').hidden = false;
  $('#key-form').reset();
  $('#key-message').textContent = message;
  $('#key').focus();
}

async function open() {
  if (!session.secretKey()) return;
  try {
    // The project's settings answer only to its secret key: the first read tells a wrong key.
    await settings.load();
  } catch (error) {
    fail(error);
    if (isRefusedKey(error)) return;
  }
  $('#key-panel').hidden = true;
  $('#main').hidden = false;
  $('#sign-out').hidden = false;
  $('#key-message').textContent = '';
  $('#projection-panel').hidden = !session.adminToken();
  if (session.adminToken()) projections.start();
  await polls.load().catch(fail);
}

function wire() {
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    session.signIn($('#key').value.trim(), $('#admin-token').value.trim());
    void open();
  });
  $('#sign-out').addEventListener('click', () => signOut('Signed out: the key is gone from this tab.'));
  for (const view of [polls, chart, audit, projections, settings]) view.wire();
}

wire();
void open();

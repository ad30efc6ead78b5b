// The baseline for the HTTP scenarios: a bare express 5 app in the same kind of process, parsing
// the same JSON body and answering a constant. Plain JavaScript, so nothing stands between.
import express from 'express';

const tally = { poll: 'votes', kind: 'updown', target: 't1', count: 10, sum: 4, up: 7, down: 3, average: 0.4, histogram: { '1': 7, '-1': 3 }, position: '1000.10' };
const app = express();
app.use(express.json({ limit: 16 * 1024 }));
app.post('/v1/polls/:poll/votes', (req, res) => {
  res.json({ poll: req.params.poll, target: req.body.target, voter: req.body.voter, value: req.body.value, previous: 0, changed: true, position: '1000.10' });
});
app.get('/v1/polls/:poll/tallies/:target', (_req, res) => res.json(tally));
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
app.listen(Number(process.env.PORT), '127.0.0.1');

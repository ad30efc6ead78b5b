/* Clickvote widget: like, up/down and star buttons for any element with data-clickvote-poll.
 * <script src="https://votes.example.com/widget.js" data-clickvote-key="cv_pk_…" defer></script>
 * <div data-clickvote-poll="likes" data-clickvote-target="post-1"></div>
 * Attributes on an element win over the script tag's: data-clickvote-key, -voter, -api. */
(function () {
  'use strict';
  var script = document.currentScript;
  var defaults = {
    api: (script && script.getAttribute('data-clickvote-api')) || (script ? new URL(script.src).origin : location.origin),
    key: script && script.getAttribute('data-clickvote-key'),
    voter: script && script.getAttribute('data-clickvote-voter'),
  };
  var polls = {};
  var widgets = [];

  function attr(el, name) {
    return el.getAttribute('data-clickvote-' + name) || defaults[name];
  }

  function anonymousVoter() {
    try {
      var id = localStorage.getItem('clickvote-voter');
      if (!id) {
        id = 'anon-' + Math.random().toString(36).slice(2) + Date.now().toString(36);
        localStorage.setItem('clickvote-voter', id);
      }
      return id;
    } catch {
      return 'anon-' + Math.random().toString(36).slice(2);
    }
  }

  function request(w, method, path, body) {
    return fetch(w.api + path, {
      method: method,
      headers: Object.assign({ authorization: 'Bearer ' + w.key }, body ? { 'content-type': 'application/json' } : {}),
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().then(function (json) {
        if (!r.ok) throw new Error(json.detail || r.statusText);
        return json;
      });
    });
  }

  function pollOf(w) {
    var id = w.api + ' ' + w.key + ' ' + w.poll;
    if (!polls[id]) polls[id] = request(w, 'GET', '/v1/polls/' + encodeURIComponent(w.poll));
    return polls[id];
  }

  function button(label, text, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'clickvote-button';
    b.setAttribute('aria-label', label);
    b.textContent = text;
    b.addEventListener('click', onClick);
    return b;
  }

  function render(w) {
    var t = w.tally;
    var mine = w.mine;
    if (w.kind === 'like') {
      w.buttons[0].setAttribute('aria-pressed', String(mine === 1));
      w.buttons[0].textContent = (mine === 1 ? '♥ ' : '♡ ') + t.count;
    } else if (w.kind === 'updown') {
      w.buttons[0].setAttribute('aria-pressed', String(mine === 1));
      w.buttons[1].setAttribute('aria-pressed', String(mine === -1));
      w.score.textContent = String(t.sum);
    } else {
      w.buttons.forEach(function (b, i) {
        var value = w.min + i;
        b.setAttribute('aria-pressed', String(mine === value));
        b.textContent = value <= (mine || Math.round(t.average || 0)) ? '★' : '☆';
      });
      w.score.textContent = t.count ? (t.average.toFixed(1) + ' (' + t.count + ')') : '–';
    }
  }

  // The tally moves at once; the command's answer (or the stream) confirms or undoes it.
  function cast(w, value) {
    var before = { tally: w.tally, mine: w.mine };
    var target = w.mine === value ? 0 : value;
    w.tally = moved(w.tally, w.mine, target);
    w.mine = target;
    render(w);
    request(w, 'POST', '/v1/polls/' + encodeURIComponent(w.poll) + '/votes', { target: w.target, voter: w.voter, value: target })
      .then(function (answer) {
        w.mine = answer.value;
        render(w);
      })
      .catch(function () {
        w.tally = before.tally;
        w.mine = before.mine;
        render(w);
      });
  }

  function moved(t, previous, value) {
    var active = function (v) { return v === 0 ? 0 : 1; };
    var count = t.count + active(value) - active(previous);
    var sum = t.sum + value - previous;
    return { count: count, sum: sum, average: count ? sum / count : null };
  }

  function mount(el) {
    var w = {
      el: el,
      poll: el.getAttribute('data-clickvote-poll'),
      target: el.getAttribute('data-clickvote-target'),
      api: attr(el, 'api'),
      key: attr(el, 'key'),
      voter: attr(el, 'voter') || anonymousVoter(),
      tally: { count: 0, sum: 0, average: null },
      mine: 0,
      buttons: [],
    };
    if (!w.poll || !w.target || !w.key) return;
    widgets.push(w);
    el.classList.add('clickvote');
    el.setAttribute('role', 'group');
    return pollOf(w).then(function (poll) {
      w.kind = poll.kind;
      w.min = poll.min || 1;
      el.setAttribute('aria-label', poll.name);
      if (poll.kind === 'like') {
        w.buttons = [button('Like', '♡', function () { cast(w, 1); })];
      } else if (poll.kind === 'updown') {
        w.buttons = [button('Vote up', '▲', function () { cast(w, 1); }), button('Vote down', '▼', function () { cast(w, -1); })];
      } else {
        for (var v = poll.min; v <= poll.max; v++) {
          (function (value) { w.buttons.push(button('Rate ' + value + ' of ' + poll.max, '☆', function () { cast(w, value); })); })(v);
        }
      }
      w.score = document.createElement('span');
      w.score.className = 'clickvote-score';
      w.score.setAttribute('aria-live', 'polite');
      w.buttons.forEach(function (b, i) {
        el.appendChild(b);
        if (poll.kind === 'updown' && i === 0) el.appendChild(w.score);
      });
      if (poll.kind !== 'updown') el.appendChild(w.score);
      return request(w, 'GET', '/v1/polls/' + encodeURIComponent(w.poll) + '/tallies/' + encodeURIComponent(w.target) + '?voter=' + encodeURIComponent(w.voter));
    }).then(function (tally) {
      if (!tally) return;
      w.tally = tally;
      w.mine = tally.voterValue || 0;
      render(w);
    });
  }

  // One EventSource per poll carries live counts for every target on the page.
  function listen() {
    var groups = {};
    widgets.forEach(function (w) {
      var id = w.api + ' ' + w.key + ' ' + w.poll;
      (groups[id] = groups[id] || []).push(w);
    });
    Object.keys(groups).forEach(function (id) {
      var group = groups[id];
      var first = group[0];
      var query = group.map(function (w) { return 'target=' + encodeURIComponent(w.target); }).join('&');
      var source = new EventSource(first.api + '/v1/polls/' + encodeURIComponent(first.poll) + '/stream?' + query + '&key=' + encodeURIComponent(first.key));
      source.addEventListener('tally', function (event) {
        var tally = JSON.parse(event.data);
        group.forEach(function (w) {
          if (w.target !== tally.target || !w.kind) return;
          w.tally = tally;
          render(w);
        });
      });
    });
  }

  function start() {
    var found = Array.prototype.slice.call(document.querySelectorAll('[data-clickvote-poll]'));
    Promise.all(found.map(function (el) { return Promise.resolve(mount(el)).catch(function () {}); })).then(listen);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

/* Clickvote widget: like, up/down and star buttons for any element with data-clickvote-poll.
 * <script src="https://votes.example.com/widget.js" data-clickvote-key="cv_pk_…" defer></script>
 * <div data-clickvote-poll="likes" data-clickvote-target="post-1"></div>
 * Attributes on an element win over the script tag's: data-clickvote-key, -voter, -voter-token, -api.
 * Signed projects: data-clickvote-voter-token="<token from your backend>". Anonymous projects: the
 * widget mints a voter on the first vote and keeps it in localStorage.
 * Or the custom element <clickvote-buttons poll="likes" target="post-1"></clickvote-buttons>, whose
 * attributes drop the prefix (key, voter, voter-token, api); it dispatches clickvote:change and
 * clickvote:error. */
(function () {
  'use strict';
  var script = document.currentScript;
  var defaults = {
    api: (script && script.getAttribute('data-clickvote-api')) || (script ? new URL(script.src).origin : location.origin),
    key: script && script.getAttribute('data-clickvote-key'),
    voter: script && script.getAttribute('data-clickvote-voter'),
    'voter-token': script && script.getAttribute('data-clickvote-voter-token'),
  };
  var polls = {};
  var minting = {};
  var widgets = [];
  var tag = 'clickvote-buttons';
  // Mounts still reading their poll; the page's stream opens once none is left.
  var mounting = 1;
  var sources = [];
  var listening = '';

  function attr(el, name) {
    return el.getAttribute('data-clickvote-' + name) || (el.localName === tag && el.getAttribute(name)) || defaults[name];
  }

  function emit(w, name, detail) {
    w.el.dispatchEvent(new CustomEvent('clickvote:' + name, { bubbles: true, composed: true, detail: detail }));
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

  // The voter a token vouches for; the widget only reads it, the server checks the signature.
  function subjectOf(token) {
    try {
      return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
    } catch {
      return null;
    }
  }

  function anonymousSlot(w) {
    return 'clickvote-anonymous:' + w.api + ' ' + w.key;
  }

  function savedAnonymous(w) {
    try {
      var saved = JSON.parse(localStorage.getItem(anonymousSlot(w)));
      return saved && Date.parse(saved.expiresAt) > Date.now() + 60000 ? saved : null;
    } catch {
      return null;
    }
  }

  // One mint per page and project, however many widgets ask at once.
  function mintVoter(w) {
    var slot = anonymousSlot(w);
    if (!minting[slot]) {
      minting[slot] = request(w, 'POST', '/v1/voters').then(function (minted) {
        try { localStorage.setItem(slot, JSON.stringify(minted)); } catch { /* private mode: this page only */ }
        widgets.forEach(function (other) {
          if (anonymousSlot(other) === slot && !attr(other.el, 'voter-token')) { other.token = minted.token; other.voter = minted.voter; }
        });
        return minted;
      });
      minting[slot].catch(function () { delete minting[slot]; });
    }
    return minting[slot];
  }

  function request(w, method, path, body) {
    var headers = { authorization: 'Bearer ' + w.key };
    if (body) headers['content-type'] = 'application/json';
    if (w.token) headers['clickvote-voter'] = w.token;
    return fetch(w.api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(function (r) {
      return r.json().then(function (json) {
        if (r.ok) return json;
        var error = new Error(json.detail || r.statusText);
        error.status = r.status;
        error.code = String(json.type || '').split(':').pop();
        error.voterPolicy = json.voterPolicy;
        error.retryAfter = r.headers.get('retry-after');
        throw error;
      });
    });
  }

  function refused(w, error) {
    var texts = { voter_token_invalid: 'Sign in to vote', origin_not_allowed: 'Voting is not open here', forbidden: 'Voting is not open here', rate_limited: 'Too many votes: try again in ' + (error.retryAfter || 60) + ' s' };
    w.el.setAttribute('data-clickvote-state', 'refused');
    w.status.textContent = texts[error.code] || 'Voting is not available';
    emit(w, 'error', { poll: w.poll, target: w.target, status: error.status || 0, code: error.code || 'network', message: w.status.textContent });
    console.warn(error.status
      ? 'Clickvote: refused (' + error.status + ' ' + error.code + '): ' + error.message
      : 'Clickvote: no answer from ' + w.api + ' (' + error.message + '). If the project lists allowedOrigins, is this page\'s origin among them? The browser hides a refused origin\'s answer.');
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
    var send = function () {
      return request(w, 'POST', '/v1/polls/' + encodeURIComponent(w.poll) + '/votes', { target: w.target, voter: (!w.token && w.voter) || undefined, value: target });
    };
    send()
      .catch(function (error) {
        if (error.status !== 401 || error.voterPolicy !== 'anonymous' || attr(w.el, 'voter-token')) throw error;
        return mintVoter(w).then(send);
      })
      .then(function (answer) {
        w.mine = answer.value;
        w.el.removeAttribute('data-clickvote-state');
        w.status.textContent = '';
        render(w);
        emit(w, 'change', { poll: w.poll, target: w.target, value: answer.value, tally: w.tally });
      })
      .catch(function (error) {
        w.tally = before.tally;
        w.mine = before.mine;
        render(w);
        refused(w, error);
      });
  }

  // A project with signed or anonymous voters answers a reader without a token without their own value.
  function readTally(w) {
    var path = '/v1/polls/' + encodeURIComponent(w.poll) + '/tallies/' + encodeURIComponent(w.target);
    return request(w, 'GET', path + (w.voter ? '?voter=' + encodeURIComponent(w.voter) : '')).catch(function (error) {
      if (error.status !== 401 || !w.voter) throw error;
      if (!w.token) w.voter = null;
      return request(w, 'GET', path);
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
      poll: attr(el, 'poll'),
      target: attr(el, 'target'),
      api: attr(el, 'api'),
      key: attr(el, 'key'),
      token: attr(el, 'voter-token'),
      tally: { count: 0, sum: 0, average: null },
      mine: 0,
      buttons: [],
    };
    if (!w.poll || !w.target || !w.key || widgets.some(function (other) { return other.el === el; })) return;
    var saved = !w.token && savedAnonymous(w);
    if (saved) w.token = saved.token;
    w.voter = w.token ? subjectOf(w.token) : attr(el, 'voter') || anonymousVoter();
    widgets.push(w);
    el.classList.add('clickvote');
    el.setAttribute('role', 'group');
    w.status = document.createElement('span');
    w.status.className = 'clickvote-status';
    w.status.setAttribute('role', 'status');
    el.appendChild(w.status);
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
      el.appendChild(w.status);
      return readTally(w);
    }).then(function (tally) {
      if (!tally) return;
      w.tally = tally;
      w.mine = tally.voterValue || 0;
      render(w);
    }, function (error) {
      refused(w, error);
    });
  }

  // One EventSource per page (per API and key) carries live counts for every poll and target on it:
  // a browser holds six connections per host, so one per poll would starve the votes.
  function listen() {
    var groups = {};
    widgets.forEach(function (w) {
      if (!w.kind) return;
      var id = w.api + ' ' + w.key;
      (groups[id] = groups[id] || []).push(w);
    });
    var wanted = Object.keys(groups).map(function (id) {
      return [id].concat(groups[id].map(function (w) { return w.poll + ':' + w.target; }).sort()).join(' ');
    }).join('\n');
    if (wanted === listening) return;
    listening = wanted;
    sources.forEach(function (source) { source.close(); });
    sources = [];
    Object.keys(groups).forEach(function (id) {
      var group = groups[id];
      var pairs = group.map(function (w) { return w.poll + ':' + w.target; }).filter(function (pair, i, all) { return all.indexOf(pair) === i; });
      for (var i = 0; i < pairs.length; i += 100) {
        var query = pairs.slice(i, i + 100).map(function (pair) { return 'subscribe=' + encodeURIComponent(pair); }).join('&');
        var source = new EventSource(group[0].api + '/v1/stream?' + query + '&key=' + encodeURIComponent(group[0].key));
        source.addEventListener('tally', function (event) {
          var tally = JSON.parse(event.data);
          widgets.forEach(function (w) {
            if (w.poll !== tally.poll || w.target !== tally.target || w.api + ' ' + w.key !== id) return;
            w.tally = tally;
            render(w);
          });
        });
        sources.push(source);
      }
    });
  }

  // Elements a framework adds later join the page's stream, which reopens once for them all.
  function track(promise) {
    mounting += 1;
    Promise.resolve(promise).catch(function () {}).then(settled);
  }

  function settled() {
    mounting -= 1;
    if (!mounting) listen();
  }

  function unmount(el) {
    widgets = widgets.filter(function (w) { return w.el !== el; });
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  if (window.customElements && !customElements.get(tag)) {
    customElements.define(tag, class extends HTMLElement {
      static get observedAttributes() { return ['poll', 'target', 'key', 'voter', 'voter-token', 'api']; }
      connectedCallback() { track(mount(this)); }
      disconnectedCallback() { unmount(this); track(); }
      attributeChangedCallback() {
        if (!this.isConnected || !widgets.some(function (w) { return w.el === this; }, this)) return;
        unmount(this);
        track(mount(this));
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-clickvote-poll]'), function (el) { track(mount(el)); });
    settled();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

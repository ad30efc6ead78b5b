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

  // Themable from the page through custom properties, which cross the shadow root. Text outside
  // the buttons keeps the page's colour, so a dark widget on a light-only page stays readable.
  var css = ':host{--cv-accent:var(--clickvote-accent,#2f5bd3);--cv-bg:#fff;--cv-fg:#1d2433;--cv-line:#c4cad8;--cv-muted:#c79a1a;--cv-error:#a4281b;display:inline-block;vertical-align:middle;margin:.25em .75em .25em 0}' +
    '@media (prefers-color-scheme:dark){:host{--cv-accent:var(--clickvote-accent,#7b9bff);--cv-bg:#1c2130;--cv-fg:#e6e9f2;--cv-line:#4a5370;--cv-muted:#d8b44a;--cv-error:#ff9d8c}}' +
    '.cv{display:inline-flex;flex-wrap:wrap;align-items:center;gap:.4em;font:var(--clickvote-size,1rem)/1.2 var(--clickvote-font,system-ui,-apple-system,"Segoe UI",sans-serif);color:inherit}' +
    'button{font:inherit;color:var(--cv-fg);min-width:2.4em;height:2.2em;padding:0 .7em;border:1px solid var(--cv-line);border-radius:var(--clickvote-radius,.5rem);background:var(--cv-bg);cursor:pointer;transition:border-color .15s,transform .15s}' +
    'button:hover{border-color:var(--cv-accent)}button:focus-visible{outline:3px solid var(--cv-accent);outline-offset:2px}' +
    'button[aria-pressed=true]{background:var(--cv-accent);border-color:var(--cv-accent);color:#fff}' +
    '.star{min-width:0;padding:0 .1em;border-color:transparent;background:none;font-size:1.3em;height:auto;color:var(--cv-line)}.star.avg{color:var(--cv-muted)}.star.mine{color:var(--cv-accent)}.star[aria-pressed=true]{background:none;border-color:transparent;color:var(--cv-accent);text-decoration:underline}' +
    '.score{min-width:2em;text-align:center;font-variant-numeric:tabular-nums}.bump{animation:cv-bump .3s}@keyframes cv-bump{50%{transform:scale(1.2)}}' +
    '.status{font-size:.85em;color:var(--cv-error)}.status:empty,.score:empty{display:none}' +
    '@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}';
  var sheet;

  // A constructed sheet, unlike a <style>, is not refused by the page's Content-Security-Policy.
  function shadowOf(el) {
    var root = el.shadowRoot;
    try { root = root || el.attachShadow({ mode: 'open' }); } catch { root = el; /* an element that takes no shadow root (li, td…) */ }
    try {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(css); }
      root.adoptedStyleSheets = [sheet];
    } catch {
      var style = document.createElement('style');
      style.textContent = css;
      root.appendChild(style);
    }
    var box = document.createElement('span');
    box.className = 'cv';
    box.setAttribute('part', 'group');
    root.appendChild(box);
    return box;
  }

  function human(n) {
    var a = Math.abs(n);
    if (a < 1000) return String(n);
    var unit = a < 1e6 ? ['k', 1e3] : ['M', 1e6];
    var x = a / unit[1];
    return (n < 0 ? '-' : '') + (x < 10 ? x.toFixed(1).replace(/\.0$/, '') : Math.floor(x)) + unit[0];
  }

  var warned = {};
  // Each distinct problem is told once on the console, however many widgets meet it.
  function warnOnce(text) {
    if (warned[text]) return;
    warned[text] = true;
    console.warn(text);
  }

  function say(w, text) {
    if (text) w.el.setAttribute('data-clickvote-state', 'refused');
    else w.el.removeAttribute('data-clickvote-state');
    w.status.textContent = text;
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

  function refused(w, error, undone) {
    var texts = { voter_token_invalid: 'Sign in to vote', unauthenticated: 'Voting is not set up here (bad key)', poll_not_found: 'This poll does not exist', poll_archived: 'Voting has closed', poll_target_limit_reached: 'This poll takes no new items', origin_not_allowed: 'Voting is not open here', forbidden: 'Voting is not open here', rate_limited: 'Too many votes: try again in ' + (error.retryAfter || 60) + ' s' };
    say(w, (texts[error.code] || 'Voting is not available') + (undone && error.code !== 'voter_token_invalid' && error.code !== 'rate_limited' ? ': your vote was not counted' : ''));
    emit(w, 'error', { poll: w.poll, target: w.target, status: error.status || 0, code: error.code || 'network', message: w.status.textContent });
    warnOnce(error.status
      ? 'Clickvote: refused (' + error.status + ' ' + error.code + '): ' + error.message
      : 'Clickvote: no answer from ' + w.api + ' (' + error.message + '). If the project lists allowedOrigins, is this page\'s origin among them? The browser hides a refused origin\'s answer.');
  }

  function pollOf(w) {
    var id = w.api + ' ' + w.key + ' ' + w.poll;
    if (!polls[id]) polls[id] = request(w, 'GET', '/v1/polls/' + encodeURIComponent(w.poll));
    return polls[id];
  }

  function button(label, text, onClick, star) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = star ? 'star' : 'clickvote-button';
    b.setAttribute('part', 'button');
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
      w.buttons[0].textContent = (mine === 1 ? '♥ ' : '♡ ') + human(t.count);
    } else if (w.kind === 'updown') {
      w.buttons[0].setAttribute('aria-pressed', String(mine === 1));
      w.buttons[1].setAttribute('aria-pressed', String(mine === -1));
      w.score.textContent = human(t.sum);
    } else {
      w.buttons.forEach(function (b, i) {
        var value = w.min + i;
        b.setAttribute('aria-pressed', String(mine === value));
        b.className = 'star' + (value <= mine ? ' mine' : !mine && value <= Math.round(t.average || 0) ? ' avg' : '');
        b.textContent = value <= (mine || Math.round(t.average || 0)) ? '★' : '☆';
      });
      w.score.textContent = t.count ? (t.average.toFixed(1) + ' (' + human(t.count) + ')') : '–';
    }
    // A like's count is in its button; the other kinds show theirs beside the buttons.
    var moving = w.kind === 'like' ? w.buttons[0] : w.score;
    var shown = moving.textContent;
    if (w.shown !== undefined && w.shown !== shown) {
      moving.classList.remove('bump');
      void moving.offsetWidth;
      moving.classList.add('bump');
    }
    w.shown = shown;
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
        say(w, '');
        render(w);
        emit(w, 'change', { poll: w.poll, target: w.target, value: answer.value, tally: w.tally });
      })
      .catch(function (error) {
        w.tally = before.tally;
        w.mine = before.mine;
        render(w);
        refused(w, error, true);
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
    var box = w.box = shadowOf(el);
    box.setAttribute('role', 'group');
    w.status = document.createElement('span');
    w.status.className = 'clickvote-status status';
    w.status.setAttribute('role', 'status');
    w.status.setAttribute('aria-live', 'polite');
    box.appendChild(w.status);
    return pollOf(w).then(function (poll) {
      w.kind = poll.kind;
      w.min = poll.min || 1;
      box.setAttribute('aria-label', poll.name);
      if (poll.kind === 'like') {
        w.buttons = [button('Like', '♡', function () { cast(w, 1); })];
      } else if (poll.kind === 'updown') {
        w.buttons = [button('Vote up', '▲', function () { cast(w, 1); }), button('Vote down', '▼', function () { cast(w, -1); })];
      } else {
        for (var v = poll.min; v <= poll.max; v++) {
          (function (value) { w.buttons.push(button('Rate ' + value + ' of ' + poll.max, '☆', function () { cast(w, value); }, true)); })(v);
        }
      }
      w.score = document.createElement('span');
      w.score.className = 'clickvote-score score';
      w.score.setAttribute('aria-live', 'polite');
      w.buttons.forEach(function (b, i) {
        box.appendChild(b);
        if (poll.kind === 'updown' && i === 0) box.appendChild(w.score);
      });
      if (poll.kind !== 'updown') box.appendChild(w.score);
      box.appendChild(w.status);
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
        // EventSource reconnects by itself; meanwhile the readers are told the counts are not live.
        source.addEventListener('error', function () {
          warnOnce('Clickvote: the live counts from ' + group[0].api + ' were cut off; reconnecting.');
          group.forEach(function (w) { if (!w.status.textContent || w.lost) { w.lost = true; say(w, 'Live counts paused: reconnecting…'); } });
        });
        source.addEventListener('open', function () {
          group.forEach(function (w) { if (w.lost) { w.lost = false; say(w, ''); } });
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
    var root = el.shadowRoot;
    while (root && root.firstChild) root.removeChild(root.firstChild);
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

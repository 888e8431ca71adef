// The audit console: a client of the public GraphQL API only (queries over POST /graphql, the
// eventCreated subscription over /graphql/ws). Every number comes from the server's aggregates.
// The view and its filters live in the URL's hash, so a view can be shared by its address.
(function () {
  'use strict';

  const view = document.getElementById('view');
  const status = document.getElementById('status');
  const controls = document.getElementById('controls');
  const tokenInput = document.getElementById('token');
  let live = null; // the running live feed, if any

  tokenInput.value = localStorage.getItem('user-events-token') || '';
  tokenInput.addEventListener('change', () => {
    localStorage.setItem('user-events-token', tokenInput.value.trim());
    render();
  });

  // ---- state in the URL -------------------------------------------------------------------
  function state() {
    const params = new URLSearchParams(location.hash.slice(1));
    return Object.fromEntries(params.entries());
  }
  function href(changes, base) {
    const next = Object.assign({}, base || state(), changes);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== undefined && v !== null && v !== '') params.set(k, v);
    return '#' + params.toString();
  }
  function go(changes) { location.hash = href(changes); }

  // ---- talking to the server --------------------------------------------------------------
  function authorization() {
    const token = (localStorage.getItem('user-events-token') || '').trim();
    return token ? 'Bearer ' + token : null;
  }
  // Every operation the console sends, by name: the same file the server adds to its allow-list.
  const operations = fetch('/console/operations.json').then((r) => r.json());
  async function gql(name, variables) {
    const query = (await operations)[name];
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    const auth = authorization();
    if (auth) headers.authorization = auth;
    const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const e = body.errors[0];
      throw new Error(e.message + (e.extensions && e.extensions.code ? ' (' + e.extensions.code + ')' : ''));
    }
    return body.data;
  }

  // ---- small helpers ----------------------------------------------------------------------
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const fmt = (n) => Number(n).toLocaleString('en');
  // datetime-local values are UTC here, as the server's times are.
  const toInput = (iso) => (iso ? iso.slice(0, 16) : '');
  const fromInput = (v) => (v ? v + ':00Z' : '');
  function filter(s) {
    const f = {};
    if (s.from) f.from = s.from;
    if (s.to) f.to = s.to;
    if (s.category) f.categories = [s.category];
    if (s.user) f.userIds = [s.user];
    if (s.ip) f.ipAddress = s.ip;
    return f;
  }
  function section(title, id, wide) {
    const el = document.createElement('section');
    if (wide) el.className = 'wide';
    el.innerHTML = '<h2>' + esc(title) + '</h2><div id="' + id + '"></div>';
    view.appendChild(el);
    return el.querySelector('div');
  }
  function table(testid, head, rows) {
    return '<table data-testid="' + testid + '"><thead><tr>' + head.map((h) => '<th>' + esc(h) + '</th>').join('') +
      '</tr></thead><tbody>' + rows.join('') + '</tbody></table>';
  }

  // A range to start from: the 30 days up to the newest event; the overview's bucket and zone
  // (the browser's) are written into the address too, so that a shared link shows the same.
  async function ensureRange(s) {
    if (s.view === 'overview' && !(s.tz && s.bucket)) {
      s = Object.assign({}, s, { tz: s.tz || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', bucket: s.bucket || 'DAY' });
      history.replaceState(null, '', href({}, s));
    }
    if (s.from && s.to) return s;
    const data = await gql('Newest');
    const newest = data.events.edges.length ? new Date(data.events.edges[0].node.createdAt) : new Date();
    const to = new Date(Date.UTC(newest.getUTCFullYear(), newest.getUTCMonth(), newest.getUTCDate() + 1));
    const from = new Date(to.getTime() - 30 * 86400000);
    const next = Object.assign({}, s, { from: s.from || from.toISOString().replace('.000', ''), to: s.to || to.toISOString().replace('.000', '') });
    history.replaceState(null, '', href({}, next));
    return next;
  }

  function chart(el, xs, series, onPick) {
    if (!window.uPlot || xs.length === 0) { el.textContent = xs.length ? '' : 'No events in this range.'; return; }
    const colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#8cd17d', '#499894'];
    const opts = {
      width: Math.max(el.clientWidth, 380), height: 240,
      series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], fill: s.fill ? colors[i % colors.length] + '55' : undefined, points: { show: false } }))),
      axes: [{}, {}],
    };
    el.textContent = '';
    const u = new window.uPlot(opts, [xs].concat(series.map((s) => s.values)), el);
    // A click picks the bucket under the pointer (no hover needed first, as on a touch screen).
    if (onPick) {
      u.over.addEventListener('click', (e) => {
        const i = u.posToIdx(e.clientX - u.over.getBoundingClientRect().left);
        if (i != null && i >= 0 && i < xs.length) onPick(i);
      });
    }
  }

  // ---- views ------------------------------------------------------------------------------
  async function overview(s) {
    const tz = s.tz || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const bucket = s.bucket || 'DAY';
    const vars = { f: filter(s), bucket, tz };
    // Resource usage parses every run's description, the slowest aggregate over a long range:
    // it is asked for alongside the rest and drawn when it comes, below everything else.
    const usageAnswer = gql('Usage', vars);
    usageAnswer.catch(() => {});
    const data = await gql('Overview', vars);

    // Events per category, stacked, by bucket (click a bucket to see its events).
    const starts = [...new Set(data.byCategory.map((r) => r.bucketStart))].sort();
    const categories = [...new Set(data.byCategory.map((r) => r.category))].sort();
    const index = new Map(starts.map((t, i) => [t, i]));
    const counts = categories.map(() => starts.map(() => 0));
    for (const r of data.byCategory) counts[categories.indexOf(r.category)][index.get(r.bucketStart)] = r.count;
    const stacked = counts.map((_, i) => starts.map((_, j) => counts.slice(i).reduce((a, c) => a + c[j], 0)));
    const chartEl = section('Events per category (' + bucket.toLowerCase() + ', ' + tz + ')', 'chart-categories', true);
    // A bucket's events run from its start to the next non-empty bucket's (or the range's end).
    const bucketRange = (i) => ({ view: 'events', from: starts[i], to: starts[i + 1] || s.to, after: '' });
    chart(chartEl, starts.map((t) => Date.parse(t) / 1000), categories.map((c, i) => ({ label: c, values: stacked[i], fill: true })), (i) => go(bucketRange(i)));
    // The same numbers as a table, for reading, copying and keyboards.
    chartEl.insertAdjacentHTML('afterend', '<details><summary>As a table</summary>' +
      table('category-buckets', ['Bucket'].concat(categories, ['Total']), starts.map((t, j) =>
        '<tr data-bucket="' + esc(t) + '"><td><a href="' + href(bucketRange(j)) + '">' + esc(t) + '</a></td>' +
        categories.map((c, i) => '<td class="n" data-category="' + esc(c) + '">' + fmt(counts[i][j]) + '</td>').join('') +
        '<td class="n" data-total>' + fmt(counts.reduce((a, c) => a + c[j], 0)) + '</td></tr>')) + '</details>');

    const totals = section('Totals by category', 'totals');
    totals.innerHTML = table('category-totals', ['Category', 'Events'], data.totals.map((r) =>
      '<tr data-category="' + esc(r.category) + '"><td><a href="' + href({ view: 'events', category: r.category, after: '' }) + '">' + esc(r.category) +
      '</a></td><td class="n">' + fmt(r.count) + '</td></tr>'));

    const methods = new Map();
    for (const b of data.logins) for (const m of b.byAuthMethod) methods.set(m.method, (methods.get(m.method) || 0) + m.count);
    section('Logins by method', 'logins').innerHTML = table('login-methods', ['Method', 'Logins'],
      [...methods.entries()].sort((a, b) => b[1] - a[1]).map(([m, n]) => '<tr data-method="' + esc(m) + '"><td>' + esc(m) + '</td><td class="n">' + fmt(n) + '</td></tr>'));

    section('Busiest users', 'users').innerHTML = table('busiest-users', ['User', 'Events'], data.users.map((r) =>
      '<tr data-user="' + esc(r.userId || '') + '"><td>' + (r.userId ? '<a href="' + href({ view: 'events', user: r.userId, after: '' }) + '">' + esc(r.userId) + '</a>' : '(internal)') +
      '</td><td class="n">' + fmt(r.count) + '</td></tr>'));
    section('Busiest addresses', 'addresses').innerHTML = table('busiest-addresses', ['Address', 'Events'], data.addresses.map((r) =>
      '<tr data-ip="' + esc(r.ipAddress) + '"><td><a href="' + href({ view: 'events', ip: r.ipAddress, after: '' }) + '">' + esc(r.ipAddress) + '</a></td><td class="n">' + fmt(r.count) + '</td></tr>'));

    const usage = section('Resource usage', 'usage', true);
    usage.textContent = 'Loading…';
    Object.assign(data, await usageAnswer);
    chart(usage, data.usage.map((r) => Date.parse(r.bucketStart) / 1000), [
      { label: 'cpu', values: data.usage.map((r) => r.cpu) },
      { label: 'memory (GiB)', values: data.usage.map((r) => r.memoryGib) },
      { label: 'gpu', values: data.usage.map((r) => r.gpu) },
    ]);
    if (data.usage.length) {
      usage.insertAdjacentHTML('afterend', '<details><summary>As a table</summary>' +
        table('resource-usage', ['Bucket', 'Runs', 'cpu', 'memory (GiB)', 'gpu'], data.usage.map((r) =>
          '<tr data-usage="' + esc(r.bucketStart) + '"><td>' + esc(r.bucketStart) + '</td><td class="n">' + fmt(r.events) +
          '</td><td class="n">' + fmt(r.cpu) + '</td><td class="n">' + fmt(r.memoryGib) + '</td><td class="n">' + fmt(r.gpu) + '</td></tr>')) + '</details>');
    }
  }


  function eventRow(e) {
    const details = Object.fromEntries(Object.entries(e.details || {}).filter(([, v]) => v !== null));
    return '<tr data-id="' + esc(e.id) + '"><td>' + esc(e.id) + '</td><td>' + esc(e.createdAt) + '</td><td>' + esc(e.eventName) +
      '</td><td><a href="' + href({ view: 'events', category: e.category, after: '' }) + '">' + esc(e.category) + '</a></td><td>' +
      (e.userId ? '<a href="' + href({ view: 'events', user: e.userId, after: '' }) + '">' + esc(e.userId) + '</a>' : '') +
      '</td><td><a href="' + href({ view: 'events', ip: e.ipAddress, after: '' }) + '">' + esc(e.ipAddress) + '</a></td><td><pre>' +
      esc(Object.keys(details).length ? JSON.stringify(details) : '') + '</pre></td></tr>';
  }
  const EVENT_HEAD = ['Id', 'At (UTC)', 'Event', 'Category', 'User', 'Address', 'Details'];

  async function events(s) {
    const data = await gql('Events', { f: filter(s), after: s.after || null });
    const el = section('Events (' + fmt(data.events.totalCount) + ')', 'events', true);
    el.innerHTML = table('events-table', EVENT_HEAD, data.events.edges.map((e) => eventRow(e.node))) +
      (data.events.pageInfo.hasNextPage ? '<p><a id="next-page" href="' + href({ after: data.events.pageInfo.endCursor }) + '">Older events</a></p>' : '');
  }

  async function oneEvent(s) {
    const data = await gql('One', { id: s.id });
    const el = section('Event ' + s.id, 'event', true);
    el.innerHTML = data.event ? table('event-table', EVENT_HEAD, [eventRow(data.event)]) + '<pre>' + esc(data.event.description) + '</pre>' : 'No such event.';
  }

  async function exposure(s) {
    const data = await gql('Exposure', { asOf: s.asOf || null });
    const el = section('Open shares' + (s.asOf ? ' as of ' + s.asOf : ' now') + ' (' + fmt(data.sharingExposure.length) + ')', 'exposure', true);
    el.innerHTML = table('exposure-table', ['Resource', 'Id', 'Status', 'Since', 'Set by', 'Change'], data.sharingExposure.map((r) =>
      '<tr data-resource="' + esc(r.resourceId) + '"><td>' + esc(r.kind) + '</td><td>' + esc(r.resourceId) + '</td><td>' + esc(r.status) +
      '</td><td>' + esc(r.since) + '</td><td>' + (r.setBy ? '<a href="' + href({ view: 'events', user: r.setBy, after: '' }) + '">' + esc(r.setBy) + '</a>' : '') +
      '</td><td><a href="' + href({ view: 'event', id: r.event.id }) + '">#' + esc(r.event.id) + '</a></td></tr>'));
  }

  function liveFeed(s) {
    const el = section('Live events', 'live', true);
    el.innerHTML = '<p><button id="pause">Pause</button> <span id="live-state">connecting</span></p>' + table('live-table', EVENT_HEAD, []);
    const body = el.querySelector('tbody');
    const state = { lastId: s.after || null, running: false, dispose: null, client: null, retry: null, attempts: 0, connection: 0, query: null };
    const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql/ws';
    const shown = (text) => { el.querySelector('#live-state').textContent = text; };
    const reason = (e) => (Array.isArray(e) && e.length ? e[0].message : e && e.code ? 'closed (' + e.code + (e.reason ? ' ' + e.reason : '') + ')' : e && e.message ? e.message : 'closed');
    // Ends the current connection; its handlers see that they are stale and stay quiet.
    function release() {
      state.connection += 1;
      clearTimeout(state.retry);
      if (state.dispose) state.dispose();
      if (state.client) state.client.dispose();
      state.dispose = state.client = state.retry = null;
    }
    // The connection or the subscription ended while the feed runs: subscribe again, after the
    // last event shown, so that nothing is missed and nothing is shown twice.
    function again(why) {
      release();
      const wait = Math.min(30000, 500 * 2 ** state.attempts++);
      shown('reconnecting');
      status.textContent = 'live feed: ' + why + '; reconnecting';
      state.retry = setTimeout(connect, wait);
    }
    function connect() {
      if (!state.running) return;
      const mine = state.connection;
      const auth = authorization();
      state.client = window.graphqlWs.createClient({
        url: wsUrl, connectionParams: auth ? { authorization: auth } : {}, retryAttempts: 0,
        on: { connected: () => { if (mine !== state.connection) return; state.attempts = 0; status.textContent = ''; shown('live'); } },
      });
      state.dispose = state.client.subscribe({
        query: state.query,
        variables: { f: filter(Object.assign({}, s, { from: '', to: '' })), after: state.lastId },
      }, {
        next: (message) => {
          if (mine !== state.connection) return;
          if (message.errors) { status.textContent = message.errors[0].message; return; }
          const e = message.data.eventCreated;
          state.lastId = e.id;
          body.insertAdjacentHTML('afterbegin', eventRow(e));
          while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
        },
        error: (e) => { if (mine === state.connection && state.running) again(reason(e)); },
        complete: () => { if (mine === state.connection && state.running) again('the server ended the feed'); },
      });
    }
    async function start() {
      state.running = true;
      state.attempts = 0;
      shown('connecting');
      el.querySelector('#pause').textContent = 'Pause';
      // Begin where the server's feed stands now, so that every later event arrives, even one
      // written between this read and the subscription (the server replays from `after`).
      try {
        state.query = (await operations).Live;
        if (state.lastId === null) state.lastId = (await gql('LastEventId')).lastEventId;
      } catch (e) {
        status.textContent = e.message;
        state.running = false;
        shown('stopped');
        el.querySelector('#pause').textContent = 'Resume';
        return;
      }
      connect();
    }
    function stop() {
      state.running = false;
      release();
      shown('paused after #' + (state.lastId || '-'));
      el.querySelector('#pause').textContent = 'Resume';
    }
    el.querySelector('#pause').addEventListener('click', () => (state.running ? stop() : start()));
    start();
    return { stop };
  }

  // ---- the page ---------------------------------------------------------------------------
  async function render() {
    if (live) { live.stop(); live = null; }
    let s = state();
    s.view = s.view || 'overview';
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === s.view);
    status.textContent = '';
    view.textContent = '';
    document.body.dataset.ready = '';
    try {
      if (s.view === 'overview' || s.view === 'events') s = await ensureRange(s);
      controls.from.value = toInput(s.from);
      controls.to.value = toInput(s.to);
      controls.bucket.value = s.bucket || 'DAY';
      controls.tz.value = s.tz || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
      controls.asOf.value = toInput(s.asOf);
      const chips = ['category', 'user', 'ip'].filter((k) => s[k]);
      document.getElementById('filters').innerHTML = chips.map((k) => '<a href="' + href({ [k]: '', after: '' }) + '" title="remove">' + esc(k + ': ' + s[k]) + ' ×</a>').join('');
      if (s.view === 'overview') await overview(s);
      else if (s.view === 'events') await events(s);
      else if (s.view === 'event') await oneEvent(s);
      else if (s.view === 'exposure') await exposure(s);
      else if (s.view === 'live') live = liveFeed(s);
      document.body.dataset.ready = s.view;
    } catch (e) {
      status.textContent = e.message;
      document.body.dataset.ready = 'error';
    }
  }

  controls.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ from: fromInput(controls.from.value), to: fromInput(controls.to.value), bucket: controls.bucket.value, tz: controls.tz.value, asOf: fromInput(controls.asOf.value), after: '' });
  });
  window.addEventListener('hashchange', render);
  render();
})();

// @ts-check
/**
 * The report page's script, served as report/app.js by report-page.ts exactly as this file is
 * (read once when the page is registered; `npm run build` copies it into dist/): plain browser
 * JavaScript, no library, no build step. Type-checked with the DOM library through the
 * tsconfig.json beside it (`npm run typecheck`) and linted like the rest (`npm run lint`); the
 * types are JSDoc comments, so what is checked is what the browser runs.
 *
 * What it does: reads the filter (since, until, from, tags, by, and an optional page size
 * `limit`) from the page URL and the form; calls the reports API relative to the page
 * (api/v1/report, api/v1/sends) with the browser's own credentials: the API answers 401 with
 * `WWW-Authenticate: Basic`, so the browser asks for the user's e-mail and password once and
 * sends them with every later request (the password never passes through this script).
 * Shows the totals, a line chart by day drawn as SVG elements (sends, delivered, opened,
 * clicked, bounced), the grouped rows, and the sends one page at a time (nextCursor).
 * Opens and clicks are people's; machines' (image proxies, link scanners) are shown apart.
 * "Find a send" asks api/v1/sends?q= (id, Message-ID or recipient; any date); clicking a send
 * shows its timeline (api/v1/sends/<id>, src/reports/timeline.ts) with the remote replies.
 *
 * Every value from the API is put into the page with textContent or setAttribute, never as
 * markup: addresses and tags come from senders. No inline style either (strict CSP): colours
 * are CSS classes. `body[data-state]` is loading | ready | error and `body[data-loads]`
 * counts finished loads (the browser test waits on them).
 * Limits: at most MAX_CHART_DAYS days are filled in with zeros; longer ranges chart only the
 * days that have sends.
 */

/**
 * The page's elements by id (report-page/assets.ts).
 * @typedef {{
 *   status: HTMLElement, filters: HTMLFormElement, since: HTMLInputElement, until: HTMLInputElement,
 *   from: HTMLInputElement, tags: HTMLInputElement, by: HTMLSelectElement, totals: HTMLElement,
 *   chart: HTMLElement, legend: HTMLElement, 'groups-title': HTMLElement, groups: HTMLTableElement,
 *   sends: HTMLTableElement, prev: HTMLButtonElement, page: HTMLElement, next: HTMLButtonElement,
 *   'search-form': HTMLFormElement, search: HTMLInputElement, found: HTMLTableElement, detail: HTMLElement,
 *   'detail-title': HTMLElement, timeline: HTMLOListElement
 * }} PageElements
 */
/**
 * The filter as the form and the URL hold it.
 * @typedef {{ since: string, until: string, from: string, tags: string[], by: string }} Filter
 */
/**
 * The API's answers (src/http/reports-api.ts), as far as this page reads them.
 * @typedef {'sends' | 'delivered' | 'deferred' | 'bouncedHard' | 'bouncedSoft' | 'suppressedBounce'
 *   | 'suppressedUnsubscribe' | 'openedUnique' | 'openedTotal' | 'openedMachine' | 'clickedUnique'
 *   | 'clickedTotal' | 'clickedMachine' | 'complained'} CountName
 * @typedef {Record<CountName, number> & { group: string, key: string | null }} ReportRow
 * @typedef {{ filter: { since: string | null, until: string | null }, rows: ReportRow[] }} ReportAnswer
 * @typedef {{ id: string, receivedAt: string, mailFrom: string, from: string | null, to: string,
 *   tags?: string[], toState: string,
 *   counts?: { opened: number, clicked: number, openedMachine?: number, clickedMachine?: number } }} SendRow
 * @typedef {{ sends: SendRow[], nextCursor: string | null }} SendsPage
 * @typedef {{ at: string, type: string, recipient: string | null, role: string | null, summary: string,
 *   by?: string }} TimelineEntry
 * @typedef {{ send: SendRow, timeline: TimelineEntry[] }} SendAnswer
 * @typedef {{ error?: unknown, parameter?: string }} ErrorBody
 * @typedef {{ report: ReportAnswer, sends: SendsPage, send: SendAnswer }} Answers
 * @typedef {{ name: string, label: string, value: (r: ReportRow) => number }} Series
 */

'use strict';
(function () {
  /** @type {Array<[CountName, string]>} */
  var NUMBERS = [
    ['sends', 'Sends'], ['delivered', 'Delivered'], ['deferred', 'Deferred'],
    ['bouncedHard', 'Bounced (hard)'], ['bouncedSoft', 'Bounced (soft)'],
    ['suppressedBounce', 'Suppressed (bounce list)'], ['suppressedUnsubscribe', 'Suppressed (unsubscribed)'],
    ['openedUnique', 'Opened (sends)'], ['openedTotal', 'Opens'], ['openedMachine', 'Opens by machines'],
    ['clickedUnique', 'Clicked (sends)'], ['clickedTotal', 'Clicks'], ['clickedMachine', 'Clicks by machines'],
    ['complained', 'Complaints']
  ];
  /** @type {Series[]} */
  var SERIES = [
    { name: 'sends', label: 'Sends', value: function (r) { return r.sends; } },
    { name: 'delivered', label: 'Delivered', value: function (r) { return r.delivered; } },
    { name: 'opened', label: 'Opened', value: function (r) { return r.openedUnique; } },
    { name: 'clicked', label: 'Clicked', value: function (r) { return r.clickedUnique; } },
    { name: 'bounced', label: 'Bounced', value: function (r) { return r.bouncedHard + r.bouncedSoft; } }
  ];
  /** @type {CountName[]} */
  var GROUP_COLUMNS = ['sends', 'delivered', 'deferred', 'bouncedHard', 'bouncedSoft', 'openedUnique', 'clickedUnique', 'complained'];
  var MAX_CHART_DAYS = 400;
  var DAY_MS = 86400000;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var DEFAULT_LIMIT = 25;

  var api = new URL('api/v1/', window.location.href);
  var generation = 0;
  var pageSize = DEFAULT_LIMIT;
  /** @type {Array<string | null>} */
  var cursors = [null];
  var pageIndex = 0;
  /** The filter in force: set by apply() before anything is loaded. @type {Filter | null} */
  var applied = null;

  /**
   * @template {keyof PageElements} K
   * @param {K} id
   * @returns {PageElements[K]}
   */
  function $(id) { return /** @type {PageElements[K]} */ (document.getElementById(id)); }

  /**
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {string | null} [className]
   * @param {string | number | null} [text]
   * @returns {HTMLElementTagNameMap[K]}
   */
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  /** @param {string} tag @param {Record<string, string | number>} attrs @returns {Element} */
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }

  /** @param {Node} node */
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /** @param {string} state @param {string} [message] */
  function setState(state, message) {
    document.body.setAttribute('data-state', state);
    $('status').textContent = message || '';
  }

  /** @param {Date} d */
  function isoDay(d) { return d.toISOString().slice(0, 10); }

  /** @returns {Filter} */
  function readForm() {
    var tags = $('tags').value.split(',').map(function (t) { return t.trim(); }).filter(function (t) { return t !== ''; });
    return { since: $('since').value, until: $('until').value, from: $('from').value.trim(), tags: tags, by: $('by').value };
  }

  /** @param {Filter} f */
  function writeForm(f) {
    $('since').value = f.since; $('until').value = f.until; $('from').value = f.from;
    $('tags').value = f.tags.join(', '); $('by').value = f.by;
  }

  /** @returns {Filter} */
  function fromUrl() {
    var q = new URLSearchParams(window.location.search);
    var today = new Date();
    var by = q.get('by');
    var limit = Number(q.get('limit'));
    if (Number.isInteger(limit) && limit >= 1 && limit <= 500) pageSize = limit;
    return {
      since: q.get('since') || isoDay(new Date(today.getTime() - 29 * DAY_MS)),
      until: q.get('until') || isoDay(today),
      from: q.get('from') || '',
      tags: q.getAll('tag'),
      by: by === 'from' || by === 'tag' ? by : 'day'
    };
  }

  /** @param {Filter} f */
  function filterParams(f) {
    var p = new URLSearchParams();
    if (f.since) p.set('since', f.since);
    if (f.until) p.set('until', f.until);
    if (f.from) p.set('from', f.from);
    f.tags.forEach(function (t) { p.append('tag', t); });
    return p;
  }

  /** @param {number} status @param {ErrorBody | null} body */
  function describeError(status, body) {
    var text = body && typeof body.error === 'string' ? body.error : 'HTTP ' + status;
    if (status === 401) return 'Not signed in: ' + text + '. Reload the page to enter your e-mail and password.';
    if (status === 400 && body && body.parameter) return 'Parameter "' + body.parameter + '": ' + text;
    return text;
  }

  /**
   * @template {keyof Answers} P
   * @param {P} kind what the answer is
   * @param {URLSearchParams} params
   * @param {string} [path] the path below api/v1/ when it is not `kind` (sends/<id>)
   * @returns {Promise<Answers[P]>}
   */
  function getJson(kind, params, path) {
    var url = new URL(path || kind, api);
    url.search = params.toString();
    return fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
      return res.text().then(function (text) {
        /** @type {unknown} */
        var body = null;
        try { body = JSON.parse(text); } catch { body = null; }
        if (!res.ok) throw new Error(describeError(res.status, /** @type {ErrorBody | null} */ (body)));
        if (body === null || typeof body !== 'object') throw new Error('the server sent no JSON');
        return /** @type {Answers[P]} */ (body);
      });
    });
  }

  /** @param {ReportRow | null | undefined} total */
  function renderTotals(total) {
    var box = $('totals');
    clear(box);
    NUMBERS.forEach(function (n) {
      var m = el('div', 'metric');
      m.setAttribute('data-metric', n[0]);
      var v = el('span', 'value', total ? total[n[0]] : 0);
      m.appendChild(v);
      m.appendChild(el('span', 'label', n[1]));
      box.appendChild(m);
    });
  }

  /** @param {ReportAnswer['filter']} filter @param {ReportRow[]} rows @returns {string[]} */
  function chartDays(filter, rows) {
    var keys = rows.map(function (r) { return r.key; }).filter(function (k) { return typeof k === 'string'; });
    var first = filter.since ? isoDay(new Date(filter.since)) : keys[0];
    var last = filter.until ? isoDay(new Date(Date.parse(filter.until) - 1)) : keys[keys.length - 1];
    if (!first || !last) return keys;
    var start = Date.parse(first + 'T00:00:00Z');
    var end = Date.parse(last + 'T00:00:00Z');
    if (!(end >= start) || (end - start) / DAY_MS + 1 > MAX_CHART_DAYS) return keys;
    var days = [];
    for (var t = start; t <= end; t += DAY_MS) days.push(isoDay(new Date(t)));
    return days;
  }

  /** @param {number} v */
  function niceMax(v) {
    if (v <= 4) return 4;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (/** @type {number} */ (steps[i]) * p >= v) return /** @type {number} */ (steps[i]) * p;
    return 10 * p;
  }

  /** @param {ReportAnswer['filter']} filter @param {ReportRow[]} rows */
  function renderChart(filter, rows) {
    var box = $('chart');
    var legend = $('legend');
    clear(box); clear(legend);
    var dayRows = rows.filter(function (r) { return r.group === 'day'; });
    var days = chartDays(filter, dayRows);
    if (days.length === 0) { box.appendChild(el('p', 'empty', 'No sends in this range.')); return; }
    /** @type {Record<string, ReportRow>} */
    var byDay = {};
    dayRows.forEach(function (r) { byDay[/** @type {string} */ (r.key)] = r; });
    var W = 900, H = 280, L = 48, R = 16, T = 16, B = 36;
    var max = 0;
    days.forEach(function (d) { var r = byDay[d]; if (r) SERIES.forEach(function (s) { max = Math.max(max, s.value(/** @type {ReportRow} */ (r))); }); });
    var top = niceMax(max);
    /** @param {number} i */
    var x = function (i) { return days.length === 1 ? L + (W - L - R) / 2 : L + i * (W - L - R) / (days.length - 1); };
    /** @param {number} v */
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'sends, delivered, opened, clicked and bounced by day' });
    var grid = svg('g', { 'class': 'grid' });
    var axis = svg('g', { 'class': 'axis' });
    for (var k = 0; k <= 4; k++) {
      var v = top * k / 4;
      grid.appendChild(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      var label = svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' });
      label.textContent = String(Math.round(v * 10) / 10);
      axis.appendChild(label);
    }
    var every = Math.max(1, Math.ceil(days.length / 10));
    days.forEach(function (d, i) {
      if (i % every !== 0 && i !== days.length - 1) return;
      var anchor = days.length === 1 ? 'middle' : i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle';
      var t = svg('text', { x: x(i), y: H - B + 18, 'text-anchor': anchor });
      t.textContent = d;
      axis.appendChild(t);
    });
    axis.appendChild(svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    root.appendChild(grid);
    root.appendChild(axis);
    SERIES.forEach(function (s) {
      var g = svg('g', { 'class': 'series s-' + s.name, 'data-series': s.name });
      var points = days.map(/** @returns {[number, number, number, string]} */ function (d, i) { var r = byDay[d]; return [x(i), y(r ? s.value(r) : 0), r ? s.value(r) : 0, d]; });
      g.appendChild(svg('polyline', { points: points.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' ') }));
      points.forEach(function (p) {
        var c = svg('circle', { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 3.5, 'data-day': p[3], 'data-value': p[2] });
        var title = svg('title', {});
        title.textContent = p[3] + ' ' + s.label + ': ' + p[2];
        c.appendChild(title);
        g.appendChild(c);
      });
      root.appendChild(g);
      var item = el('li', null);
      item.appendChild(el('span', 'swatch s-' + s.name));
      item.appendChild(document.createTextNode(s.label));
      legend.appendChild(item);
    });
    box.appendChild(root);
  }

  /** @param {string} by @param {ReportRow[]} rows */
  function renderGroups(by, rows) {
    var table = $('groups');
    $('groups-title').textContent = 'By ' + (by === 'from' ? 'from address' : by);
    var head = /** @type {HTMLTableSectionElement} */ (table.tHead); var body = /** @type {HTMLTableSectionElement} */ (table.tBodies[0]);
    clear(head); clear(body);
    var hr = el('tr');
    hr.appendChild(el('th', null, by === 'from' ? 'From' : by === 'tag' ? 'Tag' : 'Day'));
    GROUP_COLUMNS.forEach(function (c) {
      var label = NUMBERS.filter(function (n) { return n[0] === c; })[0];
      hr.appendChild(el('th', 'num', label ? label[1] : c));
    });
    head.appendChild(hr);
    rows.forEach(function (r) {
      var tr = el('tr', r.group === 'total' ? 'total' : null);
      tr.setAttribute('data-group', r.group);
      tr.appendChild(el('td', null, r.group === 'total' ? 'Total' : r.key === null ? '(no tag)' : r.key));
      GROUP_COLUMNS.forEach(function (c) { tr.appendChild(el('td', 'num', r[c])); });
      body.appendChild(tr);
    });
  }

  /** @param {unknown} iso */
  function when(iso) { return typeof iso === 'string' ? iso.slice(0, 16).replace('T', ' ') : ''; }

  /**
   * People's count, and the machines' apart when there are any.
   * @param {number} people
   * @param {number | undefined} machines
   */
  function countCell(people, machines) {
    var td = el('td', 'num', people);
    if (machines) td.appendChild(el('span', 'machine', '+' + machines + ' machine'));
    return td;
  }

  /** @param {HTMLTableElement} table @param {SendRow[]} sends @param {string} empty */
  function fillSends(table, sends, empty) {
    var body = /** @type {HTMLTableSectionElement} */ (table.tBodies[0]);
    clear(body);
    if (sends.length === 0) {
      var tr0 = el('tr'); var td0 = el('td', 'empty', empty); td0.colSpan = 8; tr0.appendChild(td0); body.appendChild(tr0);
    }
    sends.forEach(function (s) {
      var tr = el('tr');
      tr.setAttribute('data-id', s.id);
      tr.appendChild(el('td', null, when(s.receivedAt)));
      tr.appendChild(el('td', 'id', s.id));
      tr.appendChild(el('td', 'from', s.from || s.mailFrom));
      tr.appendChild(el('td', 'to', s.to));
      var tags = el('td', 'tags');
      (s.tags || []).forEach(function (t) { tags.appendChild(el('span', 'tag', t)); });
      tr.appendChild(tags);
      tr.appendChild(el('td', 'state', s.toState));
      tr.appendChild(countCell(s.counts ? s.counts.opened : 0, s.counts && s.counts.openedMachine));
      tr.appendChild(countCell(s.counts ? s.counts.clicked : 0, s.counts && s.counts.clickedMachine));
      body.appendChild(tr);
    });
  }

  /** @param {SendsPage} page */
  function renderSends(page) {
    fillSends($('sends'), page.sends, 'No sends.');
    if (page.nextCursor && cursors.length === pageIndex + 1) cursors.push(page.nextCursor);
    $('next').disabled = !page.nextCursor;
    $('prev').disabled = pageIndex === 0;
    $('page').textContent = 'page ' + (pageIndex + 1);
  }

  /**
   * @param {number} gen
   * @param {boolean} ok
   * @param {string} message
   * @param {number} [current] the generation in force (default: the report's; searches have their own)
   */
  function finish(gen, ok, message, current) {
    if (gen !== (current === undefined ? generation : current)) return;
    setState(ok ? 'ready' : 'error', message);
    document.body.setAttribute('data-loads', String(Number(document.body.getAttribute('data-loads')) + 1));
  }

  function loadSends() {
    var gen = ++generation;
    setState('loading', 'Loading…');
    var p = filterParams(/** @type {Filter} */ (applied));
    p.set('limit', String(pageSize));
    var cursor = cursors[pageIndex];
    if (cursor) p.set('cursor', cursor);
    getJson('sends', p).then(function (page) {
      if (gen !== generation) return;
      renderSends(page);
      finish(gen, true, '');
    }, /** @param {Error} err */ function (err) { finish(gen, false, err.message); });
  }

  function load() {
    var gen = ++generation;
    setState('loading', 'Loading…');
    var f = /** @type {Filter} */ (applied);
    var report = filterParams(f); report.set('by', f.by);
    var daily = filterParams(f); daily.set('by', 'day');
    var sends = filterParams(f); sends.set('limit', String(pageSize));
    Promise.all([
      getJson('report', report),
      f.by === 'day' ? null : getJson('report', daily),
      getJson('sends', sends)
    ]).then(function (out) {
      if (gen !== generation) return;
      var grouped = out[0];
      var byDay = out[1] || grouped;
      var total = grouped.rows.filter(function (r) { return r.group === 'total'; })[0];
      renderTotals(total);
      renderChart(byDay.filter, byDay.rows);
      renderGroups(f.by, grouped.rows);
      cursors = [null]; pageIndex = 0;
      renderSends(out[2]);
      finish(gen, true, total ? total.sends + ' sends' : '');
    }, /** @param {Error} err */ function (err) { finish(gen, false, err.message); });
  }

  /** One generation for search and timeline loads, apart from the report's. */
  var detailGeneration = 0;

  function search() {
    var text = $('search').value.trim();
    if (text === '') return;
    var gen = ++detailGeneration;
    setState('loading', 'Searching…');
    var p = new URLSearchParams({ q: text, limit: String(pageSize) });
    getJson('sends', p).then(function (page) {
      if (gen !== detailGeneration) return;
      $('found').hidden = false;
      fillSends($('found'), page.sends, 'No send found for "' + text + '".');
      var n = page.sends.length;
      finish(gen, true, n + (n === 1 ? ' send found' : ' sends found') + (page.nextCursor ? ' (the newest ' + n + ')' : ''), detailGeneration);
    }, /** @param {Error} err */ function (err) { finish(gen, false, err.message, detailGeneration); });
  }

  /** @param {TimelineEntry} e */
  function timelineItem(e) {
    var li = el('li');
    li.setAttribute('data-type', e.type);
    if (e.by) li.setAttribute('data-by', e.by);
    var t = li.appendChild(el('time', 'at', e.at.slice(0, 19).replace('T', ' ')));
    t.setAttribute('datetime', e.at);
    li.appendChild(el('span', 'type', e.type));
    li.appendChild(el('span', 'who', e.recipient === null ? '' : e.recipient + (e.role ? ' (' + e.role + ')' : '')));
    li.appendChild(el('span', 'summary', e.summary));
    return li;
  }

  /** @param {string} id */
  function showTimeline(id) {
    var gen = ++detailGeneration;
    setState('loading', 'Loading the timeline…');
    getJson('send', new URLSearchParams(), 'sends/' + encodeURIComponent(id)).then(function (answer) {
      if (gen !== detailGeneration) return;
      var list = $('timeline');
      clear(list);
      answer.timeline.forEach(function (e) { list.appendChild(timelineItem(e)); });
      $('detail-title').textContent = 'Timeline of ' + answer.send.id + ' to ' + answer.send.to;
      $('detail').hidden = false;
      $('detail').setAttribute('data-id', answer.send.id);
      document.querySelectorAll('tr[data-id]').forEach(function (r) { r.classList.toggle('selected', r.getAttribute('data-id') === answer.send.id); });
      finish(gen, true, '', detailGeneration);
    }, /** @param {Error} err */ function (err) { finish(gen, false, err.message, detailGeneration); });
  }

  /** @param {Event} e */
  function onSendClick(e) {
    var row = e.target instanceof Element ? e.target.closest('tr[data-id]') : null;
    var id = row && row.getAttribute('data-id');
    if (id) showTimeline(id);
  }

  function apply() {
    applied = readForm();
    var q = filterParams(applied);
    q.set('by', applied.by);
    if (pageSize !== DEFAULT_LIMIT) q.set('limit', String(pageSize));
    window.history.replaceState(null, '', window.location.pathname + '?' + q.toString());
    load();
  }

  document.addEventListener('DOMContentLoaded', function () {
    writeForm(fromUrl());
    renderTotals(null);
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); apply(); });
    $('next').addEventListener('click', function () { if (cursors[pageIndex + 1]) { pageIndex++; loadSends(); } });
    $('prev').addEventListener('click', function () { if (pageIndex > 0) { pageIndex--; loadSends(); } });
    $('search-form').addEventListener('submit', function (e) { e.preventDefault(); search(); });
    $('found').addEventListener('click', onSendClick);
    $('sends').addEventListener('click', onSendClick);
    apply();
  });
})();

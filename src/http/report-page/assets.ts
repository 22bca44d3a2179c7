/**
 * The report page's HTML and CSS (report-page.ts serves them; browser/app.js is the script).
 *
 * Kept as TypeScript string constants so that `tsc` carries them into dist/ with the rest of
 * the service; the script, which has types and lint rules of its own, is a file of its own.
 *
 * CSP contract (REPORT_PAGE_CSP): no inline script, no inline style attribute, no external
 * origin. The page loads `report/style.css` and `report/app.js` RELATIVE to `/report`, so it
 * works at the root and under http.baseUrl's path alike (the URL has no trailing slash).
 * Throws nothing.
 */

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>trxmail report</title>
<link rel="stylesheet" href="report/style.css">
<script src="report/app.js" defer></script>
</head>
<body data-state="idle" data-loads="0">
<header>
  <h1>trxmail report</h1>
  <p id="status" role="status" aria-live="polite"></p>
</header>
<main>
<form id="filters" autocomplete="off">
  <label>Since <input type="date" name="since" id="since"></label>
  <label>Until (inclusive) <input type="date" name="until" id="until"></label>
  <label>From address <input type="text" name="from" id="from" maxlength="320" placeholder="any"></label>
  <label>Tags (comma separated, all must match) <input type="text" name="tags" id="tags" maxlength="2000" placeholder="any"></label>
  <label>Group by <select name="by" id="by">
    <option value="day">day</option>
    <option value="from">from address</option>
    <option value="tag">tag</option>
  </select></label>
  <button type="submit" id="apply">Apply</button>
</form>
<section aria-labelledby="search-title">
  <h2 id="search-title">Find a send</h2>
  <form id="search-form" autocomplete="off" role="search">
    <label>Recipient address, Message-ID or id (from the 250 reply) <input type="search" name="q" id="search" maxlength="500" placeholder="ann@example.net"></label>
    <button type="submit" id="find">Find</button>
  </form>
  <div class="scroll"><table id="found" hidden>
    <thead><tr><th>Received (UTC)</th><th>Id</th><th>From</th><th>To</th><th>Tags</th><th>State</th><th class="num">Opens</th><th class="num">Clicks</th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>
<section id="detail" aria-labelledby="detail-title" hidden>
  <h2 id="detail-title">Timeline</h2>
  <ol id="timeline" class="timeline"></ol>
</section>
<section aria-labelledby="totals-title">
  <h2 id="totals-title">Totals</h2>
  <div id="totals" class="totals"></div>
</section>
<section aria-labelledby="chart-title">
  <h2 id="chart-title">Over time (by day, UTC)</h2>
  <div id="chart" class="chart"></div>
  <ul id="legend" class="legend"></ul>
</section>
<section aria-labelledby="groups-title">
  <h2 id="groups-title">Groups</h2>
  <div class="scroll"><table id="groups"><thead></thead><tbody></tbody></table></div>
</section>
<section aria-labelledby="sends-title">
  <h2 id="sends-title">Sends</h2>
  <div class="scroll"><table id="sends">
    <thead><tr><th>Received (UTC)</th><th>Id</th><th>From</th><th>To</th><th>Tags</th><th>State</th><th class="num">Opens</th><th class="num">Clicks</th></tr></thead>
    <tbody></tbody>
  </table></div>
  <p class="hint">Opens and clicks are people's; machines (image proxies, link scanners) are counted apart. Click a send for its timeline.</p>
  <div class="pager">
    <button type="button" id="prev" disabled>Previous</button>
    <span id="page">page 1</span>
    <button type="button" id="next" disabled>Next</button>
  </div>
</section>
</main>
</body>
</html>
`;

export const STYLE_CSS = `:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; margin: 0.5rem 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
#status { min-height: 1.2em; margin: 0.25rem 0; color: #555; }
body[data-state="error"] #status { color: #b00020; font-weight: 600; }
form { display: flex; flex-wrap: wrap; gap: 0.75rem 1rem; align-items: flex-end; background: #fff; padding: 0.75rem 1rem; border: 1px solid #dde1e7; border-radius: 6px; }
label { display: flex; flex-direction: column; font-size: 0.8rem; gap: 0.2rem; color: #444; }
input, select, button { font: inherit; font-size: 0.9rem; padding: 0.3rem 0.4rem; }
button { cursor: pointer; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 0.5rem; }
.metric { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 0.5rem 0.75rem; }
.metric .value { display: block; font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.metric .label { display: block; font-size: 0.75rem; color: #555; }
.chart { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
.chart svg { display: block; width: 100%; height: auto; }
.chart .empty { padding: 2rem; color: #777; text-align: center; }
.axis line, .grid line { stroke: #d0d4da; stroke-width: 1; }
.axis text { font-size: 11px; fill: #555; }
.series polyline { fill: none; stroke-width: 2; }
.series circle { stroke: #fff; stroke-width: 1; }
.legend { list-style: none; display: flex; gap: 1rem; padding: 0; margin: 0.5rem 0; font-size: 0.85rem; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; border-radius: 2px; vertical-align: -0.05em; }
.s-sends polyline { stroke: #3b6fd8; } .s-sends circle, .swatch.s-sends { fill: #3b6fd8; background: #3b6fd8; }
.s-delivered polyline { stroke: #1f9d55; } .s-delivered circle, .swatch.s-delivered { fill: #1f9d55; background: #1f9d55; }
.s-opened polyline { stroke: #d88a00; } .s-opened circle, .swatch.s-opened { fill: #d88a00; background: #d88a00; }
.s-clicked polyline { stroke: #8e44ad; } .s-clicked circle, .swatch.s-clicked { fill: #8e44ad; background: #8e44ad; }
.s-bounced polyline { stroke: #c0392b; } .s-bounced circle, .swatch.s-bounced { fill: #c0392b; background: #c0392b; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 0.3rem 0.5rem; text-align: left; white-space: nowrap; }
td { max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.tag { display: inline-block; background: #eef1f6; border-radius: 3px; padding: 0 0.3em; margin-right: 0.25em; }
.pager { display: flex; gap: 1rem; align-items: center; margin-top: 0.5rem; }
[hidden] { display: none !important; }
#search-form label { flex: 1 1 30rem; }
tr[data-id] { cursor: pointer; }
tr[data-id]:hover td { background: #f0f4fb; }
tr.selected td { background: #e3ecfa; }
.machine { color: #777; font-size: 0.8em; margin-left: 0.3em; }
.hint { font-size: 0.8rem; color: #666; margin: 0.3rem 0; }
.timeline { list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
.timeline li { display: grid; grid-template-columns: 11rem 7rem 16rem 1fr; gap: 0.5rem; padding: 0.35rem 0.75rem; border-bottom: 1px solid #eef0f3; font-size: 0.85rem; }
.timeline .type { font-weight: 600; }
.timeline .who, .timeline .summary { overflow-wrap: anywhere; }
.timeline li[data-type="bounced"] .type, .timeline li[data-type="complained"] .type { color: #c0392b; }
.timeline li[data-type="deferred"] .type, .timeline li[data-type="suppressed"] .type { color: #b36b00; }
.timeline li[data-type="delivered"] .type { color: #1f9d55; }
.timeline li[data-by="machine"] { color: #777; }
`;

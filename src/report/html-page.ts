// The HTML report's own style and script. They are kept as strings (not files beside the code) so they
// travel inside a bundled pixbatch too. The script reads the page's one JSON blob and builds the DOM
// with textContent only: file names are user data and never become markup.

export const PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5d6873; --line: #d8dee4; --card: #f6f8fa; --bad: #c62828; --good: #2e7d32; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9aa7b2; --line: #30363d; --card: #161b22; --bad: #ff7b72; --good: #56d364; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 16px; display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.bad .value { color: var(--bad); }
.card.good .value { color: var(--good); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.n, th.n { text-align: right; white-space: nowrap; }
td.where { white-space: nowrap; }
td.name { overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.empty, .note { color: var(--muted); }
#chart { min-height: 320px; }
.u-legend { font-size: 13px; }
@media print { body { max-width: none; padding: 0; } }
`;

export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('pixbatch-data').textContent);
  var integer = new Intl.NumberFormat('en-US');
  var decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) for (var k in props) {
      if (props[k] === undefined || props[k] === null) continue;
      if (k === 'text') node.textContent = String(props[k]);
      else if (k === 'className') node.className = props[k];
      else node.setAttribute(k, String(props[k]));
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function duration(s) {
    if (s < 60) return decimal.format(s) + ' s';
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.round(s % 60);
    return (h ? h + ' h ' : '') + m + ' min ' + r + ' s';
  }
  function money(v, currency) {
    try { return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency, maximumFractionDigits: 4 }).format(v); }
    catch (e) { return decimal.format(v) + ' ' + currency; }
  }
  function card(figure, label, value, text, sub, tone) {
    return el('div', { className: 'card' + (tone ? ' ' + tone : '') }, [
      el('div', { className: 'label', text: label }),
      el('div', { className: 'value', 'data-figure': figure, 'data-value': value, text: text }),
      sub ? el('div', { className: 'sub', text: sub }) : null,
    ]);
  }

  var app = document.getElementById('app');
  var c = data.counts;

  var meta = el('dl', { className: 'meta' });
  function metaRow(label, value) {
    if (value === undefined || value === null || value === '') return;
    meta.appendChild(el('dt', { text: label }));
    meta.appendChild(el('dd', { text: value }));
  }
  metaRow('Job', data.jobId);
  metaRow('Source', data.source);
  metaRow('Destination', data.destination);
  if (data.spec) {
    var s = data.spec, parts = [s.to, s.preset];
    if (s.quality !== undefined) parts.push('quality ' + s.quality);
    if (s.pngCompression !== undefined) parts.push('compression ' + s.pngCompression);
    if (s.resize) parts.push('resize ' + (s.resize.width || '') + 'x' + (s.resize.height || '') + ' ' + s.resize.fit);
    if (s.watermark) parts.push('watermark');
    if (s.keepMetadata) parts.push('keep metadata');
    metaRow('Conversion', parts.join(', '));
  }
  metaRow('Started', data.startedAt);
  metaRow('Finished', data.finishedAt);
  metaRow('Tool', data.tool);
  if (data.dryRun) metaRow('Mode', 'dry run: nothing was written');
  app.appendChild(meta);

  var cards = el('div', { className: 'cards', id: 'summary' });
  var saved = data.bytesIn > 0 ? 1 - data.bytesOut / data.bytesIn : null;
  cards.appendChild(card('total', 'Images', c.total, integer.format(c.total)));
  cards.appendChild(card('converted', 'Converted', c.converted, integer.format(c.converted), null, c.converted ? 'good' : ''));
  cards.appendChild(card('skipped', 'Skipped', c.skipped, integer.format(c.skipped), 'up to date or excluded'));
  cards.appendChild(card('failed', 'Failed', c.failed, integer.format(c.failed), null, c.failed ? 'bad' : ''));
  cards.appendChild(card('bytesIn', 'Bytes before', data.bytesIn, data.bytesInText, integer.format(data.bytesIn) + ' B'));
  cards.appendChild(card('bytesOut', 'Bytes after', data.bytesOut, data.bytesOutText, integer.format(data.bytesOut) + ' B' +
    (saved === null ? '' : ' (' + (saved >= 0 ? decimal.format(saved * 100) + '% smaller' : decimal.format(-saved * 100) + '% larger') + ')')));
  cards.appendChild(card('seconds', 'Time', data.seconds, duration(data.seconds)));
  cards.appendChild(card('imagesPerSecond', 'Rate', data.imagesPerSecond, decimal.format(data.imagesPerSecond) + ' images/s'));
  if (data.cost && typeof data.cost.total === 'number') {
    var costSub = [];
    if (typeof data.cost.compute === 'number') costSub.push('compute ' + money(data.cost.compute, data.cost.currency));
    if (typeof data.cost.transactions === 'number') costSub.push('transactions ' + money(data.cost.transactions, data.cost.currency));
    if (typeof data.cost.nodeSeconds === 'number') costSub.push(integer.format(Math.round(data.cost.nodeSeconds)) + ' node-seconds');
    cards.appendChild(card('cost', 'Cost', data.cost.total, money(data.cost.total, data.cost.currency), costSub.join(', ')));
  }
  app.appendChild(el('h2', { text: 'Summary' }));
  app.appendChild(cards);
  if (data.cost && data.cost.notes && data.cost.notes.length) {
    app.appendChild(el('ul', { className: 'note' }, data.cost.notes.map(function (n) { return el('li', { text: n }); })));
  }

  app.appendChild(el('h2', { text: 'Images completed over time' }));
  var chartBox = el('div', { id: 'chart' });
  app.appendChild(chartBox);
  if (!data.timeline) {
    chartBox.appendChild(el('p', { className: 'empty', text: 'No image finished converting in this run.' }));
  } else if (typeof uPlot !== 'function') {
    chartBox.appendChild(el('p', { className: 'note', text: 'The chart library was not available when this report was written.' }));
  } else {
    var tl = data.timeline, n = tl.t.length, done = 0, bad = 0;
    var convertedTotal = [], failedTotal = [], rate = [];
    for (var i = 0; i < n; i++) {
      done += tl.converted[i]; bad += tl.failed[i];
      convertedTotal.push(done); failedTotal.push(bad);
    }
    // Rate over a centred window of about 1/25 of the run: single buckets are too spiky to read.
    var half = Math.floor(Math.max(1, Math.round(n / 25)) / 2);
    // A run that finished within one or two buckets has no meaningful rate curve.
    for (var j = 0; j < n; j++) {
      if (n < 3) { rate.push(null); continue; }
      var lo = Math.max(0, j - half), hi = Math.min(n - 1, j + half);
      var finished = convertedTotal[hi] + failedTotal[hi] - (lo ? convertedTotal[lo - 1] + failedTotal[lo - 1] : 0);
      rate.push(finished / ((hi - lo + 1) * tl.bucketMs / 1000));
    }
    var few = tl.t.length < 3;
    var plot = new uPlot({
      width: Math.max(320, chartBox.clientWidth || 800),
      height: 300,
      scales: { x: { time: true }, rate: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      series: [
        {},
        { label: 'Converted (total)', stroke: '#2e7d32', width: 2, points: { show: few } },
        { label: 'Failed (total)', stroke: '#c62828', width: 2, points: { show: few } },
        { label: 'Images/s', stroke: '#1f6feb', width: 1, scale: 'rate', points: { show: few }, value: function (u, v) { return v === null ? '' : decimal.format(v); } },
      ],
      axes: [
        {},
        { label: 'images', size: 60 },
        { label: 'images/s', scale: 'rate', side: 1, size: 60, grid: { show: false } },
      ],
    }, [tl.t, convertedTotal, failedTotal, rate], chartBox);
    window.addEventListener('resize', function () { plot.setSize({ width: Math.max(320, chartBox.clientWidth), height: 300 }); });
  }

  function groupTable(id, title, rows) {
    if (!rows.length) return;
    app.appendChild(el('h2', { text: title }));
    var head = el('tr', null, ['Name', 'Images', 'Converted', 'Skipped', 'Failed', 'Rate (images/s)', 'Bytes before', 'Bytes after'].map(function (h, i) {
      return el('th', { className: i ? 'n' : '', text: h });
    }));
    var body = el('tbody');
    rows.forEach(function (r) {
      body.appendChild(el('tr', { 'data-group': r.name }, [
        el('td', { className: 'name', text: r.name }),
        el('td', { className: 'n', 'data-col': 'images', text: integer.format(r.images) }),
        el('td', { className: 'n', 'data-col': 'converted', text: integer.format(r.converted) }),
        el('td', { className: 'n', 'data-col': 'skipped', text: integer.format(r.skipped) }),
        el('td', { className: 'n', 'data-col': 'failed', text: integer.format(r.failed) }),
        el('td', { className: 'n', 'data-col': 'rate', text: r.rate === null ? '' : decimal.format(r.rate) }),
        el('td', { className: 'n', 'data-col': 'bytesIn', text: r.bytesInText }),
        el('td', { className: 'n', 'data-col': 'bytesOut', text: r.bytesOutText }),
      ]));
    });
    app.appendChild(el('table', { id: id }, [el('thead', null, [head]), body]));
  }
  groupTable('by-task', 'By task', data.byTask);
  groupTable('by-node', 'By node', data.byNode);

  app.appendChild(el('h2', { text: 'Failures (' + integer.format(data.failures.length) + ')' }));
  if (!data.failures.length) {
    app.appendChild(el('p', { className: 'empty', text: 'No image failed.' }));
  } else {
    var where = data.failures.some(function (f) { return f.task || f.node; });
    var fhead = el('tr', null, ['File', 'Code', 'Reason'].concat(where ? ['Task', 'Node'] : []).map(function (h) { return el('th', { text: h }); }));
    var fbody = el('tbody');
    data.failures.forEach(function (f) {
      fbody.appendChild(el('tr', null, [
        el('td', { className: 'name', 'data-col': 'name', text: f.name }),
        el('td', { 'data-col': 'code', text: f.code || '' }),
        el('td', { 'data-col': 'reason', text: f.reason }),
        where ? el('td', { className: 'where', text: f.task || '' }) : null,
        where ? el('td', { className: 'where', text: f.node || '' }) : null,
      ]));
    });
    app.appendChild(el('table', { id: 'failures' }, [el('thead', null, [fhead]), fbody]));
  }
  document.body.setAttribute('data-ready', 'true');
})();
`;

// The page script and styles of `leash audit report` (report-html.ts inlines them): plain ES2017 for the browser,
// no template literals and no `${` (it is a String.raw template here). It draws with uPlot, builds tables with
// DOM calls, and puts log text into the page only with textContent, never as HTML: the log is attacker-controlled
// text. It reads the data from the page's JSON block, so it needs no network and no other file.
// The agent selector switches every figure to that agent; the allowed/denied boxes choose the time series drawn.

export const PAGE_CSS = `
:root {
  --allow: #2f855a;
  --deny: #c53030;
  --limited: #d69e2e;
  --accent: #2b6cb0;
  --muted: #666;
  --bg: #f7f7f8;
}
* {
  box-sizing: border-box;
}
body {
  font:
    14px/1.4 system-ui,
    -apple-system,
    "Segoe UI",
    Roboto,
    sans-serif;
  margin: 0;
  padding: 16px 24px;
  background: var(--bg);
  color: #1a1a1a;
}
h1 {
  font-size: 22px;
  margin: 0 0 2px;
}
h2 {
  font-size: 15px;
  margin: 0 0 6px;
}
.muted {
  color: var(--muted);
  margin: 0 0 6px;
  font-size: 12px;
}
.chain {
  padding: 10px 14px;
  border-radius: 6px;
  margin: 10px 0;
  font-weight: 600;
  border-left: 6px solid;
}
.chain.verified {
  background: #e6f4ea;
  border-color: var(--allow);
}
.chain.broken {
  background: #fde8e8;
  border-color: var(--deny);
}
.chain.not_chained,
.chain.empty {
  background: #eee;
  border-color: #999;
}
.chain small {
  display: block;
  font-weight: 400;
  color: #333;
  word-break: break-all;
}
.controls {
  display: flex;
  gap: 24px;
  align-items: center;
  margin: 8px 0 12px;
}
.controls select {
  font-size: 14px;
  padding: 2px 6px;
}
.kpis {
  display: flex;
  flex-wrap: wrap;
  gap: 10px;
  margin-bottom: 12px;
}
.kpi {
  flex: 1 1 0;
  background: #fff;
  border-radius: 6px;
  padding: 8px 12px;
  min-width: 100px;
  box-shadow: 0 1px 2px rgba(0, 0, 0, 0.08);
}
.kpi b {
  display: block;
  font-size: 20px;
  white-space: nowrap;
}
.kpi span {
  display: block;
  font-size: 11px;
}
.kpi span {
  font-size: 12px;
  color: var(--muted);
}
.kpi.deny b {
  color: var(--deny);
}
.kpi.allow b {
  color: var(--allow);
}
.kpi.limited b {
  color: var(--limited);
}
.card {
  background: #fff;
  border-radius: 6px;
  padding: 12px 14px;
  margin-bottom: 12px;
  box-shadow: 0 1px 2px rgba(0, 0, 0, 0.08);
  overflow: hidden;
}
.grid {
  display: grid;
  grid-template-columns: 1fr 1fr;
  gap: 12px;
}
.grid .card {
  margin-bottom: 0;
}
.grid {
  margin-bottom: 12px;
}
table {
  border-collapse: collapse;
  width: 100%;
  font-size: 12px;
  margin-top: 6px;
}
th,
td {
  text-align: left;
  padding: 3px 8px;
  border-bottom: 1px solid #eee;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
  max-width: 420px;
}
td.n,
th.n {
  text-align: right;
  font-variant-numeric: tabular-nums;
}
tr.outlier td {
  background: #fde8e8;
  font-weight: 600;
}
.empty {
  color: var(--muted);
  font-style: italic;
  font-size: 12px;
}
.chart {
  min-height: 40px;
}
footer {
  margin-top: 12px;
}
`;

export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var payload = JSON.parse(document.getElementById('leash-data').textContent);
  var data = payload.data,
    meta = payload.meta;
  var ALL = '*';
  var state = { agent: ALL, allow: true, deny: true };
  var charts = [];
  var COLORS = [
    '#2b6cb0',
    '#805ad5',
    '#dd6b20',
    '#319795',
    '#d53f8c',
    '#718096',
    '#38a169',
    '#b7791f',
    '#3182ce',
    '#9f7aea'
  ];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  function fmt(n) {
    return Number(n).toLocaleString('en-US');
  }
  function bytes(n) {
    var u = ['B', 'KB', 'MB', 'GB', 'TB'],
      i = 0;
    while (n >= 1024 && i < u.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
  }
  function ms(n) {
    return n === null ? '' : n >= 60000 ? n / 60000 + ' min' : n / 1000 + ' s';
  }
  function short(s, n) {
    return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
  }

  function table(target, columns, rows, rowClass) {
    var box = clear(document.getElementById(target));
    if (rows.length === 0) {
      box.appendChild(el('p', { class: 'empty' }, 'none in this view'));
      return;
    }
    var t = el('table'),
      head = el('tr');
    columns.forEach(function (c) {
      head.appendChild(el('th', c.n ? { class: 'n' } : null, c.title));
    });
    t.appendChild(head);
    rows.forEach(function (r) {
      var tr = el('tr', rowClass && rowClass(r) ? { class: rowClass(r) } : null);
      columns.forEach(function (c) {
        var v = c.get(r);
        var td = el('td', c.n ? { class: 'n' } : null, v);
        td.title = String(v);
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    box.appendChild(t);
  }

  function width(id) {
    return Math.max(300, document.getElementById(id).clientWidth || 600);
  }
  function utc(ts) {
    return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');
  }

  function chart(id, opts, series) {
    var box = clear(document.getElementById(id));
    opts.width = width(id);
    charts.push(new uPlot(opts, series, box));
  }

  function noData(id, text) {
    clear(document.getElementById(id)).appendChild(el('p', { class: 'empty' }, text));
  }

  // Bars over categories (hosts, rules): x is the index, labels on the axis.
  // grouped: the sets side by side at each label (issued | used); otherwise one bar per label (each label has a
  // value in one set only, such as normal | outlier).
  function barChart(id, labels, sets, height, grouped) {
    if (labels.length === 0) return noData(id, 'nothing to chart in this view');
    var xs = labels.map(function (_, i) {
      return i;
    });
    chart(
      id,
      {
        height: height || 260,
        legend: { show: sets.length > 1 },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: {
            time: false,
            range: function () {
              return [-0.5, labels.length - 0.5];
            }
          },
          y: {
            range: function (u, min, max) {
              return [0, max > 0 ? max * 1.1 : 1];
            }
          }
        },
        axes: [
          {
            splits: function () {
              return xs;
            },
            values: function () {
              return labels.map(function (l) {
                return short(l, 22);
              });
            },
            rotate: -35,
            size: 110,
            gap: 4
          },
          {
            size: 70,
            values: function (u, vals) {
              return vals.map(sets[0].format || fmt);
            }
          }
        ],
        series: [{ label: 'host' }].concat(
          sets.map(function (s, i) {
            var bars = grouped
              ? uPlot.paths.bars({ size: [0.35, 40], align: i === 0 ? -1 : 1 })
              : uPlot.paths.bars({ size: [0.7, 60] });
            return {
              label: s.label,
              fill: s.color,
              stroke: s.color,
              paths: bars,
              points: { show: false },
              value: function (u, v) {
                return v === null ? '' : (s.format || fmt)(v);
              }
            };
          })
        )
      },
      [xs].concat(
        sets.map(function (s) {
          return s.values;
        })
      )
    );
  }

  function agentsInView() {
    return state.agent === ALL ? data.agents : [state.agent];
  }

  // For display, buckets are merged into a wider width of the same ladder, so a chart has at most ~150 points.
  var display = (function () {
    var xs = data.series.xs,
      w = data.series.bucketMs,
      ladder = data.series.ladderMs.slice();
    if (xs.length === 0) return { xs: [], index: [], widthMs: w };
    var span = (xs[xs.length - 1] - xs[0]) * 1000 + w;
    while (span / w > 150) {
      var next = ladder.filter(function (x) {
        return x > w;
      })[0];
      w = next || w * 2;
    }
    var start = Math.floor((xs[0] * 1000) / w),
      out = [],
      index = xs.map(function (x) {
        return Math.floor((x * 1000) / w) - start;
      });
    for (var i = 0; i <= index[index.length - 1]; i++) out.push(((start + i) * w) / 1000);
    return { xs: out, index: index, widthMs: w };
  })();

  function sumSeries(agents, key) {
    var out = display.xs.map(function () {
      return 0;
    });
    agents.forEach(function (a) {
      var s = data.series.byAgent[a];
      if (s)
        s[key].forEach(function (n, i) {
          out[display.index[i]] += n;
        });
    });
    return out;
  }

  // Policy reloads and rejected changes, as vertical lines on the time charts.
  var policyLines = {
    hooks: {
      draw: [
        function (u) {
          var ctx = u.ctx;
          data.policyEvents.forEach(function (e) {
            if (!e.time) return;
            var x = u.valToPos(Date.parse(e.time) / 1000, 'x', true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.save();
            ctx.strokeStyle = e.reason === 'policy_loaded' ? '#2b6cb0' : '#c53030';
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 2;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = 12 * devicePixelRatio + 'px sans-serif';
            ctx.fillText(
              e.reason === 'policy_loaded' ? 'reload ' + (e.revision || '') : 'rejected',
              x + 4,
              u.bbox.top + 14 * devicePixelRatio
            );
            ctx.restore();
          });
        }
      ]
    }
  };

  // Times on the axis in UTC, 24-hour, like the log: HH:MM, with the date when the span is longer than a day.
  function timeAxes() {
    var span = display.xs.length ? display.xs[display.xs.length - 1] - display.xs[0] : 0;
    var values = function (u, splits) {
      return splits.map(function (s) {
        var iso = new Date(s * 1000).toISOString();
        return span > 86400 ? iso.slice(5, 10) + ' ' + iso.slice(11, 16) : iso.slice(11, 16);
      });
    };
    return [{ size: 40, values: values }, { size: 50 }];
  }

  function renderTimeline() {
    if (data.series.xs.length === 0) {
      noData('chart-timeline', 'no requests in this view');
      noData('chart-agents', 'no requests');
      return;
    }
    var agents = agentsInView();
    var secs = display.widthMs / 1000;
    document.getElementById('timeline-note').textContent =
      'Requests per ' +
      (secs >= 86400
        ? secs / 86400 + ' d'
        : secs >= 3600
          ? secs / 3600 + ' h'
          : secs >= 60
            ? secs / 60 + ' min'
            : secs + ' s') +
      ' (UTC), ' +
      (state.agent === ALL ? 'all agents' : 'agent ' + state.agent) +
      '. Dashed lines: policy reloads (blue) and rejected changes (red).';
    var series = [{ label: 'time (UTC)' }],
      values = [display.xs];
    if (state.allow) {
      series.push({
        label: 'allowed',
        stroke: '#2f855a',
        fill: 'rgba(47,133,90,0.12)',
        width: 2,
        points: { show: false }
      });
      values.push(sumSeries(agents, 'allow'));
    }
    if (state.deny) {
      series.push({
        label: 'denied',
        stroke: '#c53030',
        fill: 'rgba(197,48,48,0.12)',
        width: 2,
        points: { show: false }
      });
      values.push(sumSeries(agents, 'deny'));
      series.push({ label: 'rate-limited / bandwidth', stroke: '#d69e2e', width: 2, points: { show: false } });
      values.push(sumSeries(agents, 'limited'));
    }
    chart(
      'chart-timeline',
      { height: 220, tzDate: utc, series: series, axes: timeAxes(), plugins: [policyLines] },
      values
    );

    var per = [{ label: 'time (UTC)' }],
      perValues = [display.xs];
    data.agents.forEach(function (a, i) {
      if (state.agent !== ALL && a !== state.agent) return;
      var v = display.xs.map(function () {
        return 0;
      });
      if (state.allow)
        sumSeries([a], 'allow').forEach(function (n, j) {
          v[j] += n;
        });
      if (state.deny)
        sumSeries([a], 'deny').forEach(function (n, j) {
          v[j] += n;
        });
      per.push({ label: a, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false } });
      perValues.push(v);
    });
    chart(
      'chart-agents',
      { height: 220, tzDate: utc, series: per, axes: timeAxes(), plugins: [policyLines] },
      perValues
    );
  }

  function kpis(v) {
    var box = clear(document.getElementById('kpis'));
    var t = v.totals;
    [
      ['requests', fmt(t.requests), ''],
      ['allowed', fmt(t.allowed), 'allow'],
      ['denied', fmt(t.denied), 'deny'],
      ['would deny (report)', fmt(t.wouldDeny), ''],
      ['rate-limited', fmt(t.rateLimited), 'limited'],
      ['over bandwidth', fmt(t.bandwidth), 'limited'],
      ['bytes out', bytes(t.bytesOut), ''],
      ['bytes in', bytes(t.bytesIn), ''],
      ['grants issued / used', fmt(t.grantsIssued) + ' / ' + fmt(t.grantsUsed), '']
    ].forEach(function (k) {
      var d = el('div', { class: 'kpi ' + k[2], 'data-kpi': k[0] });
      d.appendChild(el('b', null, k[1]));
      d.appendChild(el('span', null, k[0]));
      box.appendChild(d);
    });
  }

  function render() {
    charts.forEach(function (c) {
      c.destroy();
    });
    charts = [];
    var v = state.agent === ALL ? data.all : data.views[state.agent];
    kpis(v);
    renderTimeline();

    var b = v.bytesOut;
    document.getElementById('bytes-note').textContent =
      'Outlier rule: more than median + 3\u00b7MAD (median absolute deviation) of the ' +
      fmt(b.hostsConsidered) +
      ' hosts that were sent anything' +
      (b.threshold === null
        ? ' (needs at least 3 such hosts: not applied)'
        : ': median ' +
          bytes(b.median) +
          ', MAD ' +
          bytes(b.mad) +
          ', threshold ' +
          bytes(b.threshold) +
          '; ' +
          b.outliers +
          ' outlier' +
          (b.outliers === 1 ? '' : 's') +
          (b.outliers > 0 ? ', in red.' : '.'));
    barChart(
      'chart-bytes',
      b.hosts.map(function (h) {
        return h.host;
      }),
      [
        {
          label: 'bytes out',
          color: '#2b6cb0',
          format: bytes,
          values: b.hosts.map(function (h) {
            return h.outlier ? null : h.bytesOut;
          })
        },
        {
          label: 'outlier',
          color: '#c53030',
          format: bytes,
          values: b.hosts.map(function (h) {
            return h.outlier ? h.bytesOut : null;
          })
        }
      ],
      240
    );
    table(
      'table-bytes',
      [
        {
          title: 'host',
          get: function (r) {
            return r.host;
          }
        },
        {
          title: 'bytes out',
          n: 1,
          get: function (r) {
            return bytes(r.bytesOut);
          }
        },
        {
          title: 'requests sending',
          n: 1,
          get: function (r) {
            return fmt(r.requests);
          }
        },
        {
          title: '',
          get: function (r) {
            return r.outlier ? 'outlier' : '';
          }
        }
      ],
      b.hosts,
      function (r) {
        return r.outlier ? 'outlier' : '';
      }
    );

    barChart(
      'chart-denied',
      v.topDeniedHosts.slice(0, 12).map(function (h) {
        return h.host;
      }),
      [
        {
          label: 'denied',
          color: '#c53030',
          values: v.topDeniedHosts.slice(0, 12).map(function (h) {
            return h.count;
          })
        }
      ],
      240
    );
    table(
      'table-denied',
      [
        {
          title: 'host',
          get: function (r) {
            return r.host;
          }
        },
        {
          title: 'denied',
          n: 1,
          get: function (r) {
            return fmt(r.count);
          }
        }
      ],
      v.topDeniedHosts
    );
    table(
      'table-reasons',
      [
        {
          title: 'reason',
          get: function (r) {
            return r.reason;
          }
        },
        {
          title: 'denied',
          n: 1,
          get: function (r) {
            return fmt(r.count);
          }
        }
      ],
      v.denyReasons
    );
    table(
      'table-limits',
      [
        {
          title: 'host',
          get: function (r) {
            return r.host;
          }
        },
        {
          title: 'rate_limited',
          n: 1,
          get: function (r) {
            return fmt(r.rateLimited);
          }
        },
        {
          title: 'bandwidth',
          n: 1,
          get: function (r) {
            return fmt(r.bandwidth);
          }
        }
      ],
      v.limits
    );

    barChart(
      'chart-grants',
      v.grants.map(function (g) {
        return g.sourceRule + ' \u2192 ' + g.host;
      }),
      [
        {
          label: 'issued',
          color: '#805ad5',
          values: v.grants.map(function (g) {
            return g.issued;
          })
        },
        {
          label: 'used',
          color: '#319795',
          values: v.grants.map(function (g) {
            return g.used;
          })
        }
      ],
      240,
      true
    );
    table(
      'table-grants',
      [
        {
          title: 'source rule',
          get: function (r) {
            return r.sourceRule;
          }
        },
        {
          title: 'response from',
          get: function (r) {
            return r.sourceHost;
          }
        },
        {
          title: '\u2192 granted host',
          get: function (r) {
            return r.host;
          }
        },
        {
          title: 'issued',
          n: 1,
          get: function (r) {
            return fmt(r.issued);
          }
        },
        {
          title: 'skipped',
          n: 1,
          get: function (r) {
            return fmt(r.skipped);
          }
        },
        {
          title: 'used',
          n: 1,
          get: function (r) {
            return fmt(r.used);
          }
        },
        {
          title: 'bytes out',
          n: 1,
          get: function (r) {
            return bytes(r.bytesOut);
          }
        },
        {
          title: 'TTL',
          n: 1,
          get: function (r) {
            return ms(r.ttlMs);
          }
        }
      ],
      v.grants
    );

    table(
      'table-rules',
      [
        {
          title: 'rule',
          get: function (r) {
            return r.rule;
          }
        },
        {
          title: 'hits',
          n: 1,
          get: function (r) {
            return fmt(r.hits);
          }
        },
        {
          title: 'allowed',
          n: 1,
          get: function (r) {
            return fmt(r.allowed);
          }
        },
        {
          title: 'denied',
          n: 1,
          get: function (r) {
            return fmt(r.denied);
          }
        }
      ],
      v.rules
    );
  }

  function renderStatic() {
    document.getElementById('period').textContent =
      (data.firstTime ? data.firstTime + ' \u2013 ' + data.lastTime : 'no records') +
      ' \u00b7 ' +
      fmt(data.records) +
      ' records' +
      (meta.filters.length ? ' matching ' + meta.filters.join(' ') : '') +
      ' \u00b7 generated ' +
      meta.generatedAt;
    var c = data.chain,
      box = document.getElementById('chain');
    box.className = 'chain ' + c.state;
    var title = {
      verified: 'Hash chain verified',
      broken: 'Hash chain BROKEN' + (c.brokenAtSeq !== null ? ' at seq ' + c.brokenAtSeq : ''),
      not_chained: 'Not chained: cannot be verified',
      empty: 'No records'
    }[c.state];
    box.appendChild(el('span', null, title));
    box.appendChild(
      el(
        'small',
        null,
        c.message +
          (c.head ? ' \u00b7 head seq ' + c.head.seq + ' sha256 ' + c.head.hash : '') +
          ' \u00b7 verified over every record of the input, before filters'
      )
    );

    var select = document.getElementById('agent');
    select.appendChild(el('option', { value: ALL }, 'all agents (' + data.agents.length + ')'));
    data.agents.forEach(function (a) {
      select.appendChild(el('option', { value: a }, a));
    });
    select.addEventListener('change', function () {
      state.agent = select.value;
      render();
    });
    ['allow', 'deny'].forEach(function (k) {
      var box = document.getElementById('show-' + k);
      box.addEventListener('change', function () {
        state[k] = box.checked;
        render();
      });
    });

    var never = data.rulesNeverHit;
    document.getElementById('never-note').textContent =
      never === null
        ? 'Give --policy to list the rules of the policy that no record names.'
        : fmt(never.length) +
          ' of ' +
          fmt(data.policyRules) +
          ' policy rules named by no record in this period (all agents): candidates for removal.';
    table(
      'table-never',
      [
        {
          title: 'rule',
          get: function (r) {
            return r;
          }
        }
      ],
      never || []
    );
    table(
      'table-events',
      [
        {
          title: 'time (UTC)',
          get: function (r) {
            return r.time || '';
          }
        },
        {
          title: 'event',
          get: function (r) {
            return r.reason === 'policy_loaded'
              ? 'reload'
              : r.reason === 'policy_invalid'
                ? 'change rejected'
                : r.reason;
          }
        },
        {
          title: 'revision',
          get: function (r) {
            return r.revision || '';
          }
        },
        {
          title: 'previous',
          get: function (r) {
            return r.previousRevision || '';
          }
        },
        {
          title: 'message',
          get: function (r) {
            return r.message || '';
          }
        }
      ],
      data.policyEvents
    );
    table(
      'table-revisions',
      [
        {
          title: 'revision',
          get: function (r) {
            return r.revision;
          }
        },
        {
          title: 'records',
          n: 1,
          get: function (r) {
            return fmt(r.records);
          }
        },
        {
          title: 'first seen',
          get: function (r) {
            return r.firstSeen || '';
          }
        },
        {
          title: 'last seen',
          get: function (r) {
            return r.lastSeen || '';
          }
        }
      ],
      data.revisions
    );
    var u = data.untracked,
      notes = [];
    if (u.hosts + u.keys + u.events + u.agents > 0)
      notes.push(
        'Bounds reached: ' +
          u.hosts +
          ' host entries, ' +
          u.keys +
          ' other entries, ' +
          u.events +
          ' events, ' +
          u.agents +
          ' records of further agents (counted as "(other agents)") are left out of the lists.'
      );
    notes.push(
      'leash ' +
        meta.version +
        ' \u00b7 inputs: ' +
        meta.inputs.join(', ') +
        (meta.policy ? ' \u00b7 policy: ' + meta.policy.join(', ') : '')
    );
    document.getElementById('footer').textContent = notes.join(' ');
  }

  renderStatic();
  render();
  var resizeTimer;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 200);
  });
  document.body.setAttribute('data-ready', '1');
})();
`;

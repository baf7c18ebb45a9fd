// The Grafana dashboard in examples/ queries only metrics ccproxy exposes:
// every series name in its expressions (and template queries) is in
// docs/metrics.json, the one list of metric names; a histogram may be
// queried through its _bucket, _sum and _count series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/grafana-dashboard.json'), 'utf8'));
const { metrics } = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/metrics.json'), 'utf8'));

// Every PromQL expression in the dashboard, panels (and rows' panels) and variables.
function expressions(d) {
  const out = [];
  const walk = (panels = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `panel '${p.title}'`, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? [])
    if (v.type === 'query') out.push({ where: `variable '${v.name}'`, expr: typeof v.query === 'string' ? v.query : v.query.query });
  return out;
}

// Series names: identifiers that are neither functions, keywords, labels nor variables.
function seriesNames(expr) {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const noGroupings = noStrings.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const noMatchers = noGroupings.replace(/\{[^}]*\}/g, '');
  const names = noMatchers.match(/\b(?:ccproxy|process)_[a-zA-Z0-9_]+\b/g) ?? [];
  return [...new Set(names)];
}

function known(name) {
  for (const m of metrics) {
    if (m.name === name) return m;
    if (m.type === 'histogram' && ['_bucket', '_sum', '_count'].some((s) => name === m.name + s)) return m;
  }
  return null;
}

test('every_metric_the_dashboard_queries_is_one_ccproxy_exposes', () => {
  const exprs = expressions(dashboard);
  assert.ok(exprs.length >= 15, 'the dashboard has its panels');
  const used = new Set();
  for (const { where, expr } of exprs) {
    const names = seriesNames(expr);
    assert.ok(names.length > 0, `${where} queries no ccproxy metric: ${expr}`);
    for (const n of names) {
      assert.ok(known(n), `${where} queries '${n}', which is not in docs/metrics.json`);
      used.add(known(n).name);
    }
  }
  // And it shows every metric there is.
  assert.deepEqual(metrics.map((m) => m.name).filter((n) => !used.has(n)), []);
});

test('histograms_are_queried_by_bucket_and_counters_by_rate', () => {
  for (const { where, expr } of expressions(dashboard)) {
    for (const n of seriesNames(expr)) {
      const m = known(n);
      if (m.type === 'histogram' && n === m.name) assert.fail(`${where}: a histogram is read through ${m.name}_bucket/_sum/_count`);
      if (m.type === 'counter' && !where.startsWith('variable')) assert.match(expr, new RegExp(`(rate|increase)\\(${n}\\b`), `${where}: counter ${n} needs rate() or increase()`);
    }
  }
});

test('the_dashboard_is_importable', () => {
  const ids = new Set();
  const walk = (panels = []) => {
    for (const p of panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} is used twice`);
      ids.add(p.id);
      assert.ok(p.gridPos && p.type && p.title);
      for (const t of p.targets ?? []) assert.ok(t.refId && t.datasource);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  assert.equal(typeof dashboard.uid, 'string');
  assert.ok(dashboard.templating.list.some((v) => v.type === 'datasource'));
});

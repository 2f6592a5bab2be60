/**
 * docs/grafana-dashboard.json against the metrics the daemon exports: every metric a query names is registered by
 * buildMetrics (read from its source, so a renamed metric fails here), every exported metric is shown, panel ids
 * are unique and panels do not overlap.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "../helpers/cli.js";

const dashboard = JSON.parse(readFileSync(resolve(ROOT, "docs", "grafana-dashboard.json"), "utf8")) as {
  uid: string;
  title: string;
  panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: Array<{ expr: string; refId: string }> }>;
  templating: { list: Array<{ name: string }> };
  annotations: { list: Array<{ expr: string }> };
};

/** The metric names registered by buildMetrics (src/core/metrics.ts). */
function exported(): Set<string> {
  const src = readFileSync(resolve(ROOT, "src", "core", "metrics.ts"), "utf8");
  return new Set([...src.matchAll(/m\.collect\("([a-z_:]+)"/g)].map((m) => m[1]!));
}

function queried(): Set<string> {
  const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.annotations.list.map((a) => a.expr)];
  const names = new Set<string>();
  for (const e of exprs) for (const m of e.matchAll(/\b((?:fieldbridge|process)_[a-z_]+)\b/g)) names.add(m[1]!);
  return names;
}

test("the dashboard queries only metrics fieldbridge exports, and shows every one of them", () => {
  const have = exported();
  assert.ok(have.size >= 30, `read ${have.size} metrics from metrics.ts`);
  const used = queried();
  assert.deepEqual([...used].filter((n) => !have.has(n)), [], "queried but not exported");
  assert.deepEqual([...have].filter((n) => !used.has(n)), [], "exported but not on the dashboard");
});

test("the dashboard is importable: uid, a data source and a gateway variable, unique panel ids, no overlapping panels", () => {
  assert.equal(dashboard.uid, "fieldbridge-gateway");
  assert.deepEqual(dashboard.templating.list.map((v) => v.name), ["datasource", "instance"]);
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title} fits the 24 columns`);
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
    for (const t of p.targets ?? []) assert.match(t.expr, /instance=~"\$instance"/, `${p.title}: every query follows the gateway variable`);
  }
});

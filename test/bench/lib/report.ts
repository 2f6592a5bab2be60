/** The markdown the runner prints (and the README's performance table is). */
import type { Machine } from "./machine.js";
import type { ScenarioResult } from "./result.js";

export interface RunSummary {
  machine: Machine;
  command: string;
  startedAt: string;
  durationS: number;
  seconds: number;
  scenarios: ScenarioResult[];
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function markdown(run: RunSummary): string {
  const m = run.machine;
  const lines: string[] = [];
  lines.push(`### fieldbridge performance`);
  lines.push("");
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}. ` +
      `Load average (1 min) ${m.loadAtStart} at the start, ${m.loadAtEnd ?? "n/a"} at the end.`,
  );
  lines.push(`Command: \`${run.command}\` (${run.startedAt}, ${Math.round(run.durationS)} s in all, measurement windows of ${run.seconds} s).`);
  lines.push("");
  lines.push("| Scenario | Measured | Target | Met |");
  lines.push("|---|---|---|---|");
  for (const s of run.scenarios) {
    for (const r of s.rows) {
      const met = r.met === undefined ? "–" : r.met ? "yes" : "**no**";
      lines.push(`| ${cell(r.label)} | ${cell(r.measured)} | ${cell(r.target ?? "–")} | ${met} |`);
    }
    if (s.error) lines.push(`| ${cell(s.title)} | **failed**: ${cell(s.error.split("\n")[0]!.slice(0, 300))} | – | **no** |`);
  }
  const notes = [...new Set(run.scenarios.flatMap((s) => s.notes))];
  if (notes.length) {
    lines.push("");
    lines.push("Notes:");
    for (const n of notes) lines.push(`- ${n}`);
  }
  return lines.join("\n");
}

/** A small Prometheus text-format registry: counters and gauges with labels, gauges may be read at scrape time. */

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  values: Map<string, { labels: Labels; value: number }>;
  collect?: () => Array<{ labels?: Labels; value: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (!keys.length) return "";
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",")}}`;
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  private family(name: string, help: string, type: Family["type"]): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { name, help, type, values: new Map() };
      this.families.set(name, f);
    }
    return f;
  }

  counter(name: string, help: string): { inc(labels?: Labels, n?: number): void } {
    const f = this.family(name, help, "counter");
    return {
      inc(labels: Labels = {}, n = 1) {
        const k = labelKey(labels);
        const v = f.values.get(k);
        if (v) v.value += n;
        else f.values.set(k, { labels, value: n });
      },
    };
  }

  gauge(name: string, help: string): { set(value: number, labels?: Labels): void } {
    const f = this.family(name, help, "gauge");
    return {
      set(value: number, labels: Labels = {}) {
        f.values.set(labelKey(labels), { labels, value });
      },
    };
  }

  /** A metric whose samples are computed at scrape time (counters kept elsewhere, gauges). */
  collect(name: string, help: string, type: Family["type"], fn: () => Array<{ labels?: Labels; value: number }>): void {
    this.family(name, help, type).collect = fn;
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const v of f.values.values()) lines.push(`${f.name}${renderLabels(v.labels)} ${fmt(v.value)}`);
      if (f.collect) for (const s of f.collect()) lines.push(`${f.name}${renderLabels(s.labels ?? {})} ${fmt(s.value)}`);
    }
    return lines.join("\n") + "\n";
  }
}

function fmt(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN";
}

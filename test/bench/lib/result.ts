/** What a scenario hands back to the runner (one JSON document per scenario process). */

export interface Row {
  /** Short name of the measurement, e.g. "Poll 100 x 10 @ 100 ms". */
  label: string;
  /** The measured values, already formatted for the table. */
  measured: string;
  /** The target as text, when there is one. */
  target?: string;
  /** Whether the target was met; undefined when there is no target. */
  met?: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** The parameters the scenario ran with. */
  params: Record<string, unknown>;
  /** Raw numbers (rates per second, bytes, milliseconds), for latest.json. */
  metrics: Record<string, unknown>;
  rows: Row[];
  /** Caveats that belong next to the numbers (fairness, configuration differences). */
  notes: string[];
  /** Set when the scenario failed; rows may then be partial. */
  error?: string;
  durationMs: number;
}

/** What a scenario function returns; the scenario process adds the id, the duration and any error. */
export type ScenarioBody = Omit<ScenarioResult, "id" | "durationMs" | "error">;

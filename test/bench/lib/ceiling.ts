/**
 * The ceiling for poll throughput: a bare modbus-serial client loop doing the same block reads as the gateway
 * (one readHoldingRegisters of all points per device per cycle, one TCP connection per channel, one request at
 * a time on it) against the same simulator, with nothing after the read. Run as its own process:
 *
 *   node --import tsx test/bench/lib/ceiling.ts '<CeilingPlan JSON>'      prints one CeilingResult JSON line
 *
 * Paced: a cycle starts on each period slot; a slot that comes while the previous cycle still runs is skipped,
 * as the gateway's slot timer does. Unpaced: cycles back to back (what the client could do at most).
 */
import mb from "modbus-serial";

const ModbusRTU = mb.default;

export interface CeilingPlan {
  host: string;
  channels: Array<{ port: number; units: number[] }>;
  points: number;
  periodMs: number;
  paced: boolean;
  warmupMs: number;
  seconds: number;
}

export interface CeilingResult {
  reads: number;
  points: number;
  errors: number;
  seconds: number;
  cpuPercent: number;
  /** Cycles that started late because the previous one overran (paced only). */
  skippedSlots: number;
}

async function main(plan: CeilingPlan): Promise<CeilingResult> {
  const clients = await Promise.all(
    plan.channels.map(async (ch) => {
      const client = new ModbusRTU();
      await client.connectTCP(plan.host, { port: ch.port });
      client.setTimeout(1000);
      return client;
    }),
  );
  const origin = performance.now();
  const windowStart = origin + plan.warmupMs;
  const end = windowStart + plan.seconds * 1000;
  let reads = 0;
  let errors = 0;
  let skippedSlots = 0;
  let cpuBase: NodeJS.CpuUsage | undefined;
  const startCpu = setTimeout(() => (cpuBase = process.cpuUsage()), plan.warmupMs);

  const loop = async (index: number) => {
    const client = clients[index]!;
    const units = plan.channels[index]!.units;
    let slot = 0;
    while (performance.now() < end) {
      if (plan.paced) {
        const due = origin + slot * plan.periodMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      for (const unit of units) {
        client.setID(unit);
        try {
          await client.readHoldingRegisters(0, plan.points);
          const now = performance.now();
          if (now >= windowStart && now < end) reads++;
        } catch {
          errors++;
        }
      }
      if (plan.paced) {
        const next = slot + 1;
        const latest = Math.floor((performance.now() - origin) / plan.periodMs);
        if (latest >= next) {
          skippedSlots += latest - next + 1;
          slot = latest + 1;
        } else slot = next;
      }
    }
  };
  await Promise.all(clients.map((_, i) => loop(i)));
  clearTimeout(startCpu);
  const cpu = process.cpuUsage(cpuBase);
  await Promise.all(clients.map((c) => new Promise<void>((r) => c.close(() => r()))));
  return {
    reads,
    points: reads * plan.points,
    errors,
    seconds: plan.seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (plan.seconds * 1000)) * 100,
    skippedSlots,
  };
}

const plan = JSON.parse(process.argv[2] ?? "null") as CeilingPlan | null;
if (plan) {
  main(plan).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ceiling: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}

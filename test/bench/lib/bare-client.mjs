/**
 * The bare client: what reading and publishing cost without fieldbridge, in plain JavaScript so that no
 * TypeScript loader adds to its memory (the daemon under test runs from dist/ without one either). One
 * modbus-serial connection per channel, one request at a time on it, one readHoldingRegisters of all points per
 * device per cycle. Run as its own process:
 *
 *   node test/bench/lib/bare-client.mjs '<plan JSON>'      prints one result JSON line
 *
 * plan: { host, channels: [{ port, units }], points, periodMs, paced, warmupMs, seconds, publishUrl? }
 * result: { reads, points, errors, published, seconds, cpuPercent, rssPeak, rssMean, skippedSlots }
 *
 * Paced: a cycle starts on each period slot; a slot that comes while the previous cycle still runs is skipped, as
 * the gateway's slot timer does. Unpaced: cycles back to back (what the client could do at most). Without
 * `publishUrl` it is the poll scenarios' ceiling of reading only; with it, the light scenarios' bare script: after
 * each read one JSON message of the device's values is published with mqtt.js at QoS 1 over plain MQTT, with no
 * validation, no report policy and no durability.
 */
import mb from "modbus-serial";
import mqtt from "mqtt";

const ModbusRTU = mb.default ?? mb;

async function main(plan) {
  const clients = await Promise.all(
    plan.channels.map(async (ch) => {
      const client = new ModbusRTU();
      await client.connectTCP(plan.host, { port: ch.port });
      client.setTimeout(1000);
      return client;
    }),
  );
  const broker = plan.publishUrl ? await mqtt.connectAsync(plan.publishUrl, { clientId: "bare-client", reconnectPeriod: 0 }) : undefined;
  const origin = performance.now();
  const windowStart = origin + plan.warmupMs;
  const end = windowStart + plan.seconds * 1000;
  let reads = 0;
  let errors = 0;
  let published = 0;
  let skippedSlots = 0;
  let cpuBase;
  const rss = [];
  const startCpu = setTimeout(() => (cpuBase = process.cpuUsage()), plan.warmupMs);
  const sampler = setInterval(() => {
    const now = performance.now();
    if (now >= windowStart && now < end) rss.push(process.memoryUsage.rss());
  }, 200);

  const loop = async (index) => {
    const client = clients[index];
    const units = plan.channels[index].units;
    let slot = 0;
    while (performance.now() < end) {
      if (plan.paced) {
        const wait = origin + slot * plan.periodMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      for (const unit of units) {
        client.setID(unit);
        try {
          const res = await client.readHoldingRegisters(0, plan.points);
          const now = performance.now();
          const inWindow = now >= windowStart && now < end;
          if (inWindow) reads++;
          if (!broker) continue;
          const values = {};
          for (let i = 0; i < res.data.length; i++) values[`P${i}`] = res.data[i];
          broker.publish(`bare/${index}/${unit}`, JSON.stringify({ ts: Date.now(), values }), { qos: 1 }, (err) => {
            if (!err && inWindow) published++;
          });
        } catch {
          errors++;
        }
      }
      if (!plan.paced) continue;
      const next = slot + 1;
      const latest = Math.floor((performance.now() - origin) / plan.periodMs);
      if (latest >= next) {
        skippedSlots += latest - next + 1;
        slot = latest + 1;
      } else slot = next;
    }
  };
  await Promise.all(clients.map((_, i) => loop(i)));
  clearTimeout(startCpu);
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpuBase);
  await Promise.all(clients.map((c) => new Promise((r) => c.close(() => r()))));
  await broker?.endAsync();
  return {
    reads,
    points: reads * plan.points,
    errors,
    published,
    seconds: plan.seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (plan.seconds * 1000)) * 100,
    rssPeak: Math.max(0, ...rss),
    rssMean: rss.length ? rss.reduce((a, b) => a + b, 0) / rss.length : 0,
    skippedSlots,
  };
}

main(JSON.parse(process.argv[2])).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`bare client: ${err.message}\n`);
    process.exit(1);
  },
);

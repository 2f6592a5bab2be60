/**
 * One established session with its subscription: every OPC UA request of the channel goes through here, batched
 * within the server's OperationLimits, counted for stats() and bounded by the channel timeout. A lost connection
 * is reported once through `onLost`; the channel then discards this object and builds a new one.
 */
import type {
  Argument,
  ClientMonitoredItemBase,
  ClientSession,
  ClientSessionRawSubscriptionService,
  ClientSubscription,
  DataValue,
  EventFilter,
  OPCUAClient,
  ReferenceDescription,
  StatusCode,
  Variant,
} from "node-opcua";
import type { BrowseChild, BrowseKind, ChildClass } from "./resolve.js";
import { closeQuietly, SessionError, withTimeout, type OpenedSession } from "./session.js";
import type { Ua } from "./ua.js";
import { BuiltinType, type OpcuaValue } from "./values.js";

export interface Limits {
  browse: number;
  read: number;
  write: number;
  monitoredItems: number;
}

/** Used when the server does not publish a limit; 0 ("no limit") is capped to keep requests reasonable. */
export const FALLBACK_LIMITS: Limits = { browse: 50, read: 100, write: 50, monitoredItems: 100 };
const NO_LIMIT_CAP = 1000;

export interface Counters {
  requests: number;
  errors: number;
  timeouts: number;
}

export interface ValueMonitor {
  nodeId: string;
  samplingMs: number;
  onValue(dv: DataValue): void;
}

export interface EventMonitor {
  nodeId: string;
  filter: EventFilter;
  onEvent(fields: Variant[]): void;
}

/** A created monitored item; `active` turns false when it is removed so late notifications are dropped. */
export interface MonitorHandle {
  item?: ClientMonitoredItemBase;
  /** Status code name of the creation result. */
  status: string;
  ok: boolean;
  active: boolean;
}

export interface SubscriptionSettings {
  publishingIntervalMs: number;
  keepAliveMs: number;
}

export interface LiveOptions {
  ua: Ua;
  opened: OpenedSession;
  timeoutMs: number;
  counters: Counters;
  subscription: SubscriptionSettings;
  onLost(reason: string): void;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function shortReason(text: string): string {
  return text.split("\n")[0]!.trim().slice(0, 160);
}

export class LiveConnection {
  readonly client: OPCUAClient;
  readonly session: ClientSession;
  limits: Limits = FALLBACK_LIMITS;
  private subscription?: ClientSubscription;
  private readonly ua: Ua;
  private readonly timeoutMs: number;
  private readonly counters: Counters;
  private readonly onLostCb: (reason: string) => void;
  private closing = false;
  private lostReported = false;
  private watchdog?: NodeJS.Timeout;
  private lastActivity = Date.now();
  private readonly dataTypes = new Map<string, Promise<number>>();

  private constructor(o: LiveOptions) {
    this.ua = o.ua;
    this.client = o.opened.client;
    this.session = o.opened.session;
    this.timeoutMs = o.timeoutMs;
    this.counters = o.counters;
    this.onLostCb = o.onLost;
  }

  /** Wraps an opened session: watches the connection, reads the limits, creates the subscription. */
  static async start(o: LiveOptions): Promise<LiveConnection> {
    const live = new LiveConnection(o);
    live.watchConnection();
    try {
      live.limits = await live.readLimits();
      await live.createSubscription(o.subscription);
    } catch (err) {
      await live.close();
      throw err;
    }
    return live;
  }

  get isLost(): boolean {
    return this.lostReported || this.closing;
  }

  private lost(reason: string): void {
    if (this.closing || this.lostReported) return;
    this.lostReported = true;
    this.onLostCb(shortReason(reason));
  }

  private watchConnection(): void {
    this.client.on("connection_lost", () => this.lost("socket closed"));
    this.client.on("close", (err?: Error | null) => this.lost(err ? `socket closed: ${err.message}` : "socket closed"));
    this.session.on("session_closed", (status: StatusCode) => this.lost(`session closed by server: ${status.name}`));
  }

  /** Runs one service request with the channel timeout and counts it. */
  async request<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.counters.requests += 1;
    try {
      return await withTimeout(fn(), this.timeoutMs, what);
    } catch (err) {
      this.counters.errors += 1;
      const msg = (err as Error)?.message ?? "";
      if ((err instanceof SessionError && err.kind === "timeout") || /timed out|BadTimeout/i.test(msg)) this.counters.timeouts += 1;
      throw err;
    }
  }

  private async readLimits(): Promise<Limits> {
    const ids = this.ua.VariableIds;
    const nodes: Array<[keyof Limits, number]> = [
      ["browse", ids.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse],
      ["read", ids.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead],
      ["write", ids.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite],
      ["monitoredItems", ids.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall],
    ];
    const limits: Limits = { ...FALLBACK_LIMITS };
    const read = (ids: number[]) =>
      this.request("read OperationLimits", () =>
        this.session.read(ids.map((id) => ({ nodeId: this.ua.resolveNodeId(id), attributeId: this.ua.AttributeIds.Value }))),
      );
    let values: Array<DataValue | undefined>;
    try {
      values = await read(nodes.map(([, id]) => id));
    } catch (err) {
      if (this.isLost) throw err;
      // MaxNodesPerRead itself may be smaller than this read: one node at a time, missing ones fall back.
      values = [];
      for (const [, id] of nodes) values.push(await read([id]).then((v) => v[0], () => undefined));
      if (this.isLost) throw err;
    }
    nodes.forEach(([key], i) => {
      const dv = values[i];
      const v = dv?.statusCode.isGood() ? Number(dv.value.value) : Number.NaN;
      if (Number.isFinite(v) && v > 0) limits[key] = Math.min(v, NO_LIMIT_CAP);
      else if (v === 0) limits[key] = NO_LIMIT_CAP;
    });
    return limits;
  }

  private async createSubscription(s: SubscriptionSettings): Promise<void> {
    const keepAliveCount = Math.max(1, Math.ceil(s.keepAliveMs / s.publishingIntervalMs));
    const sub = await this.request("CreateSubscription", () =>
      this.session.createSubscription2({
        requestedPublishingInterval: s.publishingIntervalMs,
        requestedMaxKeepAliveCount: keepAliveCount,
        requestedLifetimeCount: keepAliveCount * 6,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      }),
    );
    this.subscription = sub;
    const touch = () => {
      this.lastActivity = Date.now();
    };
    sub.on("keepalive", touch);
    sub.on("raw_notification", touch);
    sub.on("terminated", () => this.lost("subscription terminated"));
    sub.on("internal_error", (err: Error) => this.lost(`subscription error: ${err.message}`));
    sub.on("status_changed", (status: StatusCode) => {
      if (status.isNotGood()) this.lost(`subscription status ${status.name}`);
    });
    // A silent network cut (no FIN, no RST) shows only as missing keep-alives.
    const period = Math.max(sub.publishingInterval * sub.maxKeepAliveCount, 100);
    const deadline = 3 * period + this.timeoutMs;
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastActivity > deadline) this.lost(`no keep-alive from the server for ${Math.round(deadline / 1000)} s`);
    }, period);
    this.watchdog.unref();
  }

  private childClass(ref: ReferenceDescription): ChildClass {
    const nc = this.ua.NodeClass;
    switch (ref.nodeClass) {
      case nc.Object:
        return "Object";
      case nc.Variable:
        return "Variable";
      case nc.Method:
        return "Method";
      case nc.ObjectType:
        return "ObjectType";
      default:
        return "Other";
    }
  }

  /** Browses many parents, chunked by MaxNodesPerBrowse, following continuation points. */
  browseMany = async (parents: string[], kind: BrowseKind): Promise<Map<string, BrowseChild[]>> => {
    const ua = this.ua;
    const refType = {
      objects: ua.ReferenceTypeIds.HierarchicalReferences,
      members: ua.ReferenceTypeIds.HierarchicalReferences,
      subtypes: ua.ReferenceTypeIds.HasSubtype,
      properties: ua.ReferenceTypeIds.HasProperty,
    }[kind];
    const mask = {
      objects: ua.NodeClassMask.Object,
      members: ua.NodeClassMask.Variable | ua.NodeClassMask.Method,
      subtypes: ua.NodeClassMask.ObjectType,
      properties: ua.NodeClassMask.Variable,
    }[kind];
    const out = new Map<string, BrowseChild[]>();
    const add = (parent: string, refs: ReferenceDescription[] | null | undefined) => {
      const list = out.get(parent) ?? [];
      for (const r of refs ?? []) {
        if (!r.isForward) continue;
        list.push({
          nodeId: r.nodeId.toString(),
          displayName: r.displayName?.text ?? "",
          browseName: r.browseName?.name ?? "",
          browseNamespace: r.browseName?.namespaceIndex ?? 0,
          nodeClass: this.childClass(r),
        });
      }
      out.set(parent, list);
    };
    for (const batch of chunks(parents, this.limits.browse)) {
      const results = await this.request("Browse", () =>
        this.session.browse(
          batch.map((p) => ({
            nodeId: ua.resolveNodeId(p),
            browseDirection: ua.BrowseDirection.Forward,
            referenceTypeId: refType,
            includeSubtypes: kind !== "subtypes",
            nodeClassMask: mask,
            resultMask: 0x3f,
          })),
        ),
      );
      let pending: Array<{ parent: string; cp: Buffer }> = [];
      results.forEach((r, i) => {
        const parent = batch[i]!;
        if (r.statusCode.isNotGood()) {
          out.set(parent, out.get(parent) ?? []);
          return;
        }
        add(parent, r.references);
        if (r.continuationPoint && r.continuationPoint.length > 0) pending.push({ parent, cp: r.continuationPoint });
      });
      for (let round = 0; pending.length > 0 && round < 1000; round++) {
        const next: typeof pending = [];
        for (const cpBatch of chunks(pending, this.limits.browse)) {
          const more = await this.request("BrowseNext", () =>
            this.session.browseNext(
              cpBatch.map((p) => p.cp),
              false,
            ),
          );
          more.forEach((r, i) => {
            const parent = cpBatch[i]!.parent;
            if (r.statusCode.isNotGood()) return;
            add(parent, r.references);
            if (r.continuationPoint && r.continuationPoint.length > 0) next.push({ parent, cp: r.continuationPoint });
          });
        }
        pending = next;
      }
    }
    return out;
  };

  /**
   * Waits for a group or item to be created on the server. The objects are created synchronously and the
   * listeners attached before the request goes out, so the first notification cannot slip past them.
   */
  private created(what: string, emitter: NodeJS.EventEmitter): Promise<void> {
    return this.request(what, async () => {
      await new Promise<void>((resolve, reject) => {
        const onTerminated = (err?: Error) => reject(err ?? new Error(`${what} terminated`));
        emitter.once("terminated", onTerminated);
        emitter.once("initialized", () => {
          emitter.off("terminated", onTerminated);
          resolve();
        });
      });
    });
  }

  /** Creates value monitored items in batches of MaxMonitoredItemsPerCall, one group per sampling interval. */
  async monitorValues(requests: ValueMonitor[]): Promise<MonitorHandle[]> {
    const ua = this.ua;
    const sub = this.subscription!;
    const handles: MonitorHandle[] = requests.map(() => ({ status: "Pending", ok: false, active: true }));
    const bySampling = new Map<number, number[]>();
    requests.forEach((r, i) => bySampling.set(r.samplingMs, [...(bySampling.get(r.samplingMs) ?? []), i]));
    try {
      for (const [samplingMs, indexes] of bySampling) {
        for (const batch of chunks(indexes, this.limits.monitoredItems)) {
          const group = ua.ClientMonitoredItemGroup.create(
            sub,
            batch.map((i) => ({ nodeId: ua.resolveNodeId(requests[i]!.nodeId), attributeId: ua.AttributeIds.Value })),
            { samplingInterval: samplingMs, queueSize: 1, discardOldest: true },
            ua.TimestampsToReturn.Both,
          );
          group.on("changed", (_item: ClientMonitoredItemBase, dv: DataValue, index: number) => {
            const i = batch[index];
            if (i === undefined || !handles[i]!.active) return;
            requests[i]!.onValue(dv);
          });
          await this.created("CreateMonitoredItems", group);
          group.monitoredItems.forEach((item, k) => {
            const h = handles[batch[k]!]!;
            h.item = item;
            h.ok = item.statusCode.isGood();
            h.status = item.statusCode.name;
          });
        }
      }
    } catch (err) {
      if (!this.isLost) await this.unmonitor(handles).catch(() => undefined);
      throw err;
    }
    return handles;
  }

  /** Creates one event monitored item (each has its own select clauses). */
  async monitorEvents(request: EventMonitor): Promise<MonitorHandle> {
    const ua = this.ua;
    const handle: MonitorHandle = { status: "Pending", ok: false, active: true };
    const item = ua.ClientMonitoredItem.create(
      this.subscription!,
      { nodeId: ua.resolveNodeId(request.nodeId), attributeId: ua.AttributeIds.EventNotifier },
      { samplingInterval: 0, queueSize: 100, discardOldest: true, filter: request.filter },
      ua.TimestampsToReturn.Neither,
    );
    item.on("changed", (fields: Variant[]) => {
      if (handle.active) request.onEvent(fields);
    });
    await this.created("CreateMonitoredItems", item);
    handle.item = item;
    handle.ok = item.statusCode.isGood();
    handle.status = item.statusCode.name;
    return handle;
  }

  /**
   * Deletes monitored items in batches. The items stay registered in node-opcua's subscription object until the
   * session is rebuilt; `active = false` makes their (no longer sent) notifications irrelevant meanwhile.
   */
  async unmonitor(handles: MonitorHandle[]): Promise<void> {
    for (const h of handles) h.active = false;
    const sub = this.subscription;
    if (!sub || this.isLost) return;
    const ids = handles.filter((h) => h.ok && h.item?.monitoredItemId !== undefined).map((h) => h.item!.monitoredItemId!);
    for (const batch of chunks(ids, this.limits.monitoredItems)) {
      // The raw service is implemented by every node-opcua session but not part of the ClientSession type.
      const raw = this.session as unknown as ClientSessionRawSubscriptionService;
      await this.request("DeleteMonitoredItems", () =>
        raw.deleteMonitoredItems({ subscriptionId: sub.subscriptionId, monitoredItemIds: batch }),
      );
    }
  }

  /** The built-in DataType of a variable, read once per session. Abstract types fall back to the value's type. */
  dataTypeOf(nodeId: string): Promise<number> {
    let p = this.dataTypes.get(nodeId);
    if (!p) {
      p = (async () => {
        const t = await this.request("read DataType", () => this.session.getBuiltInDataType(this.ua.resolveNodeId(nodeId)));
        if (t !== BuiltinType.Null && t !== BuiltinType.Variant) return t;
        const dv = await this.request("Read", () =>
          this.session.read({ nodeId: this.ua.resolveNodeId(nodeId), attributeId: this.ua.AttributeIds.Value }),
        );
        return dv.value.dataType;
      })();
      p.catch(() => this.dataTypes.delete(nodeId));
      this.dataTypes.set(nodeId, p);
    }
    return p;
  }

  /** Built-in type of a DataType node (method arguments). */
  builtinOfDataType(dataTypeId: string): Promise<number> {
    const key = `type:${dataTypeId}`;
    let p = this.dataTypes.get(key);
    if (!p) {
      p = this.request("resolve DataType", () => this.ua.findBasicDataType(this.session, this.ua.resolveNodeId(dataTypeId)));
      p.catch(() => this.dataTypes.delete(key));
      this.dataTypes.set(key, p);
    }
    return p;
  }

  variant(v: OpcuaValue): Variant {
    const ua = this.ua;
    return new ua.Variant({
      dataType: v.dataType,
      arrayType: v.array ? ua.VariantArrayType.Array : ua.VariantArrayType.Scalar,
      value: v.value,
    });
  }

  /** Writes values in batches of MaxNodesPerWrite; returns the status per value. */
  async write(items: Array<{ nodeId: string; value: OpcuaValue }>): Promise<StatusCode[]> {
    const out: StatusCode[] = [];
    for (const batch of chunks(items, this.limits.write)) {
      const codes = await this.request("Write", () =>
        this.session.write(
          batch.map((it) => ({
            nodeId: this.ua.resolveNodeId(it.nodeId),
            attributeId: this.ua.AttributeIds.Value,
            value: { value: this.variant(it.value) },
          })),
        ),
      );
      out.push(...codes);
    }
    return out;
  }

  /** Reads one attribute of many nodes in batches of MaxNodesPerRead. */
  async readMany(nodeIds: string[], attribute: "Value" | "EventNotifier" = "Value"): Promise<DataValue[]> {
    const out: DataValue[] = [];
    for (const batch of chunks(nodeIds, this.limits.read)) {
      const dvs = await this.request("Read", () =>
        this.session.read(batch.map((n) => ({ nodeId: this.ua.resolveNodeId(n), attributeId: this.ua.AttributeIds[attribute] }))),
      );
      out.push(...dvs);
    }
    return out;
  }

  async readAttribute(nodeIds: string[], attribute: "EventNotifier"): Promise<unknown[]> {
    const dvs = await this.readMany(nodeIds, attribute);
    return dvs.map((dv) => (dv.statusCode.isGood() ? dv.value.value : undefined));
  }

  /**
   * A method's InputArguments and OutputArguments. Done with batched browse and read rather than node-opcua's
   * getArgumentDefinition, which reads both in one request regardless of MaxNodesPerRead.
   */
  async methodArguments(methodId: string): Promise<{ inputs: Argument[]; outputs: Argument[] }> {
    const props = (await this.browseMany([methodId], "properties")).get(methodId) ?? [];
    const find = (name: string) => props.find((p) => p.browseName === name && p.browseNamespace === 0)?.nodeId;
    const ids = [find("InputArguments"), find("OutputArguments")];
    const present = ids.filter((x): x is string => x !== undefined);
    const values = present.length > 0 ? await this.readMany(present) : [];
    const valueOf = (id: string | undefined): Argument[] => {
      if (!id) return [];
      const dv = values[present.indexOf(id)];
      if (!dv?.statusCode.isGood()) throw new Error(`cannot read the arguments of method ${methodId}: ${dv?.statusCode.name ?? "no value"}`);
      return (dv.value.value as Argument[] | null) ?? [];
    };
    return { inputs: valueOf(ids[0]), outputs: valueOf(ids[1]) };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await closeQuietly(this.client);
  }
}

/**
 * An OPC UA server built from a simple device description: folders, device objects, variables (optionally
 * moving), methods and events. Used by `fieldbridge demo` and by the tests. Starting it again with the same
 * `pkiDir` and port gives the same endpoint and the same server certificate (a server restart).
 */
import { createHash } from "node:crypto";
import net from "node:net";
import path from "node:path";
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  VariantArrayType,
  type UAEventType,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import { bigintToWords, fromOpcuaValue } from "../../field/opcua/values.js";
import type { OpcuaSimulatorOptions, SimDataType, SimDeviceSpec, SimMotion, SimValue, SimVariableSpec } from "./model.js";

export interface OpcuaSimulator {
  readonly port: number;
  readonly endpointUrl: string;
  /** SHA-1 thumbprint (hex) of the server certificate. */
  readonly certificateThumbprint: string;
  /** Sets a variable as the device would (source timestamp now). */
  set(devicePath: string, variable: string, value: SimValue): void;
  /** The variable's current value as a JavaScript value (64-bit integers as bigint, DateTime as epoch ms). */
  get(devicePath: string, variable: string): unknown;
  /** Emits an event of one of the device's event types; fields by name. */
  raiseEvent(devicePath: string, eventName: string, fields: Record<string, SimValue>): void;
  /** Adds a device while the server runs (a server that builds its address space late). */
  addDevice(device: SimDeviceSpec): void;
  /** Sessions currently open on the server. */
  sessionCount(): number;
  shutdown(): Promise<void>;
}

const DATA_TYPES: Record<SimDataType, DataType> = {
  Boolean: DataType.Boolean,
  SByte: DataType.SByte,
  Byte: DataType.Byte,
  Int16: DataType.Int16,
  UInt16: DataType.UInt16,
  Int32: DataType.Int32,
  UInt32: DataType.UInt32,
  Int64: DataType.Int64,
  UInt64: DataType.UInt64,
  Float: DataType.Float,
  Double: DataType.Double,
  String: DataType.String,
  DateTime: DataType.DateTime,
};

const POLICIES: Record<string, SecurityPolicy> = {
  None: SecurityPolicy.None,
  Basic128Rsa15: SecurityPolicy.Basic128Rsa15,
  Basic256: SecurityPolicy.Basic256,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
};

const MODES = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
} as const;

function jsToOpcua(dataType: SimDataType, value: unknown): unknown {
  if (dataType === "Int64" || dataType === "UInt64") return bigintToWords(BigInt(value as number | bigint));
  if (dataType === "DateTime") return value instanceof Date ? value : new Date(value as number | string);
  if (dataType === "Boolean") return Boolean(value);
  if (dataType === "String") return String(value);
  return Number(value);
}

export function simVariant(dataType: SimDataType, value: unknown): Variant {
  return new Variant({ dataType: DATA_TYPES[dataType], arrayType: VariantArrayType.Scalar, value: jsToOpcua(dataType, value) });
}

async function freePort(host: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** node-opcua's key for an event field in raiseEvent data: the BrowseName with a lower-case first letter. */
function eventFieldKey(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function nextMotionValue(motion: SimMotion, current: unknown, t: number): SimValue {
  switch (motion.kind) {
    case "sine":
      return Math.round((motion.offset + motion.amplitude * Math.sin((2 * Math.PI * t) / motion.periodMs)) * 1000) / 1000;
    case "ramp": {
      const next = Number(current) + motion.step;
      return next > motion.max ? motion.min : next;
    }
    case "random":
      return Math.round((motion.min + Math.random() * (motion.max - motion.min)) * 1000) / 1000;
    case "toggle":
      return !current;
  }
}

interface SimVariableEntry {
  spec: SimVariableSpec;
  node: UAVariable;
}

interface SimDeviceEntry {
  node: UAObject;
  variables: Map<string, SimVariableEntry>;
  events: Map<string, { type: UAEventType; fields: Map<string, SimDataType> }>;
}

export async function startOpcuaSimulator(options: OpcuaSimulatorOptions): Promise<OpcuaSimulator> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port === 0 ? await freePort(host) : options.port;
  const cm = (sub: string) =>
    new OPCUACertificateManager({ rootFolder: path.join(options.pkiDir, sub), automaticallyAcceptUnknownCertificate: true });
  const users = options.users ?? [];
  const limits = Object.fromEntries(Object.entries(options.operationLimits ?? {}).filter(([, v]) => typeof v === "number" && v > 0));

  const server = new OPCUAServer({
    port,
    host,
    hostname: host,
    serverCertificateManager: cm("server"),
    userCertificateManager: cm("user"),
    securityPolicies: (options.securityPolicies ?? ["None", "Basic256Sha256"]).map((p) => {
      const policy = POLICIES[p];
      if (!policy) throw new Error(`simulator: unknown security policy ${p}`);
      return policy;
    }),
    securityModes: (options.securityModes ?? ["None", "Sign", "SignAndEncrypt"]).map((m) => MODES[m]),
    allowAnonymous: options.allowAnonymous ?? true,
    userManager: { isValidUser: (u: string, p: string) => users.some((x) => x.userName === u && x.password === p) },
    serverCapabilities: { operationLimits: limits },
    buildInfo: { productName: "fieldbridge OPC UA simulator" },
  });
  await server.initialize();

  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const folders = new Map<string, UAObject>();
  const devices = new Map<string, SimDeviceEntry>();
  const eventTypes = new Map<string, UAEventType>();

  const parentFor = (segments: string[]): UAObject => {
    let parent = addressSpace.rootFolder.objects as UAObject;
    for (let i = 0; i < segments.length; i++) {
      const key = segments.slice(0, i + 1).join("/");
      let folder = folders.get(key);
      if (!folder) {
        folder = ns.addFolder(parent, { browseName: segments[i]! });
        folders.set(key, folder);
      }
      parent = folder;
    }
    return parent;
  };

  const addDevice = (spec: SimDeviceSpec) => {
    const segments = spec.path.split("/").filter((s) => s.length > 0);
    if (segments[0] === "Objects") segments.shift();
    if (segments.length === 0) throw new Error(`simulator: empty device path "${spec.path}"`);
    const node = ns.addObject({
      organizedBy: parentFor(segments.slice(0, -1)),
      browseName: segments[segments.length - 1]!,
      eventNotifier: spec.events?.length ? 1 : 0,
    });
    const entry: SimDeviceEntry = { node, variables: new Map(), events: new Map() };
    for (const v of spec.variables ?? []) {
      const access = v.writable === false ? "CurrentRead" : "CurrentRead | CurrentWrite";
      const variable = ns.addVariable({
        componentOf: node,
        browseName: v.name,
        dataType: DATA_TYPES[v.dataType],
        accessLevel: access,
        userAccessLevel: access,
        minimumSamplingInterval: 50,
        value: simVariant(v.dataType, v.value),
      });
      entry.variables.set(v.name, { spec: v, node: variable });
    }
    for (const m of spec.methods ?? []) {
      const method = ns.addMethod(node, {
        browseName: m.name,
        inputArguments: m.inputs.map((a) => ({ name: a.name, dataType: DATA_TYPES[a.dataType], valueRank: -1 })),
        outputArguments: m.outputs.map((a) => ({ name: a.name, dataType: DATA_TYPES[a.dataType], valueRank: -1 })),
      });
      // node-opcua tells promise handlers from callback handlers by arity: keep two parameters.
      method.bindMethod(async (inputArguments: Variant[], _context: unknown) => {
        try {
          const outputs = await m.run(inputArguments.map((v) => fromOpcuaValue(v.dataType, v.value)));
          return {
            statusCode: StatusCodes.Good,
            outputArguments: m.outputs.map((a, i) => simVariant(a.dataType, outputs[i])),
          };
        } catch {
          return { statusCode: StatusCodes.BadInvalidArgument };
        }
      });
    }
    for (const e of spec.events ?? []) {
      let type = eventTypes.get(e.name);
      if (!type) {
        type = ns.addEventType({ browseName: e.name, subtypeOf: "BaseEventType" });
        for (const f of e.fields) {
          ns.addVariable({ propertyOf: type, browseName: f.name, dataType: DATA_TYPES[f.dataType], modellingRule: "Mandatory" });
        }
        eventTypes.set(e.name, type);
      }
      entry.events.set(e.name, { type, fields: new Map(e.fields.map((f) => [f.name, f.dataType])) });
    }
    devices.set(segments.join("/"), entry);
  };
  for (const d of options.devices) addDevice(d);

  const device = (devicePath: string): SimDeviceEntry => {
    const key = devicePath.split("/").filter((s) => s.length > 0 && s !== "Objects").join("/");
    const d = devices.get(key);
    if (!d) throw new Error(`simulator: no device "${devicePath}"`);
    return d;
  };
  const variable = (devicePath: string, name: string): SimVariableEntry => {
    const v = device(devicePath).variables.get(name);
    if (!v) throw new Error(`simulator: no variable "${name}" on "${devicePath}"`);
    return v;
  };

  const moving = [...devices.values()].flatMap((d) => [...d.variables.values()].filter((v) => v.spec.motion));
  const started = Date.now();
  const motionTimer =
    moving.length > 0
      ? setInterval(() => {
          const t = Date.now() - started;
          for (const v of moving) {
            const current = v.node.readValue().value.value as unknown;
            v.node.setValueFromSource(simVariant(v.spec.dataType, nextMotionValue(v.spec.motion!, current, t)), StatusCodes.Good, new Date());
          }
        }, options.motionIntervalMs ?? 1000)
      : undefined;
  motionTimer?.unref();

  await server.start();
  const certificate = server.getCertificate();

  return {
    port,
    endpointUrl: `opc.tcp://${host}:${port}`,
    certificateThumbprint: createHash("sha1").update(certificate).digest("hex"),
    set(devicePath, name, value) {
      const v = variable(devicePath, name);
      v.node.setValueFromSource(simVariant(v.spec.dataType, value), StatusCodes.Good, new Date());
    },
    get(devicePath, name) {
      const dv = variable(devicePath, name).node.readValue();
      return fromOpcuaValue(dv.value.dataType, dv.value.value);
    },
    raiseEvent(devicePath, eventName, fields) {
      const d = device(devicePath);
      const e = d.events.get(eventName);
      if (!e) throw new Error(`simulator: no event "${eventName}" on "${devicePath}"`);
      const data: Record<string, Variant> = {
        message: new Variant({ dataType: DataType.LocalizedText, value: { text: eventName } }),
        severity: new Variant({ dataType: DataType.UInt16, value: 500 }),
      };
      for (const [name, value] of Object.entries(fields)) {
        const dataType = e.fields.get(name);
        if (!dataType) throw new Error(`simulator: event "${eventName}" has no field "${name}"`);
        data[eventFieldKey(name)] = simVariant(dataType, value);
      }
      d.node.raiseEvent(e.type, data);
    },
    addDevice,
    sessionCount: () => server.currentSessionCount,
    async shutdown() {
      if (motionTimer) clearInterval(motionTimer);
      await server.shutdown(0);
    },
  };
}

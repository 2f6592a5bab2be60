/**
 * The simulated devices behind a Modbus simulator: per-unit register banks (holding, input, coils,
 * discrete inputs), addresses that do not exist, and units that stop answering. Shared by the TCP
 * simulator and the RTU simulator, and by tests that change values under a running gateway.
 */
import {
  decodeRequest,
  encodeException,
  encodeResponse,
  type ModbusRequest,
} from "../../field/modbus/pdu.js";

export type Area = "holding" | "input" | "coils" | "discrete";

export interface ModbusMemoryOptions {
  /** Unit ids that exist. */
  units: number[];
  /** Addresses per area and unit (0..size-1 exist); reads or writes beyond answer exception 2. */
  size?: number;
  /** A request for a unit that does not exist: no answer (as on a serial line) or exception 0x0B (as a TCP gateway). */
  unknownUnit?: "ignore" | "exception";
}

class UnitBank {
  readonly holding: Uint16Array;
  readonly input: Uint16Array;
  readonly coils: Uint8Array;
  readonly discrete: Uint8Array;
  /** Addresses marked as not implemented, per area (allocated on first use). */
  readonly illegal: Partial<Record<Area, Uint8Array>> = {};
  dead = false;
  delayMs = 0;

  constructor(readonly size: number) {
    this.holding = new Uint16Array(size);
    this.input = new Uint16Array(size);
    this.coils = new Uint8Array(size);
    this.discrete = new Uint8Array(size);
  }

  /** True when [address, address+count) exists in `area`. */
  valid(area: Area, address: number, count: number): boolean {
    if (address < 0 || count < 1 || address + count > this.size) return false;
    const mask = this.illegal[area];
    if (!mask) return true;
    for (let i = address; i < address + count; i++) if (mask[i]) return false;
    return true;
  }
}

/** What the simulated unit does with a request: answer with a PDU, or stay silent. */
export type SimAnswer = { pdu: Buffer; delayMs: number } | undefined;

export class ModbusMemory {
  private readonly banks = new Map<number, UnitBank>();
  private readonly size: number;
  readonly unknownUnit: "ignore" | "exception";
  /** Requests received, per unit id (including those left unanswered). */
  readonly requestsByUnit = new Map<number, number>();
  requests = 0;
  /** Called with each request PDU before it is executed (TCP simulator), e.g. to act at an exact moment in a test. */
  onRequest: ((unit: number, pdu: Buffer) => void) | undefined;

  constructor(options: ModbusMemoryOptions) {
    this.size = options.size ?? 0x10000;
    this.unknownUnit = options.unknownUnit ?? "ignore";
    for (const u of options.units) this.addUnit(u);
  }

  addUnit(unit: number): void {
    if (!this.banks.has(unit)) this.banks.set(unit, new UnitBank(this.size));
  }

  hasUnit(unit: number): boolean {
    return this.banks.has(unit);
  }

  private bank(unit: number): UnitBank {
    const b = this.banks.get(unit);
    if (!b) throw new Error(`simulated unit ${unit} does not exist`);
    return b;
  }

  setHolding(unit: number, address: number, values: readonly number[]): void {
    this.bank(unit).holding.set(values.map((v) => v & 0xffff), address);
  }

  setInput(unit: number, address: number, values: readonly number[]): void {
    this.bank(unit).input.set(values.map((v) => v & 0xffff), address);
  }

  setCoils(unit: number, address: number, values: readonly boolean[]): void {
    this.bank(unit).coils.set(values.map((v) => (v ? 1 : 0)), address);
  }

  setDiscrete(unit: number, address: number, values: readonly boolean[]): void {
    this.bank(unit).discrete.set(values.map((v) => (v ? 1 : 0)), address);
  }

  getHolding(unit: number, address: number, count = 1): number[] {
    return Array.from(this.bank(unit).holding.subarray(address, address + count));
  }

  getInput(unit: number, address: number, count = 1): number[] {
    return Array.from(this.bank(unit).input.subarray(address, address + count));
  }

  getCoils(unit: number, address: number, count = 1): boolean[] {
    return Array.from(this.bank(unit).coils.subarray(address, address + count), (v) => v === 1);
  }

  getDiscrete(unit: number, address: number, count = 1): boolean[] {
    return Array.from(this.bank(unit).discrete.subarray(address, address + count), (v) => v === 1);
  }

  /** Marks addresses as not implemented: any request touching them answers exception 2. */
  setIllegal(unit: number, area: Area, address: number, count: number, illegal = true): void {
    const bank = this.bank(unit);
    const mask = (bank.illegal[area] ??= new Uint8Array(this.size));
    mask.fill(illegal ? 1 : 0, address, address + count);
  }

  /** A dead unit receives requests but never answers (power off, broken wire). */
  setDead(unit: number, dead: boolean): void {
    this.bank(unit).dead = dead;
  }

  isDead(unit: number): boolean {
    return this.banks.get(unit)?.dead ?? false;
  }

  /** Answers of this unit are delayed (a slow device, a TCP gateway in front of a serial line). */
  setDelay(unit: number, delayMs: number): void {
    this.bank(unit).delayMs = Math.max(0, delayMs);
  }

  /**
   * Per-area access for servers that dispatch through callbacks (modbus-serial's ServerSerial vector).
   * Bits are 0/1. Throws `{ modbusErrorCode }`, the shape modbus-serial turns into an exception response.
   */
  readArea(unit: number, area: Area, address: number, count: number): number[] {
    const bank = this.banks.get(unit);
    if (!bank || bank.dead) throw { modbusErrorCode: 0x0b };
    if (!bank.valid(area, address, count)) throw { modbusErrorCode: 2 };
    return Array.from(bank[area].subarray(address, address + count));
  }

  writeArea(unit: number, area: "holding" | "coils", address: number, values: readonly number[]): void {
    const bank = this.banks.get(unit);
    if (!bank || bank.dead) throw { modbusErrorCode: 0x0b };
    if (!bank.valid(area, address, values.length)) throw { modbusErrorCode: 2 };
    bank[area].set(values, address);
  }

  /** Counts a request seen on the wire, for servers that do not go through answer(). */
  countRequest(unit: number): void {
    this.requests++;
    this.requestsByUnit.set(unit, (this.requestsByUnit.get(unit) ?? 0) + 1);
  }

  /** Whether `unit` would answer at all. */
  answers(unit: number): boolean {
    const bank = this.banks.get(unit);
    return bank !== undefined && !bank.dead;
  }

  /** Executes a request PDU for `unit`; the server decides how to frame and send the answer. */
  answer(unit: number, requestPdu: Buffer): SimAnswer {
    this.countRequest(unit);
    this.onRequest?.(unit, requestPdu);
    const bank = this.banks.get(unit);
    const fc = requestPdu[0] ?? 0;
    if (!bank) return this.unknownUnit === "exception" ? { pdu: encodeException(fc, 0x0b), delayMs: 0 } : undefined;
    if (bank.dead) return undefined;
    const req = decodeRequest(requestPdu);
    if ("exception" in req) return { pdu: encodeException(req.fc, req.exception), delayMs: bank.delayMs };
    return { pdu: this.apply(bank, req), delayMs: bank.delayMs };
  }

  private apply(bank: UnitBank, req: ModbusRequest): Buffer {
    const illegalAddress = encodeException(req.fc, 2);
    switch (req.fc) {
      case 1:
      case 2: {
        const area = req.fc === 1 ? "coils" : "discrete";
        if (!bank.valid(area, req.address, req.count)) return illegalAddress;
        const src = bank[area];
        const bits: boolean[] = new Array(req.count);
        for (let i = 0; i < req.count; i++) bits[i] = src[req.address + i] === 1;
        return encodeResponse(req, { bits });
      }
      case 3:
      case 4: {
        const area = req.fc === 3 ? "holding" : "input";
        if (!bank.valid(area, req.address, req.count)) return illegalAddress;
        return encodeResponse(req, { registers: Array.from(bank[area].subarray(req.address, req.address + req.count)) });
      }
      case 5:
        if (!bank.valid("coils", req.address, 1)) return illegalAddress;
        bank.coils[req.address] = req.value ? 1 : 0;
        return encodeResponse(req);
      case 6:
        if (!bank.valid("holding", req.address, 1)) return illegalAddress;
        bank.holding[req.address] = req.value;
        return encodeResponse(req);
      case 15:
        if (!bank.valid("coils", req.address, req.values.length)) return illegalAddress;
        bank.coils.set(req.values.map((v) => (v ? 1 : 0)), req.address);
        return encodeResponse(req);
      case 16:
        if (!bank.valid("holding", req.address, req.values.length)) return illegalAddress;
        bank.holding.set(req.values, req.address);
        return encodeResponse(req);
    }
  }
}

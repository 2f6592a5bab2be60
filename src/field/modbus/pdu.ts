/**
 * Modbus PDUs (function code + data), both directions: the gateway's TCP transport builds requests and
 * parses responses; the simulator parses requests and builds responses. Pure functions.
 */
import { ModbusExceptionError, ModbusProtocolError } from "./errors.js";

export type ReadBitsRequest = { fc: 1 | 2; address: number; count: number };
export type ReadRegistersRequest = { fc: 3 | 4; address: number; count: number };
export type WriteCoilRequest = { fc: 5; address: number; value: boolean };
export type WriteRegisterRequest = { fc: 6; address: number; value: number };
export type WriteCoilsRequest = { fc: 15; address: number; values: boolean[] };
export type WriteRegistersRequest = { fc: 16; address: number; values: number[] };

export type ModbusRequest =
  | ReadBitsRequest
  | ReadRegistersRequest
  | WriteCoilRequest
  | WriteRegisterRequest
  | WriteCoilsRequest
  | WriteRegistersRequest;

/** bits for FC1/2 (exactly `count`), registers for FC3/4, nothing for writes. */
export type ModbusResult = { bits: boolean[] } | { registers: number[] } | { written: true };

function packBits(values: readonly boolean[]): Buffer {
  const out = Buffer.alloc(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (v) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

function unpackBits(buf: Buffer, count: number): boolean[] {
  const out: boolean[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = ((buf[i >> 3]! >> (i & 7)) & 1) === 1;
  return out;
}

export function encodeRequest(req: ModbusRequest): Buffer {
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const pdu = Buffer.alloc(5);
      pdu.writeUInt8(req.fc, 0);
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.count, 3);
      return pdu;
    }
    case 5: {
      const pdu = Buffer.alloc(5);
      pdu.writeUInt8(5, 0);
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.value ? 0xff00 : 0x0000, 3);
      return pdu;
    }
    case 6: {
      const pdu = Buffer.alloc(5);
      pdu.writeUInt8(6, 0);
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.value & 0xffff, 3);
      return pdu;
    }
    case 15: {
      const bits = packBits(req.values);
      const pdu = Buffer.alloc(6 + bits.length);
      pdu.writeUInt8(15, 0);
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.values.length, 3);
      pdu.writeUInt8(bits.length, 5);
      bits.copy(pdu, 6);
      return pdu;
    }
    case 16: {
      const pdu = Buffer.alloc(6 + req.values.length * 2);
      pdu.writeUInt8(16, 0);
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.values.length, 3);
      pdu.writeUInt8(req.values.length * 2, 5);
      req.values.forEach((v, i) => pdu.writeUInt16BE(v & 0xffff, 6 + i * 2));
      return pdu;
    }
  }
}

/** Parses the response PDU to `req`; throws ModbusExceptionError or ModbusProtocolError. */
export function decodeResponse(req: ModbusRequest, pdu: Buffer): ModbusResult {
  if (pdu.length < 2) throw new ModbusProtocolError(`response of ${pdu.length} bytes is too short`);
  const fc = pdu[0]!;
  if (fc === (req.fc | 0x80)) throw new ModbusExceptionError(pdu[1]!);
  if (fc !== req.fc) throw new ModbusProtocolError(`response function code ${fc} does not match request FC${req.fc}`);
  switch (req.fc) {
    case 1:
    case 2: {
      const bytes = Math.ceil(req.count / 8);
      if (pdu[1] !== bytes || pdu.length !== 2 + bytes) {
        throw new ModbusProtocolError(`FC${req.fc} response carries ${pdu[1]} bytes, expected ${bytes}`);
      }
      return { bits: unpackBits(pdu.subarray(2), req.count) };
    }
    case 3:
    case 4: {
      const bytes = req.count * 2;
      if (pdu[1] !== bytes || pdu.length !== 2 + bytes) {
        throw new ModbusProtocolError(`FC${req.fc} response carries ${pdu[1]} bytes, expected ${bytes}`);
      }
      const registers: number[] = new Array(req.count);
      for (let i = 0; i < req.count; i++) registers[i] = pdu.readUInt16BE(2 + i * 2);
      return { registers };
    }
    case 5:
    case 6:
    case 15:
    case 16: {
      if (pdu.length !== 5) throw new ModbusProtocolError(`FC${req.fc} response of ${pdu.length} bytes, expected 5`);
      if (pdu.readUInt16BE(1) !== req.address) throw new ModbusProtocolError(`FC${req.fc} response echoes another address`);
      return { written: true };
    }
  }
}

/** Server side: a parsed request, or the exception code to answer with. */
export function decodeRequest(pdu: Buffer): ModbusRequest | { exception: number; fc: number } {
  const fc = pdu[0] ?? 0;
  const illegalValue = { exception: 3, fc };
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (pdu.length !== 5) return illegalValue;
      const count = pdu.readUInt16BE(3);
      const max = fc <= 2 ? 2000 : 125;
      if (count < 1 || count > max) return illegalValue;
      const address = pdu.readUInt16BE(1);
      return fc <= 2 ? { fc: fc as 1 | 2, address, count } : { fc: fc as 3 | 4, address, count };
    }
    case 5: {
      if (pdu.length !== 5) return illegalValue;
      const raw = pdu.readUInt16BE(3);
      if (raw !== 0xff00 && raw !== 0) return illegalValue;
      return { fc: 5, address: pdu.readUInt16BE(1), value: raw === 0xff00 };
    }
    case 6:
      if (pdu.length !== 5) return illegalValue;
      return { fc: 6, address: pdu.readUInt16BE(1), value: pdu.readUInt16BE(3) };
    case 15: {
      if (pdu.length < 6) return illegalValue;
      const count = pdu.readUInt16BE(3);
      const bytes = pdu[5]!;
      if (count < 1 || count > 1968 || bytes !== Math.ceil(count / 8) || pdu.length !== 6 + bytes) return illegalValue;
      return { fc: 15, address: pdu.readUInt16BE(1), values: unpackBits(pdu.subarray(6), count) };
    }
    case 16: {
      if (pdu.length < 6) return illegalValue;
      const count = pdu.readUInt16BE(3);
      const bytes = pdu[5]!;
      if (count < 1 || count > 123 || bytes !== count * 2 || pdu.length !== 6 + bytes) return illegalValue;
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(pdu.readUInt16BE(6 + i * 2));
      return { fc: 16, address: pdu.readUInt16BE(1), values };
    }
    default:
      return { exception: 1, fc };
  }
}

/** Server side: the response PDU for a request that succeeded. */
export function encodeResponse(req: ModbusRequest, data?: { bits?: readonly boolean[]; registers?: readonly number[] }): Buffer {
  switch (req.fc) {
    case 1:
    case 2: {
      const bits = packBits(data?.bits ?? []);
      return Buffer.concat([Buffer.from([req.fc, bits.length]), bits]);
    }
    case 3:
    case 4: {
      const regs = data?.registers ?? [];
      const pdu = Buffer.alloc(2 + regs.length * 2);
      pdu[0] = req.fc;
      pdu[1] = regs.length * 2;
      regs.forEach((v, i) => pdu.writeUInt16BE(v & 0xffff, 2 + i * 2));
      return pdu;
    }
    case 5:
    case 6:
      return encodeRequest(req); // the normal response echoes the request
    case 15:
    case 16: {
      const pdu = Buffer.alloc(5);
      pdu[0] = req.fc;
      pdu.writeUInt16BE(req.address, 1);
      pdu.writeUInt16BE(req.values.length, 3);
      return pdu;
    }
  }
}

export function encodeException(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code & 0xff]);
}

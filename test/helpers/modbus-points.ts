/** Builders for Modbus point and device specs as the resolved gateway config carries them. */
import type { DeviceSpec, ModbusPointSpec, ModbusRawType, OperateType } from "../../src/config/gateway/model.js";

/** Registers per raw type, written out here rather than taken from the codec, whose width rules are under test. */
const WIDTH: Partial<Record<ModbusRawType, number>> = { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float: 2, int64: 4, uint64: 4, double: 4 };

/**
 * A point read every second as a double, no byte or word swap, scaling 1, reported on schedule (trigger 1); `o` overrides
 * any field. The register count follows the raw type (1 where the type has no fixed width: pass it in `o`).
 */
export function modbusPoint(identifier: string, operateType: OperateType, address: number, rawType: ModbusRawType, o: Partial<ModbusPointSpec> = {}): ModbusPointSpec {
  return {
    identifier,
    operateType,
    address,
    rawType,
    registerCount: WIDTH[rawType] ?? 1,
    swap16: false,
    reverseRegister: false,
    scaling: 1,
    pollingMs: 1000,
    trigger: 1,
    tslType: "double",
    ...o,
  };
}

/** A device `pk/<name>` at a slave id on the channel `serverId`. */
export function modbusDevice(serverId: string, name: string, slaveId: number, points: ModbusPointSpec[]): DeviceSpec {
  return { key: `pk/${name}`, productKey: "pk", deviceName: name, serverId, modbus: { slaveId, points } };
}

/** Modbus RTU/TCP field driver. */
export { createModbusChannel, type ModbusChannelSpec } from "./channel.js";
export {
  decodeBit,
  decodeRegisters,
  encodeValue,
  isBitArea,
  isWritable,
  pointProblem,
  pointWidth,
  readFunctionCode,
  type PointValue,
} from "./codec.js";
export { planPolls, splitRead, requestsPerCycle, type PlannedRead, type PollPlan, type PlannerOptions } from "./planner.js";
export { interFrameGapMs } from "./rtu-transport.js";

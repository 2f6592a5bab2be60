/** Modbus simulators: a fast TCP server and ServerSerial-based RTU slaves sharing one register model. */
export { ModbusMemory, type Area, type ModbusMemoryOptions } from "./memory.js";
export { ModbusTcpSimulator, type ModbusTcpSimulatorOptions } from "./tcp-simulator.js";
export { ModbusRtuSimulator, type ModbusRtuSimulatorOptions } from "./rtu-simulator.js";

export { startOpcuaSimulator, simVariant, type OpcuaSimulator } from "./simulator.js";
export type {
  OpcuaSimulatorOptions,
  SimArgumentSpec,
  SimDataType,
  SimDeviceSpec,
  SimEventSpec,
  SimMethodSpec,
  SimMotion,
  SimUser,
  SimValue,
  SimVariableSpec,
} from "./model.js";

/**
 * The OPC UA field driver. This module and everything it imports load node-opcua's types only: the library
 * itself is imported by `start()` of the first OPC UA channel, so a gateway without OPC UA never pays for it.
 */
import type { OpcuaChannelSpec } from "../../config/gateway/model.js";
import type { DriverContext, FieldChannel, FieldSink } from "../driver.js";
import { OpcuaChannel } from "./channel.js";

export function createOpcuaChannel(spec: OpcuaChannelSpec, sink: FieldSink, ctx: DriverContext): FieldChannel {
  return new OpcuaChannel(spec, sink, ctx);
}

export { OpcuaChannel } from "./channel.js";
export { CertificatePins, CertificateRefusedError, certificateThumbprint, type TrustDecision } from "./trust.js";
export { resolveSecurity, SECURITY_POLICIES, type SecurityPolicyName, type SecuritySettings } from "./security.js";

/**
 * The `sessions` section of the bootstrap config, the same on both gateway platforms (Alibaba and Tencent): how many
 * sub-devices may be online at once, how fast they log in, how many go in one gateway request, and whether devices
 * missing from the applied document lose their topology relation.
 */
export const SESSIONS_SECTION = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    maxOnline: { type: "integer", minimum: 1, default: 1500 },
    loginsPerSecond: { type: "number", exclusiveMinimum: 0, default: 50 },
    batchSize: { type: "integer", minimum: 1, maximum: 50, default: 10 },
    pruneTopology: { type: "boolean", default: true },
  },
} as const;


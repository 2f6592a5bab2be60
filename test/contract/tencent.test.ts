import { contractSuite } from "./suite.js";
import { createWorld } from "../../src/sim/cloud/tencent/world.js";

contractSuite("tencent", createWorld);

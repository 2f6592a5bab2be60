import { contractSuite } from "./suite.js";
import { createWorld } from "../../src/sim/cloud/aliyun/world.js";

contractSuite("aliyun", createWorld);

import { contractSuite } from "./suite.js";
import { createWorld } from "../../src/sim/cloud/huawei/world.js";

contractSuite("huawei", createWorld);

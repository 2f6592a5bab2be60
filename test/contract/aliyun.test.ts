import { contractSuite } from "./suite.js";
import { createWorld } from "./worlds/aliyun.js";

contractSuite("aliyun", createWorld);

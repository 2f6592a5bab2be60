import { contractSuite } from "./suite.js";
import { createWorld } from "../../src/sim/cloud/lierda/world.js";

contractSuite("lierda", createWorld);

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  displayNamePathSegments,
  findEventTypes,
  matchMembers,
  resolvePaths,
  type BrowseChild,
  type BrowseKind,
  type BrowseMany,
  type ChildClass,
} from "../../src/field/opcua/resolve.js";

/** A fake address space: parent -> children, and a log of every browse round. */
function fakeServer(tree: Record<string, Array<[id: string, name: string, cls?: ChildClass]>>) {
  const calls: Array<{ parents: string[]; kind: BrowseKind }> = [];
  const browse: BrowseMany = async (parents, kind) => {
    calls.push({ parents: [...parents], kind });
    const out = new Map<string, BrowseChild[]>();
    for (const p of parents) {
      out.set(
        p,
        (tree[p] ?? []).map(([nodeId, name, cls]) => ({
          nodeId,
          displayName: name,
          browseName: name,
          browseNamespace: 1,
          nodeClass: cls ?? "Object",
        })),
      );
    }
    return out;
  };
  return { browse, calls };
}

describe("displayNamePathSegments", () => {
  test("skips a leading Objects segment and slashes", () => {
    assert.deepEqual(displayNamePathSegments("Plant/Boiler1"), ["Plant", "Boiler1"]);
    assert.deepEqual(displayNamePathSegments("Objects/Plant/Boiler1"), ["Plant", "Boiler1"]);
    assert.deepEqual(displayNamePathSegments("/Plant/Boiler1/"), ["Plant", "Boiler1"]);
  });
  test("rejects empty paths and segments", () => {
    assert.throws(() => displayNamePathSegments("Objects"), /names no node/);
    assert.throws(() => displayNamePathSegments("Plant//Boiler1"), /empty segment/);
  });
});

describe("resolvePaths", () => {
  const tree = {
    "i=85": [["ns=1;i=1", "Plant"], ["ns=1;i=2", "Lab"], ["ns=1;i=3", "Dup"], ["ns=1;i=4", "Dup"]] as Array<[string, string]>,
    "ns=1;i=1": [["ns=1;i=10", "Boiler1"], ["ns=1;i=11", "Boiler2"]] as Array<[string, string]>,
    "ns=1;i=2": [["ns=1;i=20", "Oven"]] as Array<[string, string]>,
  };

  test("walks all paths together, one browse round per depth", async () => {
    const { browse, calls } = fakeServer(tree);
    const r = await resolvePaths(browse, [
      { key: "a", path: "Plant/Boiler1" },
      { key: "b", path: "Objects/Plant/Boiler2" },
      { key: "c", path: "Lab/Oven" },
    ]);
    assert.deepEqual(Object.fromEntries(r), { a: { nodeId: "ns=1;i=10" }, b: { nodeId: "ns=1;i=11" }, c: { nodeId: "ns=1;i=20" } });
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0]!.parents, ["i=85"]);
    assert.deepEqual(calls[1]!.parents.sort(), ["ns=1;i=1", "ns=1;i=2"]);
  });

  test("a missing or ambiguous segment fails that path only, with a reason", async () => {
    const { browse } = fakeServer(tree);
    const r = await resolvePaths(browse, [
      { key: "ok", path: "Plant/Boiler1" },
      { key: "missing", path: "Plant/Boiler9" },
      { key: "ambiguous", path: "Dup/X" },
      { key: "case", path: "plant/Boiler1" },
      { key: "bad", path: "" },
    ]);
    assert.deepEqual(r.get("ok"), { nodeId: "ns=1;i=10" });
    assert.deepEqual(r.get("missing"), { error: 'no node "Boiler9" under Plant' });
    assert.deepEqual(r.get("ambiguous"), { error: '2 nodes named "Dup" under Objects' });
    assert.deepEqual(r.get("case"), { error: 'no node "plant" under Objects' });
    assert.match((r.get("bad") as { error: string }).error, /names no node/);
  });
});

describe("matchMembers", () => {
  const children: BrowseChild[] = [
    { nodeId: "v1", displayName: "Temperature", browseName: "Temperature", browseNamespace: 1, nodeClass: "Variable" },
    { nodeId: "m1", displayName: "Add", browseName: "Add", browseNamespace: 1, nodeClass: "Method" },
    { nodeId: "v2", displayName: "Add", browseName: "Add", browseNamespace: 1, nodeClass: "Variable" },
    { nodeId: "v3", displayName: "Twice", browseName: "Twice", browseNamespace: 1, nodeClass: "Variable" },
    { nodeId: "v4", displayName: "Twice", browseName: "Twice", browseNamespace: 2, nodeClass: "Variable" },
  ];
  test("properties match variables and services match methods by DisplayName", () => {
    const m = matchMembers(children, {
      properties: [
        { identifier: "temp", displayName: "Temperature" },
        { identifier: "gone", displayName: "Pressure" },
        { identifier: "twice", displayName: "Twice" },
      ],
      services: [
        { identifier: "add", displayName: "Add" },
        { identifier: "sub", displayName: "Temperature" },
      ],
    });
    assert.deepEqual(Object.fromEntries(m.properties), { temp: "v1" });
    assert.deepEqual(Object.fromEntries(m.methods), { add: "m1" });
    assert.deepEqual(m.problems, [
      'gone: no child variable "Pressure"',
      'twice: 2 child variables named "Twice"',
      'sub: no child method "Temperature"',
    ]);
  });
});

describe("findEventTypes", () => {
  test("searches the BaseEventType subtree breadth first and reports unknown names", async () => {
    const { browse, calls } = fakeServer({
      "i=2041": [["i=2130", "SystemEventType", "ObjectType"], ["ns=1;i=5", "OverTemp", "ObjectType"]],
      "i=2130": [["ns=1;i=6", "DeepEvent", "ObjectType"]],
    });
    const r = await findEventTypes(browse, ["OverTemp", "DeepEvent", "Nope"]);
    assert.deepEqual(r.get("OverTemp"), { nodeId: "ns=1;i=5" });
    assert.deepEqual(r.get("DeepEvent"), { nodeId: "ns=1;i=6" });
    assert.deepEqual(r.get("Nope"), { error: 'no event type "Nope"' });
    assert.ok(calls.every((c) => c.kind === "subtypes"));
    assert.ok(calls.length <= 3);
  });
});

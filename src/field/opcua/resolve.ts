/**
 * Resolves the gateway config's DisplayName paths to nodes (alink.md 5.3.3 and C19). The walking and matching
 * logic is independent of node-opcua: it is given a batched browse function and works level by level, so that
 * all devices of a channel share each browse request.
 */

export type ChildClass = "Object" | "Variable" | "Method" | "ObjectType" | "Other";

export interface BrowseChild {
  /** NodeId in string form (`ns=1;i=1000`). */
  nodeId: string;
  displayName: string;
  /** BrowseName name and namespace index (event fields are selected by BrowseName). */
  browseName: string;
  browseNamespace: number;
  nodeClass: ChildClass;
}

/**
 * Browses many parents in as few requests as the server allows and returns every parent's children.
 * `kind` selects the references: hierarchical objects (path walking), hierarchical variables and methods
 * (device members), subtypes (event types) or properties (event fields).
 */
export type BrowseMany = (parents: string[], kind: BrowseKind) => Promise<Map<string, BrowseChild[]>>;
export type BrowseKind = "objects" | "members" | "subtypes" | "properties";

export const OBJECTS_FOLDER = "i=85";
export const BASE_EVENT_TYPE = "i=2041";

/** Splits `Plant/Boiler1` (or `Objects/Plant/Boiler1`, `/Plant/Boiler1`) into DisplayName segments. */
export function displayNamePathSegments(path: string): string[] {
  const parts = path.split("/");
  if (parts[0] === "") parts.shift();
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  if (parts[0] === "Objects") parts.shift();
  if (parts.length === 0) throw new Error(`displayNamePath "${path}" names no node below the Objects folder`);
  if (parts.some((p) => p.length === 0)) throw new Error(`displayNamePath "${path}" has an empty segment`);
  return parts;
}

export type Resolution = { nodeId: string } | { error: string };

interface PathWalk {
  key: string;
  segments: string[];
  current: string;
  depth: number;
}

function pickUnique(children: BrowseChild[], name: string, nodeClass?: ChildClass): BrowseChild[] {
  const seen = new Map<string, BrowseChild>();
  for (const c of children) {
    if (c.displayName === name && (nodeClass === undefined || c.nodeClass === nodeClass)) seen.set(c.nodeId, c);
  }
  return [...seen.values()];
}

/** Walks every path from the Objects folder, one browse round per depth for all paths together. */
export async function resolvePaths(
  browse: BrowseMany,
  requests: Array<{ key: string; path: string }>,
): Promise<Map<string, Resolution>> {
  const out = new Map<string, Resolution>();
  let walking: PathWalk[] = [];
  for (const r of requests) {
    try {
      walking.push({ key: r.key, segments: displayNamePathSegments(r.path), current: OBJECTS_FOLDER, depth: 0 });
    } catch (err) {
      out.set(r.key, { error: (err as Error).message });
    }
  }
  while (walking.length > 0) {
    const parents = [...new Set(walking.map((w) => w.current))];
    const children = await browse(parents, "objects");
    const next: PathWalk[] = [];
    for (const w of walking) {
      const segment = w.segments[w.depth]!;
      const found = pickUnique(children.get(w.current) ?? [], segment);
      const where = w.segments.slice(0, w.depth).join("/") || "Objects";
      if (found.length === 0) {
        out.set(w.key, { error: `no node "${segment}" under ${where}` });
      } else if (found.length > 1) {
        out.set(w.key, { error: `${found.length} nodes named "${segment}" under ${where}` });
      } else if (w.depth + 1 === w.segments.length) {
        out.set(w.key, { nodeId: found[0]!.nodeId });
      } else {
        next.push({ ...w, current: found[0]!.nodeId, depth: w.depth + 1 });
      }
    }
    walking = next;
  }
  return out;
}

export interface MemberRequest {
  properties: Array<{ identifier: string; displayName: string }>;
  services: Array<{ identifier: string; displayName: string }>;
}

export interface MemberMatch {
  /** identifier -> variable NodeId */
  properties: Map<string, string>;
  /** identifier -> method NodeId */
  methods: Map<string, string>;
  /** Human-readable problems, one per unmatched identifier. */
  problems: string[];
}

/** Matches properties to child Variables and services to child Methods by exact DisplayName. */
export function matchMembers(children: BrowseChild[], request: MemberRequest): MemberMatch {
  const match: MemberMatch = { properties: new Map(), methods: new Map(), problems: [] };
  const one = (identifier: string, name: string, cls: ChildClass, into: Map<string, string>, what: string) => {
    const found = pickUnique(children, name, cls);
    if (found.length === 1) into.set(identifier, found[0]!.nodeId);
    else if (found.length === 0) match.problems.push(`${identifier}: no child ${what} "${name}"`);
    else match.problems.push(`${identifier}: ${found.length} child ${what}s named "${name}"`);
  };
  for (const p of request.properties) one(p.identifier, p.displayName, "Variable", match.properties, "variable");
  for (const s of request.services) one(s.identifier, s.displayName, "Method", match.methods, "method");
  return match;
}

/** Finds event types (subtypes of BaseEventType, any depth) by DisplayName, breadth first, bounded depth. */
export async function findEventTypes(browse: BrowseMany, names: string[], maxDepth = 10): Promise<Map<string, Resolution>> {
  const wanted = new Set(names);
  const found = new Map<string, string[]>();
  let level = [BASE_EVENT_TYPE];
  const visited = new Set(level);
  for (let depth = 0; depth < maxDepth && level.length > 0 && wanted.size > 0; depth++) {
    const children = await browse(level, "subtypes");
    const next: string[] = [];
    for (const list of children.values()) {
      for (const c of list) {
        if (visited.has(c.nodeId)) continue;
        visited.add(c.nodeId);
        next.push(c.nodeId);
        if (names.includes(c.displayName)) found.set(c.displayName, [...(found.get(c.displayName) ?? []), c.nodeId]);
      }
    }
    // A name found at this depth is final: deeper types of the same name would be ambiguous only in theory.
    for (const n of found.keys()) wanted.delete(n);
    level = next;
  }
  const out = new Map<string, Resolution>();
  for (const n of names) {
    const ids = found.get(n) ?? [];
    if (ids.length === 1) out.set(n, { nodeId: ids[0]! });
    else if (ids.length === 0) out.set(n, { error: `no event type "${n}"` });
    else out.set(n, { error: `${ids.length} event types named "${n}"` });
  }
  return out;
}

/**
 * The one table of what the platform's session codes mean for a sub-device (alink.md sections 3.7, 3.8 and the
 * code list of section 7): each code of a login reply or of a kick notice maps to one action.
 */
import { MINUTE, type SessionStatus } from "./session-types.js";

export type SessionAction =
  /** Log in again soon (the platform lost the session). */
  | { kind: "relogin" }
  /** The topology relation is gone: add it again, then log in (bounded: 3 times in 10 minutes). */
  | { kind: "rebind" }
  /** The secret may be stale: forget it and register again, once; a provisioned secret needs the operator. */
  | { kind: "reregister"; reason: string }
  /** A state only the cloud or the operator can change. */
  | { kind: "state"; status: SessionStatus; reason: string; retryAfterMs?: number }
  /** Hold every login of the gateway. */
  | { kind: "holdAll"; ms: number; reason: string }
  /** Try again later. */
  | { kind: "backoff"; ms: number; reason: string };

const TABLE: Record<number, SessionAction> = {
  427: { kind: "state", status: "conflict", reason: "logged in elsewhere (427)", retryAfterMs: 10 * MINUTE },
  428: { kind: "holdAll", ms: 5 * MINUTE, reason: "too many sub-devices online (428)" },
  429: { kind: "backoff", ms: MINUTE, reason: "login throttled (429)" },
  460: { kind: "state", status: "error", reason: "login parameters refused (460)" },
  520: { kind: "relogin" },
  521: { kind: "state", status: "deleted", reason: "deleted in the cloud (521)" },
  522: { kind: "state", status: "disabled", reason: "disabled in the cloud (522)" },
  6100: { kind: "reregister", reason: "device not found (6100)" },
  6287: { kind: "reregister", reason: "invalid secret (6287)" },
  6401: { kind: "rebind" },
};

export function sessionAction(code: number): SessionAction {
  return TABLE[code] ?? { kind: "backoff", ms: 30_000, reason: `login refused (${code})` };
}

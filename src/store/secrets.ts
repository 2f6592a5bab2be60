/**
 * Sub-device DeviceSecrets (pre-provisioned or issued once by dynamic registration). Values leave this class only
 * through `get`; nothing here logs, and errors name the device, never the secret.
 */
import type { Database, Statement } from "better-sqlite3";
import type { SyncMode } from "./database.js";
import { durableWrite } from "./durable.js";
import { describeError } from "./sqlite-errors.js";

export interface DeviceRef {
  productKey: string;
  deviceName: string;
}

export class SecretStore {
  private readonly getStmt: Statement<[string, string], { secret: string }>;
  private readonly setStmt: Statement<[string, string, string, number]>;
  private readonly delStmt: Statement<[string, string]>;
  private readonly listStmt: Statement<[], { productKey: string; deviceName: string }>;

  constructor(
    private readonly db: Database,
    private readonly sync: SyncMode,
    private readonly now: () => number = Date.now,
  ) {
    this.getStmt = db.prepare("SELECT secret FROM secrets WHERE product_key = ? AND device_name = ?");
    this.setStmt = db.prepare(
      "INSERT INTO secrets (product_key, device_name, secret, updated_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (product_key, device_name) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at",
    );
    this.delStmt = db.prepare("DELETE FROM secrets WHERE product_key = ? AND device_name = ?");
    this.listStmt = db.prepare(
      "SELECT product_key AS productKey, device_name AS deviceName FROM secrets ORDER BY product_key, device_name",
    );
  }

  get(productKey: string, deviceName: string): string | undefined {
    return this.getStmt.get(productKey, deviceName)?.secret;
  }

  /** Durable before it returns (fsynced even with sync "normal"): a registered secret is issued only once. */
  set(productKey: string, deviceName: string, secret: string): void {
    if (secret.length === 0) throw new Error(`empty secret for ${productKey}/${deviceName}`);
    try {
      durableWrite(this.db, this.sync, () => this.setStmt.run(productKey, deviceName, secret, this.now()));
    } catch (err) {
      const d = describeError(err);
      throw new Error(`cannot store the secret of ${productKey}/${deviceName}: ${d.code ?? ""} ${d.message}`.replace("  ", " "));
    }
  }

  delete(productKey: string, deviceName: string): boolean {
    return this.delStmt.run(productKey, deviceName).changes > 0;
  }

  /** The devices that have a secret (names only). */
  list(): DeviceRef[] {
    return this.listStmt.all();
  }

  /** Guards against a secret reaching a log through a whole-object dump. */
  toJSON(): string {
    return "[SecretStore]";
  }
}

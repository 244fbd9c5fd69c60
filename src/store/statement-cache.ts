// Prepared statements by their SQL: prepared on first use, reused, finalized together when the
// connection's owner closes (bun:sqlite keeps a statement's resources until then).
import type { Database, Statement } from "bun:sqlite";

export class StatementCache<Sql extends string = string> {
  private readonly statements = new Map<Sql, Statement>();

  constructor(private readonly db: Database) {}

  get(sql: Sql): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  finalize(): void {
    for (const s of this.statements.values()) s.finalize();
    this.statements.clear();
  }
}

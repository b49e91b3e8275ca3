import { Model, snakeCaseMappers } from 'objection';

export type PrinterRole = 'receipt' | 'kitchen';

export class Printer extends Model {
  static override tableName = 'printers';
  static override columnNameMappers = snakeCaseMappers();
  // category_ids is a Postgres uuid[]: pg writes JS arrays as such, JSON text would not fit.
  static override jsonAttributes: string[] = [];

  declare id: string;
  declare locationId: string;
  declare name: string;
  declare role: PrinterRole;
  /** tcp://host:port (ESC/POS over raw TCP, usually port 9100). */
  declare address: string;
  declare enabled: boolean;
  /** Kitchen station: only these categories' lines (null: no filter). */
  declare categoryIds: string[] | null;
  /** Takes this printer's tickets when it stays unreachable. */
  declare backupPrinterId: string | null;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

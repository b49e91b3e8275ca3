import { Model, snakeCaseMappers } from 'objection';

export type PrinterRole = 'receipt' | 'kitchen';

export class Printer extends Model {
  static override tableName = 'printers';
  static override columnNameMappers = snakeCaseMappers();

  declare id: string;
  declare locationId: string;
  declare name: string;
  declare role: PrinterRole;
  /** tcp://host:port (ESC/POS over raw TCP, usually port 9100). */
  declare address: string;
  declare enabled: boolean;
  declare createdAt: Date;
  declare updatedAt: Date;

  override $beforeUpdate(): void {
    this.updatedAt = new Date();
  }
}

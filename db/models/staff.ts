import { Model } from 'objection';
import type { Role } from '../../core/roles';

/** A staff member (table `staff`). PIN columns never leave the server: use `staffView` for responses. */
export class StaffModel extends Model {
  static override tableName = 'staff';

  declare id: string;
  declare location_id: string;
  declare name: string;
  declare role: Role;
  declare pin_lookup: string;
  declare pin_hash: string;
  declare hourly_rate: number;
  declare active: boolean;
  declare deleted_at: Date | null;
  declare created_at: Date;
  declare updated_at: Date;
}

/** The public shape of a staff member: camelCase, and never any PIN column. */
export function staffView(s: StaffModel) {
  return {
    id: s.id,
    locationId: s.location_id,
    name: s.name,
    role: s.role,
    hourlyRate: s.hourly_rate,
    active: s.active,
    createdAt: new Date(s.created_at).toISOString(),
    updatedAt: new Date(s.updated_at).toISOString(),
  };
}

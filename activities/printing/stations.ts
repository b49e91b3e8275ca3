import type { ActivityDeps } from '../deps';

export interface RoutedPrinter {
  id: string;
  name: string;
  address: string;
  categoryIds?: string[] | null;
  backupPrinterId?: string | null;
}

/** Central-queue activities the print workflow uses to route tickets (they read the catalog and printers). */
export function stationActivities({ knex }: ActivityDeps) {
  return {
    /** Each item's category now (a ticket goes to the station of the item's current category). */
    async itemCategories(req: { locationId: string; itemIds: string[] }): Promise<Record<string, string | null>> {
      const ids = [...new Set(req.itemIds)];
      if (ids.length === 0) return {};
      const rows: { id: string; category_id: string | null }[] = await knex('items')
        .where('location_id', req.locationId)
        .whereIn('id', ids)
        .select('id', 'category_id');
      return Object.fromEntries(rows.map((r) => [r.id, r.category_id]));
    },

    /**
     * The first enabled printer of the backup chain that starts at `printerId`, skipping the
     * printers in `exclude` (those already tried: a chain that loops back ends there).
     */
    async resolveBackupPrinter(req: {
      locationId: string;
      printerId: string;
      exclude: string[];
    }): Promise<RoutedPrinter | null> {
      const seen = new Set(req.exclude);
      for (let id: string | null = req.printerId; id && !seen.has(id);) {
        seen.add(id);
        const p: (RoutedPrinter & { enabled: boolean }) | undefined = await knex('printers')
          .where({ id, location_id: req.locationId })
          .first(
            'id',
            'name',
            'address',
            'enabled',
            'category_ids as categoryIds',
            'backup_printer_id as backupPrinterId',
          );
        if (!p) return null;
        if (p.enabled)
          return {
            id: p.id,
            name: p.name,
            address: p.address,
            categoryIds: p.categoryIds,
            backupPrinterId: p.backupPrinterId,
          };
        id = p.backupPrinterId ?? null;
      }
      return null;
    },
  };
}
export type StationActivities = ReturnType<typeof stationActivities>;

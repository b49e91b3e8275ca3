/**
 * Kitchen stations (pure): which kitchen printer prints which lines of a ticket. A printer with
 * `categoryIds` is a station (bar, grill) and takes only those categories' lines; a line no
 * station takes goes to the printers without a filter, or to every kitchen printer when all of
 * them are stations, so a line is never dropped. With no stations every printer gets it all.
 */
export interface StationPrinter {
  id: string;
  categoryIds?: string[] | null;
}

const isStation = (p: StationPrinter) => (p.categoryIds?.length ?? 0) > 0;

/** Each printer with the lines it prints (in ticket order); printers with none are left out. */
export function splitForStations<P extends StationPrinter, L>(
  printers: P[],
  lines: L[],
  categoryOf: (line: L) => string | null | undefined,
): { printer: P; lines: L[] }[] {
  const unfiltered = printers.filter((p) => !isStation(p));
  const catchAll = new Set(unfiltered.length > 0 ? unfiltered : printers);
  const takes = (p: P, category: string | null | undefined) =>
    category != null && isStation(p) && p.categoryIds!.includes(category);
  return printers
    .map((printer) => ({
      printer,
      lines: lines.filter((line) => {
        const category = categoryOf(line);
        return takes(printer, category) || (catchAll.has(printer) && !printers.some((p) => takes(p, category)));
      }),
    }))
    .filter((s) => s.lines.length > 0);
}

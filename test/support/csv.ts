/** A small RFC 4180 reader for the report tests: rows of fields (quotes and CRLF handled). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

/** One table as objects keyed by its header; numeric-looking fields become numbers, empty ones null. */
export function records(rows: string[][]): Record<string, string | number | null>[] {
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header!.map((h, i) => [h, typed(r[i] ?? '')])));
}

const typed = (v: string) => (v === '' ? null : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);

/** A multi-table CSV (title line, header, rows; tables separated by an empty line) as tables by title. */
export function tables(text: string): Record<string, Record<string, string | number | null>[]> {
  const out: Record<string, Record<string, string | number | null>[]> = {};
  for (const block of text.split('\r\n\r\n')) {
    const [title, ...rest] = parseCsv(block.endsWith('\r\n') ? block : block + '\r\n');
    out[title![0]!] = records(rest);
  }
  return out;
}

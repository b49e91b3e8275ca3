import * as fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const handles: Array<() => Promise<void>> = (globalThis as any).__tillflowTeardown ?? [];
  await Promise.allSettled(handles.map((stop) => stop()));
  const tmp: string | undefined = (globalThis as any).__tillflowTmp;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

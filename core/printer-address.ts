// A network printer's address, checked wherever one is accepted (API) or used (printing).
/** Thrown for an address that is not tcp://host:port (retrying will not help). */
export class InvalidPrinterAddressError extends Error {
  override name = 'InvalidPrinterAddressError';
}

/** Parses "tcp://host:port" (host name or IPv4; IPv6 is not supported by the library). */
export function parsePrinterAddress(address: string): { host: string; port: number } {
  const match = /^tcp:\/\/([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?):(\d{1,5})$/i.exec(String(address));
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    throw new InvalidPrinterAddressError(
      `Invalid printer address ${JSON.stringify(address)}: expected tcp://host:port, e.g. tcp://192.168.1.50:9100`,
    );
  }
  return { host: match[1], port };
}

/**
 * Header handling for one proxy hop: what belongs to the hop and is never forwarded, and the
 * header list the upstream receives.
 */

// Headers that describe one hop, not the message (RFC 9110 section 7.6.1), plus proxy credentials.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The hop-by-hop names of a message: the fixed set plus whatever its Connection header lists. */
export function hopHeaders(rawHeaders: readonly string[]): Set<string> {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const t of rawHeaders[i + 1]!.split(',')) if (t.trim()) drop.add(t.trim().toLowerCase());
    }
  }
  return drop;
}

/** Node's flat raw header list without the names in `drop` (lower case). */
export function filterHeaders(rawHeaders: readonly string[], drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!drop.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

/** The value of the first header named `name` (lower case) in a raw list, or undefined. */
export function rawHeader(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) return rawHeaders[i + 1];
  return undefined;
}

/**
 * Why a request's framing is refused, or null. A body is scanned as it streams; only plain
 * `chunked` framing and an identity content coding leave it readable (`gzip, chunked` would hand
 * the upstream bytes the scanner never saw decoded).
 */
export function framingProblem(rawHeaders: readonly string[]): string | null {
  const te: string[] = [];
  const ce: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'transfer-encoding') te.push(...rawHeaders[i + 1]!.split(','));
    else if (name === 'content-encoding') ce.push(...rawHeaders[i + 1]!.split(','));
  }
  const codings = (list: string[]) => list.map((s) => s.trim().toLowerCase()).filter(Boolean);
  const t = codings(te);
  if (t.length && !(t.length === 1 && t[0] === 'chunked')) return `dlp: a request with Transfer-Encoding "${t.join(', ')}" cannot be scanned; send it with plain chunked framing or a Content-Length`;
  const c = codings(ce).filter((x) => x !== 'identity');
  if (c.length) return `dlp: a ${c.join(', ')}-encoded request body cannot be scanned; send it uncompressed`;
  return null;
}

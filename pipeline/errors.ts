/**
 * Errors as values. A user's mistake (a typo in a config, a bad --set) is expected, so
 * it comes back as a `ConfigError` in a `Result`, never as an exception: the CLI prints
 * one line per problem and exits 2, without a stack trace.
 */

export type Result<T, E = ConfigError[]> = { ok: true; value: T } | { ok: false; errors: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E>(errors: E): Result<never, E> => ({ ok: false, errors });

/** One problem with a config, located as precisely as we can. */
export interface ConfigError {
  /** The config file as the user named it (or `--set`, `plugin`, ...). */
  file?: string;
  line?: number;
  /** Dotted YAML path, e.g. `stages.features.params.projector.dim`. */
  path?: string;
  message: string;
}

/** `configs/x.yaml:12 stages.features.params.projector.dim: expected ..., got ...` */
export function formatError(e: ConfigError): string {
  const where = e.file ? (e.line ? `${e.file}:${e.line}` : e.file) : '';
  const head = [where, e.path].filter(Boolean).join(' ');
  return head ? `${head}: ${e.message}` : e.message;
}

/** Same problem reported by several sweep variants is printed once. */
export function dedupeErrors(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = formatError(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A dotted path from zod/YAML path segments. */
export function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** A value as it should appear after "got": short and unambiguous. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON has no NaN or Infinity: it would print them as null (`alpha: .nan` is not null).
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The closest known name, for "did you mean" hints. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

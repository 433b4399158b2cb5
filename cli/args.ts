// A small strict argument parser for the CLI: known flags only, typed values, clear errors. Pure.

export type FlagSpec = Record<string, 'string' | 'number' | 'boolean'>;
export type Parsed<S extends FlagSpec> = {
  [K in keyof S]?: S[K] extends 'number' ? number : S[K] extends 'boolean' ? boolean : string;
};

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseFlags<S extends FlagSpec>(argv: readonly string[], spec: S): Parsed<S> {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    let name = arg.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const negated = name.startsWith('no-') && spec[name] === undefined && spec[name.slice(3)] === 'boolean';
    const key = negated ? name.slice(3) : name;
    const type = spec[key];
    if (!type) throw new UsageError(`unknown option --${name}`);
    if (type === 'boolean') {
      out[key] = !negated;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${value}"`);
      out[key] = n;
    } else out[key] = value;
  }
  return out as Parsed<S>;
}

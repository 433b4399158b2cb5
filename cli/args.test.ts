import { describe, expect, it } from 'vitest';
import { parseFlags, UsageError } from './args.ts';

const spec = { prompt: 'string', steps: 'number', json: 'boolean', 'kv-cache': 'boolean' } as const;

describe('parseFlags', () => {
  it('parses strings, numbers, booleans and --no- negations', () => {
    expect(parseFlags(['--prompt', 'Hi there', '--steps=12', '--json', '--no-kv-cache'], spec)).toEqual({ prompt: 'Hi there', steps: 12, json: true, 'kv-cache': false });
  });
  it('rejects unknown options, missing values and bad numbers', () => {
    expect(() => parseFlags(['--nope'], spec)).toThrow(UsageError);
    expect(() => parseFlags(['--steps'], spec)).toThrow(/needs a value/);
    expect(() => parseFlags(['--steps', 'ten'], spec)).toThrow(/expects a number/);
    expect(() => parseFlags(['stray'], spec)).toThrow(/unexpected argument/);
  });
});

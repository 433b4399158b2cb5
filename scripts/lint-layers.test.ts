// Proves the layer rules in eslint.config.js fire: each fixture in scripts/lint-fixtures/ is linted as if it
// lived at a path inside a layer, and must fail (or pass) with the layer rule.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });
const LAYER_RULE = '@typescript-eslint/no-restricted-imports';

async function lintAs(fixture: string, pretendPath: string) {
  const code = readFileSync(new URL(`./lint-fixtures/${fixture}`, import.meta.url), 'utf8');
  const [result] = await eslint.lintText(code, { filePath: `${root}${pretendPath}` });
  if (!result) throw new Error('ESLint returned no result');
  return result.messages;
}

describe('layer lint rules', () => {
  it.each([
    ['web-imports-gpu.ts', 'web/__fixture__.ts', /web\/ must not import gpu\//],
    ['web-imports-engine-internals.ts', 'web/lib/__fixture__.ts', /web\/ may import only/],
    ['gpu-imports-workers.ts', 'gpu/kernels/__fixture__.ts', /gpu\/ knows WebGPU/],
    ['workers-imports-web.ts', 'workers/engine/__fixture__.ts', /workers\/ must not import web\//],
    ['lessons-imports-gpu.ts', 'lessons/__fixture__.ts', /lessons\/ are data/],
  ])('fails %s linted as %s', async (fixture, pretendPath, message) => {
    const messages = await lintAs(fixture, pretendPath);
    const layer = messages.filter((m) => m.ruleId === LAYER_RULE);
    expect(layer, JSON.stringify(messages)).toHaveLength(1);
    expect(layer[0]!.severity).toBe(2);
    expect(layer[0]!.message).toMatch(message);
  }, 60_000);

  it('passes the imports web/ is allowed (api, trace, ?worker entry, comlink, type-only)', async () => {
    const messages = await lintAs('web-allowed.ts', 'web/lib/__fixture__.ts');
    expect(messages).toEqual([]);
  }, 60_000);

  it('applies to the same file outside the layer (the rule is about where code lives)', async () => {
    const messages = await lintAs('web-imports-gpu.ts', 'scripts/__fixture__.ts');
    expect(messages.filter((m) => m.ruleId === LAYER_RULE)).toEqual([]);
  }, 60_000);
});

// The CLI end to end: the esbuild bundle run as a child process on Dawn, as a user runs it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STORIES260K, TOK512 } from '../workers/testing/models.ts';

const golden = JSON.parse(readFileSync(new URL('../workers/model/testdata/stories260K-golden.json', import.meta.url), 'utf8')) as {
  steps: number;
  cases: { prompt: string; tokenIds: number[]; text: string; stop: string }[];
};
// Inside the repo (dist/ is ignored), so the bundle's external `webgpu` import resolves from node_modules.
const bundle = path.resolve('dist', 'cli-test', `decode-lab-${process.pid}.mjs`);

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const res = spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env, cwd: process.cwd(), timeout: 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('decode-lab CLI', () => {
  beforeAll(() => {
    const res = spawnSync(process.execPath, ['scripts/bundle.mjs', 'cli/decode-lab.ts', bundle], { encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
  });

  it('gpu-info prints the adapter and its limits', () => {
    const { code, stdout } = cli(['gpu-info']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^adapter\n {2}vendor/);
    expect(stdout).toMatch(/maxStorageBufferBindingSize\s+\d+/);
    expect(stdout).toMatch(/timestamp-query (yes|no)/);
  });

  it('gpu-info fails clearly when the Vulkan driver file does not exist', () => {
    const { code, stderr } = cli(['gpu-info'], { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/no WebGPU adapter.*\/nonexistent\/icd\.json.*does not exist/);
  });

  it("reproduces llama2.c's greedy tokens on stories260K for every golden prompt (--json)", () => {
    for (const c of golden.cases) {
      const { code, stdout, stderr } = cli(['generate', '--model', STORIES260K, '--tokenizer', TOK512, '--prompt', c.prompt, '--steps', String(golden.steps), '--temperature', '0', '--json']);
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout).tokenIds, c.prompt).toEqual(c.tokenIds);
    }
  });

  it('prints exactly the prompt followed by the generated text on stdout', () => {
    const c = golden.cases.find((g) => g.prompt === 'Once upon a time')!;
    const { code, stdout, stderr } = cli(['generate', '--model', STORIES260K, '--tokenizer', TOK512, '--prompt', c.prompt, '--steps', String(golden.steps), '--temperature', '0']);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(c.text);
    expect(stderr).toMatch(/decode \d+(\.\d+)? tok\/s/);
  });

  it('rejects bad arguments with a usage message and exit code 2', () => {
    const { code, stderr } = cli(['generate', '--prompt', 'x', '--steps', 'many']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--steps expects a number/);
  });
});

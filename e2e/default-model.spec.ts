// The app works the moment it opens: the Lab loads the bundled default target (public/models) by itself,
// on WebGPU in the engine's Worker, and its greedy continuation equals PyTorch's (the parity golden).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';

const golden = JSON.parse(readFileSync(path.resolve(process.cwd(), 'workers/model/testdata/default-golden.json'), 'utf8')) as {
  models: { target: { prompts: { prompt: string; ids: number[]; greedy: number[] }[] } };
};

test.describe.configure({ timeout: 300_000 });

test('opens with the bundled default target loaded, and generates its PyTorch greedy tokens', async ({ page }) => {
  await page.goto('/#/lab');
  await expect(page.getByTestId('lab-adapter')).not.toBeEmpty({ timeout: 60_000 });
  await expect(page.getByTestId('model-name')).toHaveText('decode-lab-target', { timeout: 180_000 });
  await expect(page.getByTestId('load-error')).toHaveCount(0);

  const p = golden.models.target.prompts[0]!;
  const n = 16; // greedy tokens to check: steps count positions, prompt included
  await page.getByTestId('param-temperature').fill('0');
  await page.getByTestId('param-steps').fill(String(p.ids.length + n - 1));
  await page.getByTestId('prompt-input').fill(p.prompt);
  await page.getByTestId('generate').click();
  const output = page.getByTestId('output');
  await expect(output).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  const generated = await page.locator('[data-testid=output] [data-token-id]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.tokenId)));
  expect(generated).toEqual(p.greedy.slice(0, n));
  // The tokens came from the engine Worker, on a WebGPU adapter.
  const worker = page.workers().find((w) => w.url().includes('engine.worker'));
  expect(worker).toBeDefined();
  expect(await worker!.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null)).toBe(true);
});

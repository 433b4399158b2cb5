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

test('serves several prompts at once, side by side, each with the greedy tokens it gets alone', async ({ page }) => {
  await page.goto('/#/lab');
  await expect(page.getByTestId('model-name')).toHaveText('decode-lab-target', { timeout: 180_000 });
  const prompts = golden.models.target.prompts; // PyTorch's greedy tokens for each
  const n = 12;
  await page.getByTestId('param-temperature').fill('0');
  await page.getByTestId('batch-prompts').fill([...prompts.map((p) => p.prompt), 'One day, a little bird'].join('\n'));
  await page.getByTestId('batch-max-tokens').fill(String(n));
  await page.getByTestId('batch-send').click();
  const cards = page.getByTestId('batch-request');
  await expect(cards).toHaveCount(prompts.length + 1, { timeout: 30_000 });
  for (let i = 0; i <= prompts.length; i++) await expect(cards.nth(i)).toHaveAttribute('data-state', 'finished', { timeout: 240_000 });
  await expect(page.getByTestId('batch-status')).toContainText('requests finished');
  for (const [i, p] of prompts.entries()) {
    const ids = (await cards.nth(i).getAttribute('data-token-ids'))!.split(' ').map(Number);
    expect(ids, p.prompt).toEqual(p.greedy.slice(0, n));
    await expect(cards.nth(i).getByTestId('batch-text')).not.toBeEmpty();
  }
  // The requests really shared forward passes.
  expect(Number(await page.getByTestId('batch-timeline').getAttribute('data-largest-batch'))).toBeGreaterThanOrEqual(2);
  // While they run, a single generation waits; once done, Generate works again.
  await expect(page.getByTestId('generate')).toBeEnabled();
});

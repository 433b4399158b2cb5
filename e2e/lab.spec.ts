// The Lab in a real browser: stories260K loaded through the file picker generates, on WebGPU in the engine's
// Worker, exactly llama2.c's greedy tokens for every golden prompt (read back from the DOM); Stop ends a long
// generation; Step runs one iteration. SwiftShader is slow, so timeouts are generous.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';

interface GoldenCase {
  prompt: string;
  promptTokenIds: number[]; // BOS, then the prompt's tokens
  tokenIds: number[]; // BOS, prompt tokens, then every generated token (see the file's description)
  stop: 'steps' | 'bos';
  text: string; // run.c's stdout: the prompt as its tokens print, then the generated pieces
}
const golden = JSON.parse(readFileSync(path.resolve(process.cwd(), 'workers/model/testdata/stories260K-golden.json'), 'utf8')) as {
  model: string;
  steps: number;
  cases: GoldenCase[];
};
const MODEL_FILES = ['stories260K.bin', 'tok512.bin'].map((f) => path.resolve(process.cwd(), '../shared/models/stories260K', f));

test.describe.configure({ timeout: 480_000 });

/** Opens the Lab, checks it runs on a WebGPU adapter, lets the automatic default load settle, loads stories260K. */
async function openWithStories(page: Page): Promise<void> {
  await page.goto('/#/lab');
  await expect(page.getByTestId('lab-adapter')).not.toBeEmpty({ timeout: 60_000 });
  // The Lab loads the bundled default by itself; wait for that to end (loaded, or an error if not shipped).
  await expect(page.getByTestId('model-status')).not.toHaveAttribute('data-state', 'loading', { timeout: 120_000 });
  await page.getByTestId('model-files').setInputFiles(MODEL_FILES);
  await expect(page.getByTestId('model-name')).toHaveText('stories260K', { timeout: 60_000 });
  await expect(page.getByTestId('load-error')).toHaveCount(0);
}

async function setParams(page: Page, p: { temperature: number; steps: number; seed?: number }): Promise<void> {
  await page.getByTestId('param-temperature').fill(String(p.temperature));
  await page.getByTestId('param-steps').fill(String(p.steps));
  if (p.seed !== undefined) await page.getByTestId('param-seed').fill(String(p.seed));
  await expect(page.getByTestId('param-kvCache')).toBeChecked();
}

/** Drops files onto the drop zone, as a user dragging them from a file manager would. */
async function dropFiles(page: Page, files: { name: string; bytes: Buffer }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, b64: f.bytes.toString('base64') }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (ch) => ch.charCodeAt(0))], f.name));
    return dt;
  }, payload);
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
}

/** Token ids as the DOM shows them: the prompt's (after the run ends) and one span per generated token. */
async function domTokenIds(page: Page): Promise<{ prompt: number[]; generated: number[] }> {
  const promptAttr = (await page.getByTestId('output-prompt').getAttribute('data-prompt-token-ids')) ?? '';
  const generated = await page.locator('[data-testid=output] [data-token-id]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.tokenId)));
  return { prompt: promptAttr.split(' ').filter(Boolean).map(Number), generated };
}

/** The tokens came from the engine Worker, and that Worker has a WebGPU adapter. */
async function expectWorkerOnWebGpu(page: Page): Promise<void> {
  const worker = page.workers().find((w) => w.url().includes('engine.worker'));
  expect(worker, 'the engine Worker is running').toBeDefined();
  expect(await worker!.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null)).toBe(true);
}

// One test per golden prompt: each is ~200 iterations on SwiftShader (a minute or more on a busy machine).
for (const [i, c] of golden.cases.entries()) {
  test(`reproduces llama2.c’s greedy tokens for ${JSON.stringify(c.prompt)}, ${golden.steps} steps, loaded through the file picker`, async ({ page }) => {
    await openWithStories(page);
    await setParams(page, { temperature: 0, steps: golden.steps });
    const output = page.getByTestId('output');
    await page.getByTestId('prompt-input').fill(c.prompt);
    // Alternate the two ways to start: the button, and Ctrl+Enter from the prompt box.
    if (i % 2 === 0) await page.getByTestId('generate').click();
    else await page.getByTestId('prompt-input').press('Control+Enter');
    await expect(output).toHaveAttribute('data-state', 'running');
    await expect(output).toHaveAttribute('data-state', 'done', { timeout: 400_000 });

    const ids = await domTokenIds(page);
    expect(ids.prompt, 'prompt tokens (BOS first)').toEqual(c.promptTokenIds);
    expect([...ids.prompt, ...ids.generated], 'every token').toEqual(c.tokenIds);
    await expect(output).toHaveAttribute('data-stop-reason', c.stop === 'steps' ? 'max-tokens' : 'eos');
    // The text shown: the prompt as typed, then each token's piece. run.c prints a byte token only when it is
    // printable ASCII, so with a non-ASCII prompt only the generated part is compared.
    const shown = await output.evaluate((el) => [...el.querySelectorAll('.prompt, [data-token-id]')].map((e) => e.textContent).join(''));
    if (/^[\x20-\x7e]*$/.test(c.prompt)) expect(shown).toBe(c.text);
    else expect(c.text.endsWith(shown.slice(c.prompt.length))).toBe(true);
    // Each token span shows its id and piece on hover.
    await expect(output.locator('[data-token-id]').first()).toHaveAttribute('title', /^id \d+ · '.*'$/s);

    // The engine counted GPU dispatches for every token, and its stats agree with the DOM.
    expect(Number(await page.getByTestId('stat-dispatches').getAttribute('data-value'))).toBeGreaterThan(0);
    await expect(page.getByTestId('stat-generated')).toHaveAttribute('data-value', String(ids.generated.length));
    await expectWorkerOnWebGpu(page);
  });
}

test('Stop during a long generation ends it', async ({ page }) => {
  await openWithStories(page);
  // Greedy from this prompt meets no BOS in its first 200 steps (golden), so only Stop can end it early.
  await setParams(page, { temperature: 0, steps: 512 }); // 512 = stories260K's whole context
  await page.getByTestId('prompt-input').fill('Once upon a time');
  await page.getByTestId('generate').click();

  const output = page.getByTestId('output');
  const tokens = output.locator('[data-token-id]');
  await expect(output).toHaveAttribute('data-state', 'running');
  await expect.poll(() => tokens.count(), { timeout: 120_000 }).toBeGreaterThanOrEqual(5);
  const stop = page.getByTestId('stop');
  await expect(stop).toBeEnabled();
  await stop.click();

  await expect(output).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(output).toHaveAttribute('data-stop-reason', 'stopped');
  const n = await tokens.count();
  expect(n).toBeGreaterThanOrEqual(5);
  expect(n).toBeLessThan(512 - 5); // far from the step limit: the run ended because of Stop
  await expect(page.getByTestId('stat-generated')).toHaveAttribute('data-value', String(n));
  // What was generated before Stop is the golden greedy text so far.
  const once = golden.cases.find((c) => c.prompt === 'Once upon a time')!;
  const ids = await domTokenIds(page);
  expect([...ids.prompt, ...ids.generated]).toEqual(once.tokenIds.slice(0, once.promptTokenIds.length + n));
  await expect(stop).toBeDisabled();
  await expect(page.getByTestId('generate')).toBeEnabled();
  expect(Number(await page.getByTestId('stat-dispatches').getAttribute('data-value'))).toBeGreaterThan(0);
  await expectWorkerOnWebGpu(page);
});

test('a dropped bad file shows its error code, and the loaded model stays', async ({ page }) => {
  await openWithStories(page);
  const bin = readFileSync(MODEL_FILES[0]!);
  const tok = readFileSync(MODEL_FILES[1]!);
  // The checkpoint cut short by 100 bytes: the header implies more than the file holds.
  await dropFiles(page, [
    { name: 'stories260K.bin', bytes: bin.subarray(0, bin.length - 100) },
    { name: 'tok512.bin', bytes: tok },
  ]);
  const error = page.getByTestId('load-error');
  await expect(error).toHaveAttribute('data-code', 'llama2c-size-mismatch', { timeout: 60_000 });
  await expect(error).toContainText('stories260K.bin');
  await expect(error).toContainText('stories260K is still loaded');
  await expect(page.getByTestId('model-name')).toHaveText('stories260K');

  // And the kept model still generates.
  await setParams(page, { temperature: 0, steps: 12 });
  const c = golden.cases[0]!;
  await page.getByTestId('prompt-input').fill(c.prompt);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  const ids = await domTokenIds(page);
  expect([...ids.prompt, ...ids.generated]).toEqual(c.tokenIds.slice(0, 12 + 1));
});

test('a URL load shows its progress, Cancel stops it, and a served .bin URL loads', async ({ page, baseURL }) => {
  await openWithStories(page);
  // A server that never answers: the load waits in its download phase until cancelled.
  await page.route('**/hang/**', () => {});
  const url = page.getByLabel('URL or repo');
  await url.fill(`${baseURL}/hang/stories260K.bin`);
  await url.press('Enter');
  const progress = page.getByTestId('load-progress');
  await expect(progress).toContainText('Loading');
  await progress.getByRole('button', { name: 'Cancel' }).click();
  await expect(progress).toHaveCount(0, { timeout: 30_000 });
  await expect(page.getByTestId('load-notice')).toHaveText('Loading cancelled; stories260K is still loaded.');
  await expect(page.getByTestId('load-error')).toHaveCount(0);

  // A llama2.c checkpoint URL, with its tokenizer.bin beside it, fetched by the Worker.
  const [bin, tok] = MODEL_FILES.map((f) => readFileSync(f));
  const served: string[] = [];
  for (const [name, body] of [['stories260K.bin', bin!], ['tokenizer.bin', tok!]] as const) {
    await page.route(`**/served/${name}`, (route) => (served.push(name), route.fulfill({ body, contentType: 'application/octet-stream' })));
  }
  await url.fill(`${baseURL}/served/stories260K.bin`);
  await url.press('Enter');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  expect(served.sort()).toEqual(['stories260K.bin', 'tokenizer.bin']);
  await expect(page.getByTestId('load-error')).toHaveCount(0);
  await expect(page.getByTestId('model-name')).toHaveText('stories260K');
});

test('Step runs one iteration at a time, on a model loaded by drag and drop', async ({ page }) => {
  await page.goto('/#/lab');
  await expect(page.getByTestId('lab-adapter')).not.toBeEmpty({ timeout: 60_000 });
  await expect(page.getByTestId('model-status')).not.toHaveAttribute('data-state', 'loading', { timeout: 120_000 });
  await dropFiles(page, MODEL_FILES.map((f) => ({ name: path.basename(f), bytes: readFileSync(f) })));
  await expect(page.getByTestId('model-name')).toHaveText('stories260K', { timeout: 60_000 });
  await setParams(page, { temperature: 0, steps: golden.steps });
  const c = golden.cases[0]!;
  await page.getByTestId('prompt-input').fill(c.prompt);
  const output = page.getByTestId('output');
  const tokens = output.locator('[data-token-id]');
  const step = page.getByTestId('step');

  // The first step prefills the prompt and samples the first token; each later step decodes one more.
  for (let n = 1; n <= 3; n++) {
    await step.click();
    await expect(tokens).toHaveCount(n, { timeout: 60_000 });
    await expect(page.getByTestId('generate')).toHaveText('Continue');
  }
  const expected = c.tokenIds.slice(c.promptTokenIds.length, c.promptTokenIds.length + 3);
  expect(await tokens.evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.tokenId)))).toEqual(expected);
  expect(Number(await page.getByTestId('stat-ttft').getAttribute('data-value'))).toBeGreaterThan(0);

  await page.getByTestId('stop').click();
  await expect(output).toHaveAttribute('data-stop-reason', 'stopped');
  await expect(tokens).toHaveCount(3);
});

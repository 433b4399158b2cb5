// Pretends to be lessons/__fixture__.ts: a lesson running code from the GPU layer. Lint must fail.
import { acquireGpu } from '../gpu/device.ts';

export const lesson = { title: 'not data', run: () => acquireGpu(undefined) };

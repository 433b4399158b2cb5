// Pretends to be web/__fixture__.ts: a UI file reaching into the GPU layer. Lint must fail.
import { acquireGpu } from '../gpu/device.ts';

export const probe = () => acquireGpu(navigator.gpu);

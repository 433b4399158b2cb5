// Pretends to be gpu/kernels/__fixture__.ts: the GPU layer importing the engine. Lint must fail.
import { Rng } from '../../workers/sampling/rng.ts';

export const seedOf = (rng: Rng) => rng.next();

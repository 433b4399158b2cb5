// Pretends to be workers/engine/__fixture__.ts: the engine importing the UI. Lint must fail.
import { EngineSession } from '../../web/lib/engine-session.svelte.ts';

export const make = () => new EngineSession();

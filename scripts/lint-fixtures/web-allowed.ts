// Pretends to be web/lib/__fixture__.ts: everything web/ is allowed to import. Lint must pass.
import * as Comlink from 'comlink';
import type { EngineApi } from '../../workers/api.ts';
import type { TraceEvent } from '../../workers/engine/trace.ts';
import type { GpuCapabilities } from '../../gpu/device.ts';
import EngineWorker from '../../workers/engine.worker.ts?worker';

export function connect(): { engine: Comlink.Remote<EngineApi>; events: TraceEvent[]; caps: GpuCapabilities | null } {
  return { engine: Comlink.wrap<EngineApi>(new EngineWorker()), events: [], caps: null };
}

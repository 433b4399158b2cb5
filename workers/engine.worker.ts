// The Worker entry: exposes one in-thread Engine through comlink, and nothing else. The UI wraps it with
// Comlink.wrap<EngineApi>() and receives trace events through subscribe(Comlink.proxy(sink)).
// No engine logic here; never imports web/.

import * as Comlink from 'comlink';
import { Engine } from './engine/engine.ts';

declare const self: DedicatedWorkerGlobalScope;

Comlink.expose(
  new Engine({
    gpu: async () => self.navigator.gpu ?? undefined, // absent in insecure contexts and browsers without WebGPU
    secureContext: self.isSecureContext,
    // Bundled models are served from the app's root (public/models/), not beside this script in assets/.
    load: { baseUrl: new URL(import.meta.env.BASE_URL, self.location.origin).href },
  }),
);

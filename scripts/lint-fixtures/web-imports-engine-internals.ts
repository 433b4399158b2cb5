// Pretends to be web/lib/__fixture__.ts: a UI file importing engine code instead of going through EngineApi.
import { probeCapabilities } from '../../workers/engine/capabilities.ts';

export const probe = () => probeCapabilities(navigator.gpu, true);

import { acquireNodeGpu } from './gpu/node.ts';
const ctx = await acquireNodeGpu();
console.log(ctx.capabilities.adapter);
const b = ctx.allocateNow({label:'a', owner:'t', size: 64, usage: GPUBufferUsage.STORAGE|GPUBufferUsage.COPY_SRC, data: new Float32Array(16).fill(2)});
console.log(new Float32Array(await ctx.read(b)));
ctx.dispose();
console.log('disposed');

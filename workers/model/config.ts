// The engine's description of a Llama-architecture model, whatever file it came from (Hugging Face
// config.json or a llama2.c header). Plain data; imports nothing.

export interface ModelConfig {
  /** Where it came from, for messages: "stories260K.bin", "decode-lab-target/config.json". */
  source: string;
  dim: number; // model width
  hiddenDim: number; // SwiGLU inner width
  nLayers: number;
  nHeads: number;
  nKvHeads: number; // < nHeads: grouped-query attention
  headDim: number; // usually dim / nHeads
  vocabSize: number;
  maxSeqLen: number; // context length
  ropeTheta: number; // 10000 for llama2.c
  /**
   * Which dimensions RoPE rotates together. 'interleaved': (2i, 2i+1), as llama2.c's run.c does.
   * 'half': (i, i + headDim/2), as Hugging Face's LlamaModel (rotate_half) does.
   */
  ropeStyle: 'interleaved' | 'half';
  normEps: number; // RMSNorm epsilon: 1e-5 in llama2.c
  tiedEmbeddings: boolean; // classifier shares the token embedding table
  bosTokenId: number;
  eosTokenId: number;
}

/**
 * Canonical tensor names and shapes (row-major, PyTorch Linear layout: [out, in]). Every loader maps its
 * file's names onto these.
 *   tok_embeddings            [vocabSize, dim]
 *   layers.{l}.attention_norm [dim]
 *   layers.{l}.wq             [nHeads·headDim, dim]
 *   layers.{l}.wk             [nKvHeads·headDim, dim]
 *   layers.{l}.wv             [nKvHeads·headDim, dim]
 *   layers.{l}.wo             [dim, nHeads·headDim]
 *   layers.{l}.ffn_norm       [dim]
 *   layers.{l}.w1             [hiddenDim, dim]   (gate)
 *   layers.{l}.w2             [dim, hiddenDim]   (down)
 *   layers.{l}.w3             [hiddenDim, dim]   (up)
 *   norm                      [dim]
 *   output                    [vocabSize, dim]   (absent when tiedEmbeddings)
 */
export function expectedShapes(c: ModelConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  shapes.set('tok_embeddings', [c.vocabSize, c.dim]);
  for (let l = 0; l < c.nLayers; l++) {
    shapes.set(`layers.${l}.attention_norm`, [c.dim]);
    shapes.set(`layers.${l}.wq`, [qDim, c.dim]);
    shapes.set(`layers.${l}.wk`, [kvDim, c.dim]);
    shapes.set(`layers.${l}.wv`, [kvDim, c.dim]);
    shapes.set(`layers.${l}.wo`, [c.dim, qDim]);
    shapes.set(`layers.${l}.ffn_norm`, [c.dim]);
    shapes.set(`layers.${l}.w1`, [c.hiddenDim, c.dim]);
    shapes.set(`layers.${l}.w2`, [c.dim, c.hiddenDim]);
    shapes.set(`layers.${l}.w3`, [c.hiddenDim, c.dim]);
  }
  shapes.set('norm', [c.dim]);
  if (!c.tiedEmbeddings) shapes.set('output', [c.vocabSize, c.dim]);
  return shapes;
}

/** A loaded, validated model on the CPU: every canonical tensor as f32. */
export interface ModelWeights {
  config: ModelConfig;
  tensors: Map<string, Float32Array>;
}

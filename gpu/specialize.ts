// specialize(src, values): fills `{{NAME}}` tokens in WGSL for what `override` constants cannot express
// (element type, vector width). Throws on a token left unfilled or a value no token asks for. Imports nothing.

const TOKEN = /\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g;

export function specialize(src: string, values: Readonly<Record<string, string | number>>): string {
  const used = new Set<string>();
  const out = src.replace(TOKEN, (_match, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`specialize: token {{${name}}} has no value`);
    used.add(name);
    return String(values[name]);
  });
  for (const name of Object.keys(values)) {
    if (!used.has(name)) throw new Error(`specialize: value "${name}" matches no {{${name}}} token in the shader`);
  }
  return out;
}

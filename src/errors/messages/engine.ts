/** Messages for the engine: models, graphs, runtime, pipelines (src/engine). */
export const engineMessages = {
  'engine.unsupported-config': (d: { file: string; key: string; value: unknown; supported: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is not supported (supported: ${d.supported}).`,
};

/** Messages for the engine: models, graphs, runtime, pipelines (src/engine). */
export const engineMessages = {
  'runtime.unknown-device': (d: { value: string; known: readonly string[] }) =>
    `ZIPBANK_DEVICE=${d.value} is not a device; use one of ${d.known.join(', ')} (auto tries CUDA, then WebGPU, then CPU).`,
  'runtime.provider-unavailable': (d: { provider: string; reason: string }) =>
    `the ${d.provider} execution provider was asked for but does not work here: ${d.reason}. ` +
    `Fix that, or set ZIPBANK_DEVICE=auto (falls back to what works) or ZIPBANK_DEVICE=cpu.`,
  'runtime.session-failed': (d: { model: string; provider: string; reason: string }) =>
    `cannot load model ${d.model} on ${d.provider}: ${d.reason}`,
  'runtime.run-failed': (d: { model: string; provider: string; op: string | undefined; node: string | undefined; reason: string }) =>
    d.node !== undefined
      ? `model ${d.model} failed on ${d.provider} in ${d.op} node "${d.node}": ${d.reason}`
      : `model ${d.model} failed on ${d.provider}: ${d.reason}`,
  'runtime.bad-input': (d: { model: string; input: string; reason: string }) =>
    `model ${d.model}: input "${d.input}" is wrong: ${d.reason}.`,
  'runtime.unknown-name': (d: { model: string; kind: 'input' | 'output'; name: string; known: readonly string[] }) =>
    `model ${d.model} has no ${d.kind} "${d.name}"; its ${d.kind}s are: ${d.known.join(', ')}.`,
  'runtime.bad-tensor': (d: { dtype: string; dims: number[]; reason: string }) =>
    `cannot make a ${d.dtype} tensor of shape [${d.dims.join(', ')}]: ${d.reason}.`,
  'onnx.bad-model': (d: { model: string; reason: string }) =>
    `${d.model} is not a readable ONNX model (${d.reason}). Export it again or check that the file is complete.`,
  'onnx.bad-attribute': (d: { name: string; value: string }) =>
    `attribute ${d.name} = ${d.value} has no ONNX attribute type; use a number, string, array, or an attr.* wrapper.`,
  'onnx.unsupported-dtype': (d: { what: string; dtype: string }) =>
    `${d.what} has element type ${d.dtype}, which zipbank cannot use here.`,
  'onnx.unsupported-opset': (d: { opset: number; supported: string }) =>
    `ONNX opset ${d.opset} is not supported by the graph builder (supported: ${d.supported}).`,
  'onnx.external-data': (d: { tensor: string; reason: string }) =>
    `the external data of tensor ${d.tensor} is unusable: ${d.reason}. Check that the weight files are complete and next to the model.`,
  'onnx.invalid-op': (d: { graph: string; op: string; scope: string; reason: string }) =>
    `graph ${d.graph}, ${d.scope}: cannot build ${d.op}: ${d.reason}.`,
  'onnx.duplicate-name': (d: { graph: string; name: string }) =>
    `graph ${d.graph}: the name ${d.name} is used twice; give the input, initializer or output another name.`,
  'onnx.foreign-value': (d: { graph: string; value: string; op: string }) =>
    `graph ${d.graph}: ${d.op} was given ${d.value}, a value of another graph.`,
  'onnx.dynamic-shape': (d: { graph: string; value: string; shape: string }) =>
    `graph ${d.graph}: ${d.value} has shape ${d.shape}, but a static size is needed here; give the graph inputs static sizes.`,
  'onnx.missing-weight': (d: { graph: string; name: string; source: string }) =>
    `graph ${d.graph} needs weight ${d.name}, which ${d.source} does not have. Check that the weight files match the model config.`,
  'onnx.weight-shape': (d: { name: string; expected: number[]; actual: number[]; source: string }) =>
    `weight ${d.name} in ${d.source} has shape [${d.actual.join(', ')}], but the model config needs [${d.expected.join(', ')}]. ` +
    `The weights and config.json are from different models.`,
  'image.unreadable': (d: { file: string; reason: string }) =>
    `${d.file} is not a readable image (${d.reason}). Send a PNG, JPEG or WebP file.`,
  'image.format': (d: { file: string; format: string }) =>
    `${d.file} is a ${d.format} image; zipbank accepts PNG, JPEG and WebP.`,
  'image.too-large': (d: { file: string; detail: string }) => `${d.file} has an unsupported size: ${d.detail}.`,
  'engine.unsupported-config': (d: { file: string; key: string; value: unknown; supported: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is not supported (supported: ${d.supported}).`,
  'scheduler.unknown': (d: { name: string | undefined; known: readonly string[] }) =>
    d.name === undefined
      ? `the scheduler config names no class (_class_name) and none was asked for; choose one of: ${d.known.join(', ')}.`
      : `unknown scheduler "${d.name}"; zipbank knows: ${d.known.join(', ')}.`,
  'scheduler.bad-json': (d: { file: string; reason: string }) =>
    `${d.file} is not valid JSON (${d.reason}). Use the scheduler/scheduler_config.json of a diffusers model folder.`,
  'scheduler.io': (d: { file: string; reason: string }) => `cannot read ${d.file}: ${d.reason}`,
  'scheduler.invalid-config': (d: { file: string; key: string; value: unknown; expected: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}. Fix the scheduler config.`,
  'scheduler.unsupported-option': (d: { scheduler: string; key: string; value: unknown; supported: string }) =>
    `${d.scheduler}: ${d.key} = ${JSON.stringify(d.value)} is not supported (supported: ${d.supported}). Change the scheduler config or pick another scheduler.`,
  'scheduler.invalid-steps': (d: { scheduler: string; steps: unknown; reason: string }) =>
    `${d.scheduler}: ${JSON.stringify(d.steps)} inference steps is invalid: ${d.reason}.`,
  'scheduler.invalid-timesteps': (d: { scheduler: string; reason: string }) =>
    `${d.scheduler}: cannot set these timesteps: ${d.reason}.`,
  'scheduler.not-ready': (d: { scheduler: string }) =>
    `${d.scheduler}: call setTimesteps() before stepping or adding noise.`,
  'scheduler.unknown-timestep': (d: { scheduler: string; timestep: number }) =>
    `${d.scheduler}: timestep ${d.timestep} is not in the schedule. Pass the values of scheduler.timesteps.`,
  'scheduler.size-mismatch': (d: { scheduler: string; what: string; expected: number; actual: number }) =>
    `${d.scheduler}: ${d.what} has ${d.actual} values but the sample has ${d.expected}.`,
  'scheduler.needs-noise': (d: { scheduler: string }) =>
    `${d.scheduler} adds fresh noise at every step: pass a seeded normal generator (rng) or the noise itself.`,
  'scheduler.plms-too-early': (d: { scheduler: string; residuals: number }) =>
    `${d.scheduler}: a PLMS step needs at least 3 earlier residuals from the Runge-Kutta warm-up (it has ${d.residuals}). ` +
    `Run the PRK steps first, or set skip_prk_steps.`,
  'scheduler.invalid-batch': (d: { scheduler: string; length: number; batchSize: number }) =>
    `${d.scheduler}: a sample of ${d.length} values cannot be split into ${d.batchSize} batch items.`,
  'scheduler.invalid-seed': (d: { seed: unknown }) =>
    `seed ${String(d.seed)} is invalid: use an integer from 0 to 2^64 - 1.`,
  'pipeline.bad-size': (d: { what: 'width' | 'height'; value: number; multiple: number; why: string }) =>
    `${d.what} ${d.value} is not usable: it must be a positive multiple of ${d.multiple} (${d.why}). ` +
    `Try ${Math.max(d.multiple, Math.round(d.value / d.multiple) * d.multiple)}.`,
  'pipeline.bad-option': (d: { option: string; value: unknown; expected: string }) =>
    `${d.option} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}.`,
  'pipeline.aborted': (d: { step: number; total: number }) =>
    d.step === 0 ? `the render was cancelled before its first step.` : `the render was cancelled after step ${d.step} of ${d.total}.`,
  'pipeline.missing-part': (d: { folder: string; part: string; reason: string }) =>
    `${d.folder} cannot render images: ${d.part} ${d.reason}. A text-to-image folder needs unet/, vae/, text_encoder/ (and text_encoder_2/ for SDXL), their tokenizers and scheduler/.`,
  'model.invalid-config': (d: { file: string; key: string; value: unknown; expected: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}. Fix the config.json.`,
  'model.inconsistent-config': (d: { file: string; reason: string }) =>
    `${d.file} does not describe a buildable model: ${d.reason}.`,
  'model.missing-file': (d: { folder: string; file: string; reason: string }) =>
    `${d.folder}: cannot read ${d.file} (${d.reason}). A diffusers model folder needs model_index.json and a config.json per component.`,
  'model.no-bundled': (d: { dir: string }) =>
    `no model was given and the bundled model is missing (${d.dir}/model_index.json); pass --model <folder> or restore it with git checkout models/world (or train it again: npm run train:world).`,
  'model.unknown-preset': (d: { preset: string; known: readonly string[] }) =>
    `unknown model preset "${d.preset}"; known presets: ${d.known.join(', ')}.`,
  'model.missing-weights': (d: { folder: string; component: string; tried: readonly string[]; found: readonly string[] }) =>
    `${d.folder}: no ${d.component} weights: none of ${d.tried.join(', ')} exists` +
    (d.found.length ? ` (found ${d.found.join(', ')}; zipbank reads .safetensors only: .bin/.ckpt files are pickles, convert them first)` : '') +
    `. Pick another variant (fp16, fp32, auto) or download the component's weights.`,
  'model.missing-tensor': (d: { file: string; tensor: string; shape: readonly number[]; more: number }) =>
    `${d.file}: missing tensor ${d.tensor} [${d.shape.join(', ')}]${d.more ? ` (and ${d.more} more)` : ''}. ` +
    `The weights do not match the component's config.json (another model, or an incomplete file).`,
  'model.unexpected-tensor': (d: { file: string; tensor: string; more: number }) =>
    `${d.file}: unexpected tensor ${d.tensor}${d.more ? ` (and ${d.more} more)` : ''}: the component's config.json describes no such weight. ` +
    `The weights and config.json are from different models.`,
  'model.tensor-shape': (d: { file: string; tensor: string; actual: readonly number[]; expected: readonly number[] }) =>
    `${d.file}: tensor ${d.tensor} has shape [${d.actual.join(', ')}], the config expects [${d.expected.join(', ')}]. ` +
    `The weights and config.json are from different models.`,
  'model.tensor-dtype': (d: { file: string; tensor: string; dtype: string }) =>
    `${d.file}: tensor ${d.tensor} is ${d.dtype}; model weights must be F32, F16 or BF16.`,
  'model.bad-shard-index': (d: { file: string; reason: string }) =>
    `${d.file} is not a usable shard index: ${d.reason}. Download the index and its shards again.`,
  'model.output-not-empty': (d: { dir: string }) =>
    `${d.dir} already exists and is not empty. Choose a new folder (zipbank does not overwrite models).`,
  'model.random-preset': (d: { preset: string; supported: readonly string[] }) =>
    `cannot write a random model for preset "${d.preset}"; supported: ${d.supported.join(', ')}.`,
  'tokenizer.missing-file': (d: { dir: string; file: string }) =>
    `${d.dir} has no ${d.file}. A CLIP tokenizer folder holds vocab.json and merges.txt (and usually special_tokens_map.json and tokenizer_config.json); ` +
    `in a diffusers model folder it is the tokenizer/ subfolder (SDXL also has tokenizer_2/).`,
  'tokenizer.io': (d: { file: string; reason: string }) => `cannot read ${d.file}: ${d.reason}`,
  'tokenizer.bad-json': (d: { file: string; reason: string }) =>
    `${d.file} is not valid JSON (${d.reason}). Download the tokenizer files again.`,
  'tokenizer.bad-vocab': (d: { file: string; reason: string }) =>
    `${d.file} is not a CLIP BPE vocabulary: ${d.reason}. Use the vocab.json shipped with the model's tokenizer folder.`,
  'tokenizer.bad-merges': (d: { file: string; line: number; reason: string }) =>
    `${d.file}, line ${d.line}: ${d.reason}. merges.txt must hold one "left right" pair per line, matching vocab.json.`,
  'tokenizer.unknown-special-token': (d: { dir: string; role: string; token: string }) =>
    `${d.dir}: the ${d.role} token ${JSON.stringify(d.token)} is not in vocab.json. Check special_tokens_map.json and tokenizer_config.json.`,
  'tokenizer.invalid-max-length': (d: { maxLength: unknown }) =>
    `max length ${JSON.stringify(d.maxLength)} is invalid: it must be an integer of at least 2 (room for the start and end tokens).`,
  'tokenizer.unknown-id': (d: { id: number; vocabSize: number }) =>
    `token id ${d.id} is not in the vocabulary (ids run from 0 to ${d.vocabSize - 1}).`,
  'onnx.no-gradient': (d: { op: string; node: string; reason: string }) =>
    `cannot differentiate ${d.op} node "${d.node}": ${d.reason}. Differentiate with respect to tensors that do not flow through it, or extend src/engine/onnx/autodiff with a rule.`,
  'onnx.bad-gradient-request': (d: { reason: string }) =>
    `cannot build the gradient graph: ${d.reason}.`,
  'onnx.infer-failed': (d: { graph: string; node: string; op: string; reason: string }) =>
    `cannot infer the shapes of graph ${d.graph} at node "${d.node}" (${d.op}): ${d.reason}. ` +
    `Check the input sizes given for the graph inputs, or teach src/engine/onnx/infer.ts this case.`,
  'train.bad-option': (d: { option: string; value: string; expected: string }) =>
    `LoRA training: ${d.option} ${d.value} is not usable: use ${d.expected}.`,
  'ziplora.bad-option': (d: { option: string; value: string; expected: string }) =>
    `ZipLoRA ${d.option} ${d.value} is not usable: use ${d.expected}.`,
  'ziplora.no-unet-modules': (d: { files: string[] }) =>
    `${d.files.join(' and ')} adapt no UNet module, so there is nothing to zip (ZipLoRA learns mergers for the UNet's LoRA layers). Check that these are image-model LoRAs with UNet weights.`,
};

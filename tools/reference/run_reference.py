#!/usr/bin/env python3
"""Reference outputs of a diffusers-layout model folder, computed by diffusers + transformers.

Builds each component (UNet2DConditionModel, CLIPTextModel / CLIPTextModelWithProjection,
AutoencoderKL) from its config.json, loads its safetensors weights strictly, runs it in
float32 on deterministic inputs and writes inputs and outputs to one JSON file that
test/engine/models/reference.test.ts compares our ONNX graphs against.

Developer tooling only: it needs torch, diffusers and transformers importable (see
tools/reference/README.md). Nothing in the product or in CI runs it.

Example:
    python3 tools/reference/run_reference.py --model /tmp/zbref/tiny-sd15 \\
        --preset tiny-sd15 --seed 1 --out test/fixtures/reference/tiny-sd15.json
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

FORMAT = "zipbank-reference/1"
PROMPTS = ["a photo of a corgi", ""]
BOS, EOS = 49406, 49407
# SD 1.x tokenizers (and SDXL's first) pad with EOS; SDXL's tokenizer_2 pads with "!" (id 0).
PAD_ID = {"text_encoder": EOS, "text_encoder_2": 0}
TIMESTEPS = [981.0, 37.5]
SIGNIFICANT = 7

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    """name -> float32 numpy array, read with numpy alone (F32, F16, F64, BF16)."""
    with open(path, "rb") as f:
        blob = f.read()
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = blob[base + start : base + end]
        dtype = info["dtype"]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in ST_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(ST_DTYPES[dtype]).newbyteorder("<"))
        else:
            raise SystemExit(f"{path}: tensor {name} has unsupported dtype {dtype}")
        tensors[name] = arr.astype(np.float32).reshape(info["shape"])
    return tensors


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def round_sig(a):
    """Values as stored in the JSON: 7 significant digits, then back to float32."""
    a = np.asarray(a, dtype=np.float64)
    return np.array([float(f"{x:.{SIGNIFICANT}g}") for x in a.ravel()], dtype=np.float32).reshape(a.shape)


def exact_float32(v):
    """The shortest of 7 or 9 significant digits that parses (decimal -> double -> float32) back to v."""
    v = np.float32(v)
    for digits in (SIGNIFICANT, 9):
        x = float(f"{float(v):.{digits}g}")
        if np.float32(x) == v:
            return x
    raise AssertionError(f"{v!r} does not round-trip")


def encode_array(a, exact=False):
    """exact: inputs, whose stored decimals must give back the very float32 values the reference ran on."""
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        return {"dtype": "int64", "shape": list(a.shape), "data": [int(x) for x in a.ravel()]}
    flat = np.asarray(a, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise SystemExit("non-finite value in an output: the weights' scale is broken")
    data = [exact_float32(x) for x in flat] if exact else [float(f"{x:.{SIGNIFICANT}g}") for x in flat]
    return {"dtype": "float32", "shape": list(a.shape), "data": data}


def stats(a):
    a = np.asarray(a, dtype=np.float64)
    return {"mean": round(float(a.mean()), 6), "std": round(float(a.std()), 6), "max_abs": round(float(np.abs(a).max()), 6)}


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tokenize_words(text, vocab, pad_id, length):
    """Ids of a prompt whose words are all single whole-word tokens of the CLIP vocabulary."""
    ids = [BOS]
    for word in text.lower().split():
        token = f"{word}</w>"
        if token not in vocab:
            raise SystemExit(f'"{word}" is not one whole-word token; pick another prompt')
        ids.append(vocab[token])
    ids.append(EOS)
    return ids + [pad_id] * (length - len(ids))


class Component:
    def __init__(self, folder, name, weight_file):
        self.name = name
        self.dir = os.path.join(folder, name)
        self.config = load_json(os.path.join(self.dir, "config.json"))
        self.weight_path = os.path.join(self.dir, weight_file)
        self.weight_rel = f"{name}/{weight_file}"

    def load_into(self, module):
        import torch

        state = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(self.weight_path).items()}
        result = module.load_state_dict(state, strict=True)
        if result.missing_keys or result.unexpected_keys:
            raise SystemExit(f"{self.name}: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
        return module.eval()


def run_double(module, fn):
    """fn(module) in float64 on a copy, to show the float32 reference's own rounding error."""
    import copy

    import torch

    twin = copy.deepcopy(module).double()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # transformers builds its causal mask with torch.full's default dtype
    try:
        with torch.no_grad():
            return fn(twin, torch.float64)
    finally:
        torch.set_default_dtype(previous)


def deviation(a32, a64):
    a32 = np.asarray(a32, dtype=np.float64)
    a64 = np.asarray(a64, dtype=np.float64)
    return float(np.abs(a32 - a64).max() / max(np.abs(a64).max(), 1e-30))


def run_clip(comp, vocab, length):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = dict(comp.config)
    arch = (cfg.get("architectures") or ["CLIPTextModel"])[0]
    config = CLIPTextConfig(**cfg)
    cls = CLIPTextModelWithProjection if arch == "CLIPTextModelWithProjection" else CLIPTextModel
    model = comp.load_into(cls(config))
    ids = np.array([tokenize_words(p, vocab, PAD_ID[comp.name], length) for p in PROMPTS], dtype=np.int64)

    def forward(m, dtype):
        t = torch.from_numpy(ids)
        base = m.text_model(input_ids=t, output_hidden_states=True)
        out = {
            "last_hidden_state": base.last_hidden_state,
            "penultimate_hidden_state": base.hidden_states[-2],
            "pooled_output": base.pooler_output,
        }
        if cls is CLIPTextModelWithProjection:
            out["text_embeds"] = m(input_ids=t).text_embeds
        return {k: v.to(torch.float64).numpy() for k, v in out.items()}

    with torch.no_grad():
        outputs = forward(model, torch.float32)
    return {"class": arch, "inputs": {"input_ids": ids}}, outputs, run_double(model, forward)


def run_unet(comp, rng, latent_hw, seq_len):
    import torch
    from diffusers import UNet2DConditionModel

    cfg = comp.config
    model = comp.load_into(UNet2DConditionModel.from_config(cfg))
    batch = len(TIMESTEPS)
    cross = cfg["cross_attention_dim"]
    cross = cross[0] if isinstance(cross, list) else cross
    inputs = {
        "sample": round_sig(rng.standard_normal((batch, cfg["in_channels"], latent_hw, latent_hw))),
        "timestep": np.array(TIMESTEPS, dtype=np.float32),
        "encoder_hidden_states": round_sig(rng.standard_normal((batch, seq_len, cross))),
    }
    if cfg.get("addition_embed_type") == "text_time":
        pooled = cfg["projection_class_embeddings_input_dim"] - 6 * cfg["addition_time_embed_dim"]
        inputs["text_embeds"] = round_sig(rng.standard_normal((batch, pooled)))
        side = 8.0 * latent_hw
        inputs["time_ids"] = np.array([[side, side, 0, 0, side, side], [side * 2, side, 16, 8, side, side]], dtype=np.float32)

    def forward(m, dtype):
        t = {k: torch.from_numpy(v).to(dtype) for k, v in inputs.items()}
        added = {"text_embeds": t["text_embeds"], "time_ids": t["time_ids"]} if "text_embeds" in t else None
        out = m(t["sample"], t["timestep"], encoder_hidden_states=t["encoder_hidden_states"], added_cond_kwargs=added)
        return {"out_sample": out.sample.to(torch.float64).numpy()}

    with torch.no_grad():
        outputs = forward(model, torch.float32)
    return {"class": "UNet2DConditionModel", "inputs": inputs}, outputs, run_double(model, forward)


def run_vae(comp, rng, latent_hw):
    import torch
    from diffusers import AutoencoderKL

    cfg = comp.config
    model = comp.load_into(AutoencoderKL.from_config(cfg))
    factor = 2 ** (len(cfg["block_out_channels"]) - 1)
    latent = round_sig(rng.standard_normal((1, cfg["latent_channels"], latent_hw, latent_hw)))
    image = round_sig(np.clip(rng.standard_normal((1, cfg["in_channels"], latent_hw * factor, latent_hw * factor)) * 0.5, -1, 1))

    def decode(m, dtype):
        return {"sample": m.decode(torch.from_numpy(latent).to(dtype)).sample.to(torch.float64).numpy()}

    def encode(m, dtype):
        dist = m.encode(torch.from_numpy(image).to(dtype)).latent_dist
        return {"mean": dist.mean.to(torch.float64).numpy(), "logvar": dist.logvar.to(torch.float64).numpy()}

    with torch.no_grad():
        dec, enc = decode(model, torch.float32), encode(model, torch.float32)
    meta = {"class": "AutoencoderKL", "scaling_factor": cfg.get("scaling_factor")}
    return [
        ("vae_decoder", {**meta, "inputs": {"latent_sample": latent}}, dec, run_double(model, decode)),
        ("vae_encoder", {**meta, "inputs": {"sample": image}}, enc, run_double(model, encode)),
    ]


def describe(entry, outputs, outputs64):
    entry["inputs"] = {k: encode_array(v, exact=True) for k, v in entry["inputs"].items()}
    entry["outputs"] = {k: encode_array(v) for k, v in outputs.items()}
    entry["output_stats"] = {k: stats(v) for k, v in outputs.items()}
    entry["float32_vs_float64_rel"] = {k: deviation(v, outputs64[k]) for k, v in outputs.items()}
    return entry


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="diffusers-layout folder (model_index.json, <component>/config.json + weights)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--vocab", default=None, help="CLIP vocab.json (default: shared/fixtures/clip-tokenizer/vocab.json)")
    ap.add_argument("--preset", default=None, help="preset the weights were generated for (recorded)")
    ap.add_argument("--seed", type=int, default=None, help="generator seed of the weights (recorded)")
    ap.add_argument("--input-seed", type=int, default=0, help="numpy RandomState seed of the inputs")
    ap.add_argument("--latent", type=int, default=16, help="latent height and width")
    args = ap.parse_args(argv)

    import diffusers
    import torch
    import transformers

    torch.manual_seed(0)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    vocab_path = args.vocab or os.path.join(repo, "..", "shared", "fixtures", "clip-tokenizer", "vocab.json")
    vocab = load_json(vocab_path)
    index = load_json(os.path.join(args.model, "model_index.json"))
    rng = np.random.RandomState(args.input_seed)

    doc = {
        "format": FORMAT,
        "preset": args.preset,
        "seed": args.seed,
        "generator": f"zipbank model random --preset {args.preset} --seed {args.seed}" if args.preset else None,
        "reference": {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__},
        "input_seed": args.input_seed,
        "prompts": PROMPTS,
        "weights": {},
        "components": {},
    }
    seq_len = 77
    for name in ("text_encoder", "text_encoder_2"):
        if name in index:
            comp = Component(args.model, name, "model.safetensors")
            seq_len = comp.config.get("max_position_embeddings", 77)
            doc["weights"][comp.weight_rel] = sha256(comp.weight_path)
            doc["components"][name] = describe(*run_clip(comp, vocab, seq_len))
    unet = Component(args.model, "unet", "diffusion_pytorch_model.safetensors")
    doc["weights"][unet.weight_rel] = sha256(unet.weight_path)
    doc["components"]["unet"] = describe(*run_unet(unet, rng, args.latent, seq_len))
    if "vae" in index:
        vae = Component(args.model, "vae", "diffusion_pytorch_model.safetensors")
        doc["weights"][vae.weight_rel] = sha256(vae.weight_path)
        for key, entry, out, out64 in run_vae(vae, rng, args.latent):
            doc["components"][key] = describe(entry, out, out64)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    for key, entry in doc["components"].items():
        for out, s in entry["output_stats"].items():
            print(f"{key:15s} {out:25s} mean {s['mean']:+.4f} std {s['std']:.4f} max|x| {s['max_abs']:.4f}  f32~f64 {entry['float32_vs_float64_rel'][out]:.1e}")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])

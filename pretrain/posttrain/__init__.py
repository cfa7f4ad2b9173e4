"""Post-training stages on a pretrained HF model dir: SFT (`sft`), DPO (`dpo`) and benign
tampering (`tamper`: continued SFT on capability-only data). Each is a stage
`run(cfg, model_dir, out_root) -> Path` writing `model/` + `metrics.jsonl`.

    python -m pretrain.posttrain.sft --model DIR        # then dpo / tamper on <sft dir>/model
    python -m pretrain.posttrain.make_data              # regenerate pretrain/data/posttrain/*.jsonl
"""

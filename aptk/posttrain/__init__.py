"""Post-training stages on a pretrained HF model dir: SFT (`sft`), DPO (`dpo`) and benign
tampering (`tamper`: continued SFT on capability-only data). Each is a stage
`run(cfg, model_dir, out_root) -> Path` writing `model/` + `metrics.jsonl`.

    python -m aptk.posttrain.sft --model DIR        # then dpo / tamper on <sft dir>/model
    python -m tools.make_posttrain_data              # regenerate aptk/posttrain/assets/*.jsonl
"""

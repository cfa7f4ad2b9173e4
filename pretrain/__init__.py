"""aptk.pretrain: corpora, AI-discourse filter, tokenizer, mixer, token shards, models, training."""

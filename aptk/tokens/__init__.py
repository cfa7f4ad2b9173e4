"""SentencePiece tokenizer (exported as an HF tokenizer dir), corpus encoding and token shards."""

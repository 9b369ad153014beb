#!/usr/bin/env python3
"""Writes the encoders bench/deep/run.sh times (Debian's python3-torch only).

usage: make_bench_encoder.py OUTDIR [TEXTS]

OUTDIR gets what tests/deep/make_tiny_encoder.py writes (vocab.txt, the tiny
2-layer hidden-32 model.pt, ...) and:
  bert6.pt     a BERT-shaped encoder: token + position embeddings, 6 post-norm
               transformer layers, hidden 384, 12 heads, feed-forward 1536,
               GELU (all-MiniLM-L6-v2's shape), weights drawn as BERT
               initialises them (normal, std 0.02); traced at [32, 64]
  titles.txt   TEXTS (default 2048) product-title-like lines from the vocab's words

The weights are random, not trained: the timing is a real model's, the int8
error is only indicative (trained weights have other ranges).
"""

import os
import random
import subprocess
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "..", "tests", "deep")
sys.path.insert(0, TESTS)
from make_tiny_encoder import WORDS  # noqa: E402


class BertShaped(nn.Module):
    def __init__(self, vocab_size, hidden=384, layers=6, heads=12, ffn=1536, max_positions=512):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, hidden)
        self.pos = nn.Embedding(max_positions, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=ffn, dropout=0.0, activation="gelu",
                                           batch_first=True, layer_norm_eps=1e-12)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, input_ids, attention_mask):
        positions = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        x = self.emb_norm(self.tok(input_ids) + self.pos(positions))
        return (self.encoder(x, src_key_padding_mask=attention_mask == 0),)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    subprocess.run([sys.executable, os.path.join(TESTS, "make_tiny_encoder.py"), out], check=True)
    with open(os.path.join(out, "vocab.txt"), encoding="utf-8") as f:
        vocab_size = len(f.read().splitlines())
    torch.manual_seed(7)
    torch.set_num_threads(1)
    model = BertShaped(vocab_size).eval()
    ids = torch.randint(5, vocab_size, (32, 64))
    mask = torch.ones_like(ids)
    # Traced with gradients on, as the tiny model: nn.TransformerEncoder's
    # inference fast path is then off and the trace records plain ops.
    traced = torch.jit.trace(model, (ids, mask), check_trace=False)
    traced.save(os.path.join(out, "bert6.pt"))
    rng = random.Random(3)
    words = [w for w in WORDS if not w.startswith("##")]
    with open(os.path.join(out, "titles.txt"), "w", encoding="utf-8") as f:
        for _ in range(count):
            f.write(" ".join(rng.choice(words) for _ in range(rng.randint(4, 16))) + "\n")


if __name__ == "__main__":
    main()

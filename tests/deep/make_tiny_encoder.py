#!/usr/bin/env python3
"""Writes a tiny TorchScript text encoder and the reference outputs that
tests/integration/embed_test.cc checks `souk embed` against.

usage: make_tiny_encoder.py OUTDIR

OUTDIR gets:
  vocab.txt        a few hundred WordPiece tokens ([PAD]=0, [UNK], [CLS], [SEP],
                   [MASK], punctuation, letters and ## pieces, words, CJK, accents)
  model.pt         a 2-layer transformer encoder (hidden 32) traced with
                   torch.jit.trace; forward(input_ids, attention_mask) returns a
                   tuple (last_hidden_state [B, T, 32], pooled [B, 32]), as
                   HuggingFace models traced with torchscript=True do
  model_plain.pt   the same network returning the hidden-state tensor itself
  model_pooled.pt  a wrong export: returns [B, 32] (for the error test)
  state_dict.pt    another: torch.save of the weights, not TorchScript
  texts.txt        the test sentences, one a line
  reference.json   per configuration: the spec options, and per text the ids
                   (from the reference tokenizer below) and the pooled vector

The ids come from wordpiece_ref.py beside this script: a tokenizer written
from the published algorithm (google-research/bert tokenization.py), with no
transformers package. Only Debian's python3-torch is needed.
"""

import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wordpiece_ref import encode  # noqa: E402  (the reference tokenizer, torch-free)

# ---- the data -----------------------------------------------------------------

PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["—", "…", "«", "»", "¿", "¡"]
LETTERS = [c for c in "abcdefghijklmnoprstuvwxyz"]  # no q: q-words are [UNK]
WORDS = """the quick brown fox jumps over lazy dog and then runs away from red running shoes for men
hello world off cafe creme brulee naive facade un ##aff ##able ##ing ##er ##s ##ed run runner iphone pro
max gb tab separated text with zero width stra ##sse istanbul angstrom zurich blue cotton shirt size
women kids sale new best price free shipping phone case black white leather bag watch""".split()
CASED = """Red Hello Café Crème Brûlée USB Straße İstanbul ÅNGSTRÖM Zürich iPhone Pro Max The
café crème brûlée naïve façade é ##é è ##è ü ##ü ö ##ö ß ##ß ç ##ç ï ##ï û ##û""".split()
CJK = list("运动鞋很好看手机壳中国的红色")

TEXTS = [
    "Red running shoes for men",
    "Café crème brûlée, naïve façade",
    "Hello, world!!! (USB-C) $9.99 & 50% off... «sale» ¿best?",
    "运动鞋很好看",
    "iPhone 15 Pro Max 256GB 手机壳 black",
    "qwerty xyzzy Ωmega 🙂 カメラ",
    "unaffable running runner runs",
    "the quick brown fox jumps over the lazy dog and then the dog runs away from the fox",
    "ÅNGSTRÖM Straße İstanbul Zürich",
    "Tab\tseparated\u00a0text\u3000with\u200bzero width\u00adsoft",
    "   ",
    "supercalifragilistic" * 6 + " shirt",
    "Cafe\u0301 decomposed e\u0301",
]

# Configurations: the spec options souk embed gets, and the tokenizer and
# pooling settings they mean.
CONFIGS = [
    {"name": "uncased_mean", "spec": "pool=mean,norm=1,maxlen=16,bs=4", "lower": True, "strip": True,
     "pool": "mean", "norm": True, "maxlen": 16},
    {"name": "cased_cls", "spec": "pool=cls,norm=0,lower=0,maxlen=16,bs=5", "lower": False, "strip": False,
     "pool": "cls", "norm": False, "maxlen": 16},
    {"name": "uncased_keep_accents", "spec": "pool=mean,norm=0,lower=1,strip_accents=0,maxlen=24,bs=8",
     "lower": True, "strip": False, "pool": "mean", "norm": False, "maxlen": 24},
]


class TinyEncoder(nn.Module):
    """Token + position embeddings, a 2-layer transformer encoder that
    ignores padding (the attention mask as key padding mask), layer norm."""

    def __init__(self, vocab_size, hidden=32, layers=2, heads=4, max_positions=64):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, hidden)
        self.pos = nn.Embedding(max_positions, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, input_ids, attention_mask):
        # Positions from a cumulative sum, not arange(T): the trace then
        # follows the input's width instead of freezing the traced one.
        positions = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        x = self.tok(input_ids) + self.pos(positions)
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        h = self.norm(x)
        return h, h[:, 0]


class Plain(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask):
        return self.inner(input_ids, attention_mask)[0]


class Pooled(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask):
        return self.inner(input_ids, attention_mask)[1]


def pool(hidden, mask, how, norm):
    if how == "cls":
        v = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        v = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if norm:
        v = torch.nn.functional.normalize(v, p=2, dim=1)
    return v


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for group in (PUNCT, [str(d) for d in range(10)], ["##" + str(d) for d in range(10)], LETTERS,
                  ["##" + c for c in LETTERS], [c.upper() for c in LETTERS], WORDS, CASED, CJK):
        for t in group:
            if t not in tokens:
                tokens.append(t)
    vocab = {t: i for i, t in enumerate(tokens)}
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(out_dir, "texts.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(TEXTS) + "\n")

    torch.manual_seed(1234)
    torch.set_num_threads(1)
    model = TinyEncoder(len(tokens)).eval()
    # Traced with gradients on: nn.TransformerEncoder's inference fast path
    # (nested tensors) is then off, so the trace records the plain ops.
    example_ids = torch.tensor([encode(TEXTS[0], vocab, True, True, 16)] * 2)
    example_mask = torch.ones_like(example_ids)
    for name, net in (("model.pt", model), ("model_plain.pt", Plain(model)), ("model_pooled.pt", Pooled(model))):
        traced = torch.jit.trace(net, (example_ids, example_mask), check_trace=False)
        traced.save(os.path.join(out_dir, name))
    # A common mistake: torch.save of the weights, a zip but not TorchScript.
    torch.save(model.state_dict(), os.path.join(out_dir, "state_dict.pt"))

    reference = {"texts": TEXTS, "vocab_size": len(tokens), "configs": []}
    for c in CONFIGS:
        ids = [encode(t, vocab, c["lower"], c["strip"], c["maxlen"]) for t in TEXTS]
        width = c["maxlen"]
        batch = torch.full((len(ids), width), vocab["[PAD]"], dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for r, row in enumerate(ids):
            batch[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        hidden = model(batch, mask)[0].detach()
        vectors = pool(hidden, mask, c["pool"], c["norm"])
        reference["configs"].append({
            "name": c["name"],
            "spec": c["spec"],
            "ids": ids,
            "tokens": [[tokens[i] for i in row] for row in ids],
            "vectors": vectors.tolist(),
        })
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()

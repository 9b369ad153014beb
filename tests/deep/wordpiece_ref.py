#!/usr/bin/env python3
"""Reference WordPiece tokenizer for souk's tests, written from the published
algorithm (google-research/bert tokenization.py: BasicTokenizer +
WordpieceTokenizer) with the two steps HuggingFace's BertTokenizer adds: NFC
before the whitespace split, and lower-casing one character at a time (its
PreTrainedTokenizer.tokenize lower-cases with a per-character regex). Pure
Python, no torch, no transformers.

usage: wordpiece_ref.py random OUTDIR SEED COUNT
  writes OUTDIR/random.json: COUNT random texts drawn from many scripts and
  character classes (controls, odd spaces, marks, CJK, kana, Hangul, Greek,
  punctuation and symbols, emoji), a vocabulary made from their words (70%
  of them whole, plus pieces of half of them, so both ## pieces and [UNK]
  happen), and the ids for each combination of lower-casing and accent
  stripping. tests/integration/wordpiece_ref_test.cc compares souk's
  tokenizer against it; make_tiny_encoder.py uses encode() for its ids.
"""

import json
import os
import random
import sys
import unicodedata

def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower, strip_accents):
    out = []
    for ch in text:  # _clean_text
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    text = "".join(out)
    text = "".join(" %s " % ch if is_chinese_char(ord(ch)) else ch for ch in text)  # _tokenize_chinese_chars
    text = unicodedata.normalize("NFC", text)  # HuggingFace
    words = []
    for token in text.split():
        if lower:
            token = "".join(ch.lower() for ch in token)  # HuggingFace: per character
        if strip_accents:
            token = "".join(ch for ch in unicodedata.normalize("NFD", token) if unicodedata.category(ch) != "Mn")
        piece = []  # _run_split_on_punc
        for ch in token:
            if is_punctuation(ch):
                if piece:
                    words.append("".join(piece))
                    piece = []
                words.append(ch)
            else:
                piece.append(ch)
        if piece:
            words.append("".join(piece))
    return " ".join(words).split()


def wordpiece(word, vocab, max_chars=100):
    if len(word) > max_chars:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        cur = None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        pieces.append(cur)
        start = end
    return pieces


def encode(text, vocab, lower, strip_accents, maxlen):
    pieces = []
    for w in basic_tokenize(text, lower, strip_accents):
        pieces.extend(wordpiece(w, vocab))
    ids = [vocab[p] for p in pieces][: maxlen - 2]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]


POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    " \t\r\n\u00a0\u2000\u3000\u2028\u2029\u200b\u00ad\u0000\u0005\u001f\u0085\u180e\u200d\ufeff\ufffd",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»—–…¿¡·‧〈〉【】「」、。，！？‘’“”€£©®★☆♥°±×÷§¶",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßẞİıŁłŒœ",
    "\u0300\u0301\u0302\u0303\u0308\u0327\u0307\u20dd\u0903\u093f",
    "ΑΒΓΔΣσςΩωάέήίόύώΪΫ",
    "АБВГДЕЁЖЗИЙКабвгдеёжзийк",
    "中国运动鞋很好看的手机壳\u4e00\u9fa5\u3400\u4dbf\U00020000\U0002a6d6\uf900\ufa0b\U0002f800",
    "あいうえおカタカナｶﾀｶﾅー한국어조선글",
    "ＡＢＣ１２３ｆｉ\ufb01½²㎏",
    "🙂👍🏽🇫🇷\U0001F600",
    "ǅǈǋ\u1e9eK\u212bÅ",
    "\u0e01\u0e02\u0e33\u0e48 \u05d0\u05d1\u05b7 \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
]


def random_case(out_dir, seed, count):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        n = rng.randint(0, 40)
        texts.append("".join(rng.choice(rng.choice(POOLS)) for _ in range(n)))
    options = [(True, True), (True, False), (False, False), (False, True)]
    words = set()
    for lower, strip in options:
        for t in texts:
            words.update(basic_tokenize(t, lower, strip))
    # sorted(): set order changes between runs (string hashing is salted),
    # and the draws must not.
    words = sorted(words)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [w for w in words if rng.random() < 0.7]
    pieces = set()
    for w in words:
        if rng.random() < 0.5:  # pieces for half the words: the rest may be [UNK]
            pieces.add(w[:1])
            for k in (1, 2):
                if len(w) > k:
                    pieces.add("##" + w[-k:])
    tokens += sorted(pieces - set(tokens))
    vocab = {t: i for i, t in enumerate(tokens)}
    configs = []
    for lower, strip in options:
        ids = []
        for t in texts:
            row = []
            for w in basic_tokenize(t, lower, strip):
                row += [vocab[p] for p in wordpiece(w, vocab)]
            ids.append(row)
        configs.append({"lower": lower, "strip_accents": strip, "ids": ids})
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "random.json"), "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "vocab": tokens, "configs": configs}, f, ensure_ascii=False)


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "random":
        sys.exit(__doc__)
    random_case(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))

// souk::text turns item fields (title, brand, category, tags, description)
// and shopper queries into search terms. The same Analyzer, with the same
// options and dictionary, must run at index time and at query time: a query
// matches a document when they produce the same terms.
//
// What Analyze does, in order:
//
//  1. Decoding. Input is UTF-8. Invalid bytes are read as U+FFFD, one per
//     maximal invalid sequence (the same repair as souk::RepairUtf8, done in
//     place so that offsets still refer to the caller's bytes). Nothing
//     crashes on any input.
//  2. Normalization, per character: NFKC, Unicode case folding, and removal of
//     diacritics from Latin letters (Café -> cafe, Crème -> creme, ø -> o,
//     æ -> ae, ß -> ss, ＡＢＣ１２３ -> abc123). Marks of other scripts are kept
//     (Cyrillic й stays й). Dash variants become '-', apostrophe variants
//     ('’`´ʼ) become '\'', the fraction slash becomes '/' (½ -> 1/2); default
//     ignorable characters (soft hyphen, joiners) vanish without splitting a
//     word.
//  3. Tokenization. Letters, digits and marks form words; everything else
//     (spaces, punctuation, symbols, control characters, U+FFFD) separates
//     them. Inside a word:
//       - Letters and digits stay together: iphone15, 500ml, 128GB -> 128gb.
//       - '.' and '/' between two digits stay: 4.5, 1/2, 3.5mm, v1.2.
//       - ',' between digits followed by exactly three digits is a thousands
//         separator and is dropped: 20,000mAh -> 20000mah.
//       - An apostrophe between letters is dropped (don't -> dont, l'oréal ->
//         loreal), except the possessive 's, which is removed with it
//         (men's, men’s -> men).
//     Compounds: words joined by '-', '_', '&', or by '.' / '/' between
//     letters, form one compound: USB-C, wi-fi, t-shirt, AT&T, black/white,
//     RTX-3080. A compound yields its joined form (usbc, a TokenKind::kWhole)
//     and its parts (usb, c, each a TokenKind::kPart), all at ONE position.
//     So a title containing "USB-C" matches the queries "usbc", "usb c" and
//     "usb-c". A '-' between two numbers is a separator, not a joiner (ranges
//     and dates: 3-5, 2024-03-10), so no false "35" term is made.
//     At most 8 parts form a compound; a longer chain starts a new one.
//  4. CJK. A run of Han characters is segmented over the jieba dictionary:
//     the maximum-probability path through the word DAG, exactly like
//     jieba.cut(HMM=False). Each word gets its own position. A word of three
//     or more characters is a kWhole followed, at the same position, by its
//     parts (kPart): its best segmentation into shorter dictionary words,
//     parts of three or more characters split again (清华大学 -> 清华 大学,
//     中华人民共和国 -> 中华 人民 共和 国, 运动鞋 -> 运动 鞋). So, as for a
//     compound, the parts spell the whole, and 大学 finds 清华大学. (This is
//     jieba.cut_for_search's idea, but with parts that tile the word rather
//     than every dictionary n-gram inside it: 华人 is not a part of
//     中华人民共和国.) A word whose only split is into single characters has
//     no parts. Consecutive characters the dictionary does not know become
//     overlapping bigrams (one position each); a lone unknown character stays
//     a single token. Without a dictionary (or with cjk = false), every Han
//     run is indexed as overlapping bigrams. Kana runs (Japanese) are always
//     bigrams, hiragana and katakana apart. Other scripts without spaces
//     (Thai, Khmer, ...) are not segmented: a run is one token.
//  5. Stemming (English Snowball, libstemmer "english") applies to terms made
//     only of the letters a-z: running -> run, shoes -> shoe. Terms with
//     digits or other characters are never stemmed.
//  6. Stop words (off by default): the, a, an, and, or, of, for, with, in, on,
//     to, by are dropped when they stand alone (not inside a compound) and
//     the text has other tokens: an input made only of stop words ("the",
//     "and or") keeps them all. Dropped words do not take a position.
//
// Positions start at 0 on every Analyze call and increase by one per word,
// compound, CJK word or bigram. Tokens that share a position are spellings of
// the same stretch of text: a kWhole and its kPart tokens, whose terms
// concatenated (before stemming; a repeated part appears once) give the
// kWhole's. Two ways to match a query
// position: require all of its parts and let the whole only add to the score
// (precise: "usb-c" then also finds "usb c"), or accept any of its tokens
// (more recall). A kWord stands alone.
//
// Very long terms are cut to kMaxTermBytes (at a character boundary).
//
// Thread-safety: Dictionary and Analyzer are immutable after construction.
// Any number of threads may call their const methods concurrently (the
// Snowball stemmer, which is not thread-safe, is kept per thread, with a
// small per-thread cache of stems and scratch buffers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace souk::text {

// The dictionary LoadDictionary("") reads: python3-jieba's dict.txt
// (/usr/lib/python3/dist-packages/jieba/dict.txt) unless the build names
// another with -DSOUK_JIEBA_DICT="path".
std::string DefaultDictionaryPath();
// Longer terms are cut to this many bytes.
inline constexpr size_t kMaxTermBytes = 128;

enum class TokenKind : uint8_t {
  kWord = 0,   // the only token at its position
  kWhole = 1,  // a compound's joined form or a long CJK word; kPart tokens follow at the same position
  kPart = 2,   // a part of the preceding kWhole: usb and c of USB-C, 运动 and 鞋 of 运动鞋
};

struct Token {
  std::string term;  // normalized, and stemmed when enabled
  uint32_t position = 0;
  // Byte offsets [start, end) of the token in the caller's original text,
  // for highlighting. A kWhole covers all of its parts. "men's" covers the
  // whole word even though its term is "men".
  uint32_t start = 0, end = 0;
  TokenKind kind = TokenKind::kWord;

  bool operator==(const Token&) const = default;
};

struct AnalyzerOptions {
  bool stem = true;         // English Snowball on terms made of a-z only
  bool stop_words = false;  // drop the small English list above (never all tokens)
  bool cjk = true;          // segment Han text with the dictionary (false or no dictionary: bigrams)
};

class Dictionary;

// Loads a jieba word-frequency dictionary: UTF-8 lines "word freq [tag]".
// `path` empty means DefaultDictionaryPath(). Only words made entirely of Han
// characters are kept (the analyzer only looks up Han runs); every line's
// frequency counts toward the total, as in jieba. Errors: NotFound when the
// file does not exist, IoError when it cannot be read, Corruption (with the
// line number) for a malformed line, invalid UTF-8 or no Han words at all.
// The default dictionary (349,046 lines) loads in about 0.1 s.
Result<std::shared_ptr<const Dictionary>> LoadDictionary(const std::string& path = "");

// An immutable word -> log-probability table with every word's prefixes,
// shared by any number of analyzers and threads.
class Dictionary {
 public:
  ~Dictionary();
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  // Han words with a positive frequency.
  size_t size() const;
  // The longest word, in characters.
  int max_word_chars() const;
  // True if `word` (already normalized) is a dictionary word.
  bool Contains(std::string_view word) const;
  // The file it was loaded from.
  const std::string& path() const;

  struct Rep;  // defined in text/internal.h

 private:
  friend Result<std::shared_ptr<const Dictionary>> LoadDictionary(const std::string& path);
  friend class Analyzer;
  explicit Dictionary(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

class Analyzer {
 public:
  // `dict` may be null: CJK text then falls back to bigrams.
  Analyzer(AnalyzerOptions options, std::shared_ptr<const Dictionary> dict);

  // Appends the tokens of `text` to *out (existing contents are kept);
  // positions start at 0. `text` must be shorter than 4 GiB.
  void Analyze(std::string_view text, std::vector<Token>* out) const;
  // Convenience: the terms only, in order.
  std::vector<std::string> Terms(std::string_view text) const;

  // "text:stem=1,stop=0,cjk=jieba" (cjk=bigram without a dictionary or with
  // cjk = false), for reports that record exactly what ran.
  std::string Describe() const;

  // The text with every character normalized as terms are (NFKC, case fold,
  // Latin accent removal, dash and apostrophe variants unified); no
  // tokenization and no stemming. Control characters become spaces, invalid
  // UTF-8 becomes U+FFFD. Normalize("Crème BRÛLÉE") == "creme brulee".
  std::string Normalize(std::string_view text) const;

  const AnalyzerOptions& options() const { return options_; }
  const std::shared_ptr<const Dictionary>& dictionary() const { return dict_; }

 private:
  struct Scratch;
  int AnalyzeOnce(std::string_view text, bool drop_stop_words, Scratch* s, std::vector<Token>* out,
                  bool* dropped) const;

  AnalyzerOptions options_;
  std::shared_ptr<const Dictionary> dict_;
  const Dictionary::Rep* jieba_ = nullptr;  // set when Han text is segmented with dict_
};

// Damerau-Levenshtein distance (optimal string alignment: insertions,
// deletions, substitutions and transpositions of adjacent characters each
// cost 1) between two strings, counted in code points. Stops early and
// returns max_distance + 1 once the distance must exceed max_distance
// (a negative bound is taken as 0). Invalid UTF-8 bytes count as U+FFFD.
int BoundedEditDistance(std::string_view a, std::string_view b, int max_distance);

// True if `term` contains a digit: model numbers and quantities such as
// iphone15, 500ml, x200, 128gb, 4.5. Typo tolerance must leave these alone
// (500ml is not a typo of 250ml).
bool IsNumericOrCode(std::string_view term);

// ---- WordPiece: BERT's tokenizer, for pretrained text encoders ----------
//
// A model trained with BERT's vocabulary must see exactly the ids its
// training saw, so this is BERT's published algorithm as HuggingFace's
// BertTokenizer (the slow, Python one) runs it, not souk's Analyzer:
//
//  1. Clean: NUL, U+FFFD and control characters (categories Cc, Cf; tab,
//     newline and carriage return are whitespace) are dropped; whitespace
//     (space, tab, newline, CR, category Zs) becomes a space. Invalid UTF-8
//     is read as U+FFFD, so it is dropped too.
//  2. CJK: every CJK ideograph (BERT's _is_chinese_char ranges: U+4E00-9FFF,
//     3400-4DBF, 20000-2A6DF, 2A700-2B73F, 2B740-2B81F, 2B820-2CEAF,
//     F900-FAFF, 2F800-2FA1F) gets a space on each side (cjk, on by default).
//     Kana and Hangul are not ideographs and stay in their words.
//  3. NFC, then split on whitespace (HuggingFace added the NFC step).
//  4. Per word: lower-case (as Python's str.lower() of each character; so
//     capital sigma always becomes σ, as HuggingFace lower-cases character
//     by character), then strip accents: NFD and drop nonspacing marks (Mn).
//     Accent stripping follows lower-casing unless set (BERT's default).
//  5. Punctuation splits: every punctuation character (ASCII 33-47, 58-64,
//     91-96, 123-126, or a Unicode P* category) is a word of its own.
//  6. WordPiece: each word is split greedily into the longest vocabulary
//     entries from the left, pieces after the first prefixed with "##"
//     (unaffable -> un ##aff ##able). A word with an unmatched remainder, or
//     longer than max_chars_per_word characters, is one [UNK].
//
// Encode adds [CLS] before and [SEP] after the pieces and truncates the
// pieces so the whole is at most max_len ids. Special tokens written in the
// text ("[SEP]") are tokenized as ordinary text (HuggingFace would keep them
// whole): a product title cannot inject a separator into a model's input.
//
// Thread-safety: a WordPieceTokenizer is immutable; any number of threads may
// call its const methods.

struct WordPieceOptions {
  bool lower_case = true;  // an "uncased" model
  // NFD + drop nonspacing marks (café -> cafe). Unset: on exactly when
  // lower_case is, as in BERT.
  std::optional<bool> strip_accents;
  bool split_cjk = true;            // spaces around CJK ideographs (tokenize_chinese_chars)
  size_t max_len = 128;             // ids per text including [CLS] and [SEP]; >= 2
  size_t max_chars_per_word = 100;  // longer words become [UNK]

  bool StripsAccents() const { return strip_accents.value_or(lower_case); }
};

// Token ids for a batch of texts, padded to one width: rows x cols,
// row-major. Each row is [CLS] pieces [SEP] then [PAD]s; mask is 1 on the
// real ids and 0 on padding. ids and mask are int64, what torch models take.
struct TokenBatch {
  size_t rows = 0, cols = 0;
  std::vector<int64_t> ids;
  std::vector<int64_t> mask;
};

enum class Padding {
  kMaxLen,   // every row max_len wide (the shape a model was traced with)
  kLongest,  // as wide as the longest row of the batch
};

class WordPieceTokenizer {
 public:
  // Reads a BERT vocab.txt: one token per line (\n, \r\n or \r), id = line
  // number from 0; a token listed twice keeps its last id (as HuggingFace).
  // Errors: NotFound when the file does not exist, IoError when it cannot be
  // read, Corruption for invalid UTF-8 (with the line), InvalidArgument when
  // [UNK], [CLS], [SEP] or [PAD] is missing or the options are out of range.
  static Result<std::shared_ptr<const WordPieceTokenizer>> Load(const std::string& vocab_path,
                                                                const WordPieceOptions& options = {});
  // The same from tokens in id order (tests, or a vocabulary held in memory).
  static Result<std::shared_ptr<const WordPieceTokenizer>> FromTokens(std::vector<std::string> tokens,
                                                                      const WordPieceOptions& options = {});

  // Steps 1-5: the cleaned, normalized words and punctuation.
  std::vector<std::string> BasicTokenize(std::string_view text) const;
  // Steps 1-6: the word pieces ("[UNK]" for unmatched words).
  std::vector<std::string> Tokenize(std::string_view text) const;
  // Ids of Tokenize(text): no [CLS]/[SEP], no truncation.
  std::vector<int64_t> TokenIds(std::string_view text) const;
  // [CLS] ids [SEP], the pieces truncated so there are at most max_len ids.
  std::vector<int64_t> Encode(std::string_view text) const;
  // Encode of each text, padded with [PAD] (see Padding).
  TokenBatch EncodeBatch(std::span<const std::string> texts, Padding padding = Padding::kMaxLen) const;

  int64_t unk_id() const { return unk_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }
  int64_t pad_id() const { return pad_; }
  size_t vocab_size() const { return tokens_.size(); }
  // The token of an id (vocab line), or "" when out of range.
  const std::string& token(int64_t id) const;
  const WordPieceOptions& options() const { return options_; }
  // "wordpiece:lower=1,strip_accents=1,cjk=1,maxlen=128".
  std::string Describe() const;

 private:
  WordPieceTokenizer() = default;
  void WordPieces(const std::string& word, std::vector<int64_t>* out) const;

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  WordPieceOptions options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> ids_;
  size_t max_token_bytes_ = 0;  // longest entry (without "##"): longer candidates cannot match
  int64_t unk_ = -1, cls_ = -1, sep_ = -1, pad_ = -1;
};

// ---- Text encoders: texts -> dense vectors --------------------------------
//
// A TextEncoder turns texts into fixed-size vectors (sentence embeddings),
// e.g. a pretrained transformer exported to TorchScript. This interface is
// torch-free: implementations live in modules loaded on demand (src/deep's
// libsouk_deep.so provides "torchscript") and register a factory here, so
// the `souk` executable never links libtorch.
//
// Spec (every encoder can describe itself as one, and be built from it):
//   torchscript:path=MODEL.pt,vocab=VOCAB.txt[,pool=mean|cls,norm=1,lower=1,
//               strip_accents=1,cjk=1,maxlen=128,bs=32,threads=0,shape=fixed|dynamic,int8=0]
//  - path: a TorchScript file (torch.jit.trace of a model taking
//    (input_ids, attention_mask), int64 [batch, tokens], and returning the
//    last hidden states [batch, tokens, hidden], or a tuple/list/dict whose
//    first element is that tensor, as HuggingFace models traced with
//    torchscript=True do). Paths cannot contain ','.
//  - vocab: its WordPiece vocab.txt (see WordPieceTokenizer).
//  - pool: mean = the mean of the hidden states of the real tokens (masked
//    mean, as sentence-transformers), cls = the hidden state of [CLS].
//  - norm: 1 = scale each vector to unit L2 length (for cosine similarity).
//  - lower, strip_accents, cjk, maxlen: WordPieceOptions (strip_accents
//    unset: follows lower).
//  - bs: texts per forward call; threads: libtorch's intra-op threads (0 =
//    one per core).
//  - shape: fixed = every call gets [bs, maxlen], short batches filled with
//    padding rows: the shape the model was traced with, which a traced model
//    may require; dynamic = [texts in the batch, longest text], faster for
//    short texts, for models whose trace accepts any shape.
//  - int8: 1 = run the model's linear layers in int8 (libtorch dynamic
//    quantization: int8 weights per output channel, activations quantized
//    per call); faster, vectors within ~1% (cosine > 0.99 on the test model).
//    Described only when on.
enum class Pooling { kMean, kCls };

struct EncoderOptions {
  std::string kind = "torchscript";
  std::string model_path;
  std::string vocab_path;
  Pooling pooling = Pooling::kMean;
  bool normalize = true;
  size_t batch_size = 32;
  int threads = 0;
  bool fixed_shape = true;
  bool int8 = false;
  WordPieceOptions tokenizer;
};

// Parses a spec (above). Errors: InvalidArgument naming the key (unknown
// keys, bad values, a missing path= or vocab=).
Result<EncoderOptions> ParseEncoderSpec(std::string_view spec);
// The spec of `options`, every key spelled out; ParseEncoderSpec of it gives
// `options` back.
std::string DescribeEncoder(const EncoderOptions& options);

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  // Length of each vector.
  virtual size_t dim() const = 0;
  // The full spec (DescribeEncoder of its options).
  virtual std::string Describe() const = 0;
  // The tokenizer that makes the model's ids, or null for encoders without
  // one.
  virtual const WordPieceTokenizer* tokenizer() const { return nullptr; }
  // Embeds `texts` into *out, resized to texts.size() x dim() floats,
  // row-major, row i for texts[i]. Safe to call from several threads (calls
  // are serialised: the model uses all its threads per call).
  virtual Status Embed(std::span<const std::string> texts, std::vector<float>* out) const = 0;
};

// Modules register encoder kinds here (src/deep: "torchscript"). The factory
// gets the parsed options and the tokenizer loaded from options.vocab_path.
// Register before MakeEncoder; not thread-safe.
using EncoderFactory = std::function<Result<std::unique_ptr<TextEncoder>>(
    const EncoderOptions& options, std::shared_ptr<const WordPieceTokenizer> tokenizer)>;
void RegisterEncoderFactory(const std::string& kind, EncoderFactory factory);

// Called by MakeEncoder with a kind nothing registered yet: a chance to load
// the module that provides it (the CLI loads libsouk_deep.so). Returns an
// error to report, or Ok.
using EncoderLoader = std::function<Status(const std::string& kind)>;
void SetEncoderLoader(EncoderLoader loader);

// Parses the spec, loads the vocab (so a bad vocab fails before any module
// loads), then asks the kind's factory for the encoder.
Result<std::unique_ptr<TextEncoder>> MakeEncoder(std::string_view spec);

}  // namespace souk::text

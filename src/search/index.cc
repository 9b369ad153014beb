// Index construction, the on-disk format and posting-list cursors.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "core/core.h"
#include "search/internal.h"

namespace souk::search {

namespace {

void PutVarint(std::vector<uint8_t>* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

// Postings of one build shard: per local term, (doc, per-field tf).
struct RawPosting {
  uint32_t doc;
  uint8_t tf[kMaxFields];
  uint8_t title_pos;  // first position in the first field, kNoPos if absent
};

struct Shard {
  std::unordered_map<std::string, std::string> surfaces;  // unstemmed word -> its stem, when they differ
  std::unordered_map<std::string, uint32_t> term_ids;
  std::vector<std::string> terms;
  std::vector<std::vector<RawPosting>> postings;
};

void BuildShard(const std::vector<Document>& docs, size_t begin, size_t end, size_t nfields,
                const text::Analyzer& analyzer, Shard* shard, std::vector<uint16_t>* lengths) {
  std::vector<text::Token> tokens;
  std::vector<std::tuple<uint32_t, uint8_t, uint32_t>> doc_terms;  // (local term id, field, position)
  for (size_t d = begin; d < end; ++d) {
    const Document& doc = docs[d];
    doc_terms.clear();
    for (size_t f = 0; f < nfields && f < doc.fields.size(); ++f) {
      tokens.clear();
      analyzer.Analyze(doc.fields[f], &tokens);
      // Field length in words: a compound's joined form (usbc of USB-C) is
      // another spelling of its parts, not one more word.
      size_t words = 0;
      for (const auto& t : tokens) words += t.kind != text::TokenKind::kWhole;
      (*lengths)[d * nfields + f] = static_cast<uint16_t>(std::min<size_t>(words, 65535));
      const std::string& text = doc.fields[f];
      for (const auto& t : tokens) {
        // Remember how stemmed words were spelt, so typos can be matched
        // against the words people type rather than their stems.
        if (t.kind == text::TokenKind::kWord && t.end - t.start > t.term.size() && t.end <= text.size()) {
          std::string surface = souk::ToLowerAscii(std::string_view(text).substr(t.start, t.end - t.start));
          bool letters = std::all_of(surface.begin(), surface.end(), [](char c) { return c >= 'a' && c <= 'z'; });
          if (letters && surface != t.term) shard->surfaces.try_emplace(std::move(surface), t.term);
        }
        auto [it, inserted] = shard->term_ids.try_emplace(t.term, static_cast<uint32_t>(shard->terms.size()));
        if (inserted) {
          shard->terms.push_back(t.term);
          shard->postings.emplace_back();
        }
        doc_terms.emplace_back(it->second, static_cast<uint8_t>(f), t.position);
      }
    }
    std::sort(doc_terms.begin(), doc_terms.end());
    for (size_t i = 0; i < doc_terms.size();) {
      uint32_t term = std::get<0>(doc_terms[i]);
      RawPosting p{doc.id, {}, kNoPos};
      for (; i < doc_terms.size() && std::get<0>(doc_terms[i]) == term; ++i) {
        if (std::get<1>(doc_terms[i]) == 0)
          p.title_pos = std::min<uint32_t>(p.title_pos, std::min<uint32_t>(std::get<2>(doc_terms[i]), kNoPos - 1));
        uint8_t& tf = p.tf[std::get<1>(doc_terms[i])];
        if (tf < 255) ++tf;
      }
      shard->postings[term].push_back(p);
    }
  }
}

}  // namespace

void Index::Rep::EncodeTerm(const std::vector<uint32_t>& docs, const std::vector<float>& impacts,
                            const std::vector<uint8_t>& title_pos, TermInfo* info) {
  info->df = static_cast<uint32_t>(docs.size());
  info->first_block = static_cast<uint32_t>(blocks.size());
  info->max_impact = 0;
  for (size_t b = 0; b < docs.size(); b += kBlockSize) {
    size_t n = std::min(kBlockSize, docs.size() - b);
    BlockMeta meta;
    meta.offset = postings.size();
    meta.count = static_cast<uint32_t>(n);
    meta.last_doc = docs[b + n - 1];
    meta.max_impact = 0;
    uint32_t prev = b == 0 ? 0 : docs[b - 1];
    for (size_t i = 0; i < n; ++i) {
      PutVarint(&postings, b + i == 0 ? docs[0] : docs[b + i] - prev);
      prev = docs[b + i];
    }
    meta.impacts_offset = impacts_pool.size();
    for (size_t i = 0; i < n; ++i) {
      impacts_pool.push_back(impacts[b + i]);
      title_pos_pool.push_back(title_pos[b + i]);
      meta.max_impact = std::max(meta.max_impact, impacts[b + i]);
    }
    info->max_impact = std::max(info->max_impact, meta.max_impact);
    blocks.push_back(meta);
  }
  info->num_blocks = static_cast<uint32_t>(blocks.size()) - info->first_block;
}

std::unique_ptr<Index> Index::Build(const std::vector<Document>& docs, const IndexOptions& options,
                                    std::shared_ptr<const text::Dictionary> dict) {
  return BuildWithBase(docs, options, std::move(dict), nullptr);
}

std::unique_ptr<Index> Index::BuildWithBase(const std::vector<Document>& docs, const IndexOptions& options,
                                            std::shared_ptr<const text::Dictionary> dict, const Rep* base) {
  auto rep = std::make_unique<Rep>(options, std::move(dict));
  rep->base = base;
  const size_t nf = std::min(options.fields.size(), kMaxFields);
  const size_t n = docs.size();
  for (size_t i = 1; i < n; ++i) assert(docs[i].id > docs[i - 1].id && "documents must be in increasing id order");
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min<int>(threads, static_cast<int>(n / 1000) + 1));
  std::vector<uint16_t> lengths(n * nf, 0);
  std::vector<Shard> shards(threads);
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      size_t b = n * t / threads, e = n * (t + 1) / threads;
      pool.emplace_back(BuildShard, std::cref(docs), b, e, nf, std::cref(*rep->analyzer), &shards[t], &lengths);
    }
    for (auto& th : pool) th.join();
  }
  for (const auto& d : docs) {
    rep->doc_ids.push_back(d.id);
    rep->external_ids.push_back(d.external_id);
  }
  // Field length statistics.
  rep->num_docs = n;
  rep->max_doc = n ? docs.back().id + 1 : 0;
  rep->SetAttributes(docs);
  std::vector<double> avg(nf, 0);
  for (size_t d = 0; d < n; ++d)
    for (size_t f = 0; f < nf; ++f) avg[f] += lengths[d * nf + f];
  for (size_t f = 0; f < nf; ++f) rep->avg_len[f] = n ? static_cast<float>(std::max(avg[f] / n, 1e-3)) : 1.0f;
  if (base) rep->avg_len = base->avg_len;  // a delta normalises lengths like its main segment
  // The global, sorted term list.
  std::vector<std::string> all;
  for (auto& s : shards)
    for (auto& t : s.terms) all.push_back(t);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  rep->terms = std::move(all);
  {
    std::unordered_map<std::string, std::string> surf;
    for (auto& sh : shards)
      for (auto& [k, v] : sh.surfaces) surf.try_emplace(k, v);
    rep->surfaces.assign(surf.begin(), surf.end());
    std::sort(rep->surfaces.begin(), rep->surfaces.end());
  }
  rep->term_info.resize(rep->terms.size());
  // Per-document normalisers: w_f / (1 - b_f + b_f * len_f / avg_f).
  std::vector<float> norm(n * nf);
  std::vector<uint32_t> doc_index_of;  // id -> index into docs (ids may have gaps)
  for (size_t d = 0; d < n; ++d)
    for (size_t f = 0; f < nf; ++f) {
      const FieldSpec& fs = options.fields[f];
      norm[d * nf + f] = fs.weight / (1 - fs.b + fs.b * lengths[d * nf + f] / rep->avg_len[f]);
    }
  std::unordered_map<uint32_t, uint32_t> gap_index;
  bool dense = n == 0 || docs.back().id + 1 == n;
  if (!dense)
    for (size_t d = 0; d < n; ++d) gap_index[docs[d].id] = static_cast<uint32_t>(d);
  std::vector<uint32_t> pdocs;
  std::vector<float> pimp;
  std::vector<uint8_t> ppos;
  for (size_t t = 0; t < rep->terms.size(); ++t) {
    pdocs.clear();
    pimp.clear();
    ppos.clear();
    for (auto& s : shards) {  // shards hold increasing, disjoint doc ranges
      auto it = s.term_ids.find(rep->terms[t]);
      if (it == s.term_ids.end()) continue;
      for (const RawPosting& p : s.postings[it->second]) {
        size_t d = dense ? p.doc : gap_index[p.doc];
        float tfp = 0;
        for (size_t f = 0; f < nf; ++f) tfp += p.tf[f] * norm[d * nf + f];
        pdocs.push_back(p.doc);
        ppos.push_back(p.title_pos);
        pimp.push_back(tfp / (options.k1 + tfp));
      }
      std::vector<RawPosting>().swap(s.postings[it->second]);
    }
    rep->EncodeTerm(pdocs, pimp, ppos, &rep->term_info[t]);
  }
  return std::unique_ptr<Index>(new Index(std::move(rep)));
}

Index::Index(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Index::~Index() = default;

size_t Index::num_docs() const { return rep_->num_docs; }

void Index::SetCatalogVersion(int64_t ms) { rep_->catalog_ms = ms; }
int64_t Index::CatalogVersion() const { return rep_->catalog_ms; }

Status Index::Update(const std::vector<Document>& upserts, const std::vector<uint32_t>& deletes) {
  Rep& r = *rep_;
  auto remove_from_main = [&](uint32_t id) {
    if (id >= r.max_doc || !std::binary_search(r.doc_ids.begin(), r.doc_ids.end(), id)) return;
    if (r.deleted.empty()) r.deleted.assign(r.max_doc, 0);
    if (!r.deleted[id]) {
      r.deleted[id] = 1;
      ++r.num_deleted;
    }
  };
  for (uint32_t id : deletes) {
    remove_from_main(id);
    r.delta_docs.erase(id);
  }
  for (const Document& d : upserts) {
    if (d.fields.size() != r.options.fields.size())
      return Status::InvalidArgument(
          fmt::format("document {} has {} fields, the index {}", d.id, d.fields.size(), r.options.fields.size()));
    remove_from_main(d.id);
    r.delta_docs[d.id] = d;
  }
  std::vector<Document> docs;
  docs.reserve(r.delta_docs.size());
  for (const auto& [id, d] : r.delta_docs) docs.push_back(d);
  r.delta.reset();
  if (!docs.empty()) {
    IndexOptions o = r.options;
    o.threads = 1;
    r.delta = BuildWithBase(docs, o, r.dict, &r);
    r.delta->rep_->synonyms = r.synonyms;
  }
  return Status::Ok();
}

size_t Index::pending_updates() const { return rep_->delta_docs.size() + rep_->num_deleted; }

void Index::SetPopularity(const std::vector<std::pair<uint32_t, float>>& doc_popularity) {
  rep_->popularity.assign(rep_->max_doc, 0.0f);
  rep_->max_popularity = 0;
  for (const auto& [doc, p] : doc_popularity)
    if (doc < rep_->max_doc && p > 0) {
      rep_->popularity[doc] = p;
      rep_->max_popularity = std::max(rep_->max_popularity, p);
    }
}

const std::string& Index::ExternalId(uint32_t doc) const {
  static const std::string kNone;
  if (rep_->delta && rep_->delta_docs.count(doc)) return rep_->delta->ExternalId(doc);
  auto it = std::lower_bound(rep_->doc_ids.begin(), rep_->doc_ids.end(), doc);
  if (it == rep_->doc_ids.end() || *it != doc) return kNone;
  return rep_->external_ids[it - rep_->doc_ids.begin()];
}
size_t Index::num_terms() const { return rep_->terms.size(); }

size_t Index::MemoryBytes() const {
  size_t b = rep_->postings.size() + rep_->impacts_pool.size() * sizeof(float) + rep_->title_pos_pool.size() +
             rep_->blocks.size() * sizeof(BlockMeta) + rep_->term_info.size() * sizeof(TermInfo);
  for (const auto& t : rep_->terms) b += t.size() + sizeof(std::string);
  return b;
}

std::string Index::Describe() const {
  std::string s = fmt::format("bm25f:k1={}", rep_->options.k1);
  for (const auto& f : rep_->options.fields) s += fmt::format(",{}={}/{}", f.name, f.weight, f.b);
  return s + ";" + rep_->analyzer->Describe();
}

Index::Rep::Rep(const IndexOptions& o, std::shared_ptr<const text::Dictionary> d)
    : options(o), dict(std::move(d)), analyzer(std::make_unique<text::Analyzer>(o.analyzer, dict)) {
  for (auto& a : avg_len) a = 1.0f;
}

const TermInfo* Index::Rep::Find(std::string_view term) const {
  auto it = std::lower_bound(terms.begin(), terms.end(), term,
                             [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
  if (it == terms.end() || *it != term) return nullptr;
  return &term_info[it - terms.begin()];
}

// ---- cursor -----------------------------------------------------------------------

void Cursor::Init(const Index::Rep* rep, const TermInfo* info, float idf) {
  rep_ = rep;
  info_ = info;
  idf_ = idf;
  block_ = 0;
  LoadBlock();
}

void Cursor::LoadBlock() {
  if (block_ >= info_->num_blocks) {
    doc_ = kEnd;
    return;
  }
  const BlockMeta& m = rep_->blocks[info_->first_block + block_];
  const uint8_t* p = rep_->postings.data() + m.offset;
  uint32_t prev = block_ == 0 ? 0 : rep_->blocks[info_->first_block + block_ - 1].last_doc;
  n_ = m.count;
  for (uint32_t i = 0; i < n_; ++i) {
    uint32_t v = 0;
    int shift = 0;
    while (*p & 0x80) {
      v |= static_cast<uint32_t>(*p++ & 0x7F) << shift;
      shift += 7;
    }
    v |= static_cast<uint32_t>(*p++) << shift;
    prev = (block_ == 0 && i == 0) ? v : prev + v;
    docs_[i] = prev;
  }
  impacts_ = rep_->impacts_pool.data() + m.impacts_offset;
  title_pos_ = rep_->title_pos_pool.data() + m.impacts_offset;
  pos_ = 0;
  doc_ = docs_[0];
}

void Cursor::Next() {
  if (doc_ == kEnd) return;
  if (++pos_ < n_) {
    doc_ = docs_[pos_];
    return;
  }
  ++block_;
  LoadBlock();
}

void Cursor::NextGEQ(uint32_t target) {
  if (doc_ >= target) return;
  // Skip whole blocks by their last doc id without decoding them.
  uint32_t b = block_;
  while (b < info_->num_blocks && rep_->blocks[info_->first_block + b].last_doc < target) ++b;
  if (b != block_) {
    block_ = b;
    LoadBlock();
    if (doc_ == kEnd) return;
  }
  while (docs_[pos_] < target) ++pos_;  // the block's last doc is >= target
  doc_ = docs_[pos_];
}

float Cursor::BlockMaxScore(uint32_t target) const {
  uint32_t b = block_;
  while (b < info_->num_blocks && rep_->blocks[info_->first_block + b].last_doc < target) ++b;
  if (b >= info_->num_blocks) return 0;
  return idf_ * rep_->blocks[info_->first_block + b].max_impact;
}

// ---- file format ----------------------------------------------------------------------

namespace {
constexpr char kMagic[8] = {'S', 'O', 'U', 'K', 'I', 'D', 'X', '7'};

void WriteStrings(std::ofstream& out, const std::vector<std::string>& v) {
  std::vector<uint32_t> lens;
  std::vector<char> bytes;
  for (const auto& x : v) {
    lens.push_back(static_cast<uint32_t>(x.size()));
    bytes.insert(bytes.end(), x.begin(), x.end());
  }
  WriteVector(out, lens);
  WriteVector(out, bytes);
}

bool ReadStrings(std::ifstream& in, std::vector<std::string>* v, uint64_t limit) {
  std::vector<uint32_t> lens;
  std::vector<char> bytes;
  if (!ReadVector(in, &lens, limit) || !ReadVector(in, &bytes, limit)) return false;
  size_t pos = 0;
  v->clear();
  for (uint32_t l : lens) {
    if (pos + l > bytes.size()) return false;
    v->emplace_back(bytes.data() + pos, l);
    pos += l;
  }
  return true;
}
}  // namespace

Status Index::Save(const std::string& path) const {
  if (rep_->delta || rep_->num_deleted)
    return Status::FailedPrecondition("the index has updates since it was built; rebuild it to save");
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(fmt::format("cannot write '{}'", tmp));
    const Rep& r = *rep_;
    out.write(kMagic, sizeof kMagic);
    // Options, so a loaded index scores and analyses as it was built.
    WritePod(out, r.options.k1);
    uint32_t nf = static_cast<uint32_t>(r.options.fields.size());
    WritePod(out, nf);
    for (const auto& f : r.options.fields) {
      uint32_t len = static_cast<uint32_t>(f.name.size());
      WritePod(out, len);
      out.write(f.name.data(), len);
      WritePod(out, f.weight);
      WritePod(out, f.b);
    }
    uint8_t an[3] = {r.options.analyzer.stem, r.options.analyzer.stop_words, r.options.analyzer.cjk};
    out.write(reinterpret_cast<const char*>(an), 3);
    WritePod(out, r.num_docs);
    WritePod(out, r.max_doc);
    WritePod(out, r.avg_len);
    // Terms: lengths then bytes.
    std::vector<uint32_t> lens;
    std::string bytes;
    for (const auto& t : r.terms) {
      lens.push_back(static_cast<uint32_t>(t.size()));
      bytes += t;
    }
    WriteVector(out, lens);
    std::vector<char> b(bytes.begin(), bytes.end());
    WriteVector(out, b);
    WriteVector(out, r.term_info);
    WriteVector(out, r.blocks);
    WriteVector(out, r.postings);
    WriteVector(out, r.impacts_pool);
    WriteVector(out, r.title_pos_pool);
    WriteVector(out, r.doc_ids);
    std::vector<uint32_t> elens;
    std::string ebytes;
    for (const auto& e : r.external_ids) {
      elens.push_back(static_cast<uint32_t>(e.size()));
      ebytes += e;
    }
    WriteVector(out, elens);
    std::vector<char> eb(ebytes.begin(), ebytes.end());
    WriteVector(out, eb);
    std::vector<uint32_t> slens;
    std::string sbytes;
    for (const auto& [a, b2] : r.surfaces) {
      slens.push_back(static_cast<uint32_t>(a.size()));
      slens.push_back(static_cast<uint32_t>(b2.size()));
      sbytes += a;
      sbytes += b2;
    }
    WriteVector(out, slens);
    std::vector<char> sb(sbytes.begin(), sbytes.end());
    WriteVector(out, sb);
    WriteVector(out, r.attr_price);
    WriteVector(out, r.attr_stock);
    WriteVector(out, r.attr_brand);
    WriteVector(out, r.attr_category);
    WriteVector(out, r.tag_offsets);
    WriteVector(out, r.attr_tags);
    for (const auto* t : {&r.brands, &r.categories, &r.tags, &r.brands_norm, &r.categories_norm, &r.tags_norm})
      WriteStrings(out, *t);
    {
      std::vector<std::string> texts;
      std::vector<uint64_t> counts;
      for (const auto& [q, n] : r.popular) {
        texts.push_back(q);
        counts.push_back(n);
      }
      WriteStrings(out, texts);
      WriteVector(out, counts);
    }
    WriteVector(out, r.popularity);
    WritePod(out, r.catalog_ms);
    out.write(kMagic, sizeof kMagic);  // trailer: a truncated file fails to load
    if (!out) return Status::IoError(fmt::format("writing '{}' failed", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError(fmt::format("cannot rename '{}' to '{}'", tmp, path));
  return Status::Ok();
}

Result<std::unique_ptr<Index>> Index::Load(const std::string& path, std::shared_ptr<const text::Dictionary> dict) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("no search index at '{}' (run `souk index`)", path));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0)
    return Status::FailedPrecondition(
        fmt::format("'{}' is not a search index of this souk version (rebuild it with `souk index`)", path));
  IndexOptions o;
  const uint64_t kLimit = uint64_t{1} << 40;
  auto bad = [&]() { return Status::Corruption(fmt::format("search index '{}' is truncated or damaged", path)); };
  uint32_t nf;
  if (!ReadPod(in, &o.k1) || !ReadPod(in, &nf) || nf > kMaxFields) return bad();
  o.fields.clear();
  for (uint32_t i = 0; i < nf; ++i) {
    uint32_t len;
    if (!ReadPod(in, &len) || len > 256) return bad();
    FieldSpec f;
    f.name.resize(len);
    if (!in.read(f.name.data(), len) || !ReadPod(in, &f.weight) || !ReadPod(in, &f.b)) return bad();
    o.fields.push_back(f);
  }
  uint8_t an[3];
  if (!in.read(reinterpret_cast<char*>(an), 3)) return bad();
  o.analyzer.stem = an[0];
  o.analyzer.stop_words = an[1];
  o.analyzer.cjk = an[2];
  auto rep = std::make_unique<Rep>(o, std::move(dict));
  if (!ReadPod(in, &rep->num_docs) || !ReadPod(in, &rep->max_doc) || !ReadPod(in, &rep->avg_len)) return bad();
  std::vector<uint32_t> lens;
  std::vector<char> bytes;
  if (!ReadVector(in, &lens, kLimit) || !ReadVector(in, &bytes, kLimit)) return bad();
  rep->terms.reserve(lens.size());
  size_t at = 0;
  for (uint32_t l : lens) {
    if (at + l > bytes.size()) return bad();
    rep->terms.emplace_back(bytes.data() + at, l);
    at += l;
  }
  if (!ReadVector(in, &rep->term_info, kLimit) || !ReadVector(in, &rep->blocks, kLimit) ||
      !ReadVector(in, &rep->postings, kLimit) || !ReadVector(in, &rep->impacts_pool, kLimit) ||
      !ReadVector(in, &rep->title_pos_pool, kLimit) || !ReadVector(in, &rep->doc_ids, kLimit))
    return bad();
  {
    std::vector<uint32_t> elens;
    std::vector<char> eb;
    if (!ReadVector(in, &elens, kLimit) || !ReadVector(in, &eb, kLimit) || elens.size() != rep->doc_ids.size()) return bad();
    size_t pos = 0;
    for (uint32_t l : elens) {
      if (pos + l > eb.size()) return bad();
      rep->external_ids.emplace_back(eb.data() + pos, l);
      pos += l;
    }
    std::vector<uint32_t> slens;
    std::vector<char> sb;
    if (!ReadVector(in, &slens, kLimit) || !ReadVector(in, &sb, kLimit) || slens.size() % 2) return bad();
    pos = 0;
    for (size_t i = 0; i < slens.size(); i += 2) {
      if (pos + slens[i] + slens[i + 1] > sb.size()) return bad();
      std::string a(sb.data() + pos, slens[i]);
      pos += slens[i];
      std::string b2(sb.data() + pos, slens[i + 1]);
      pos += slens[i + 1];
      rep->surfaces.emplace_back(std::move(a), std::move(b2));
    }
  }
  if (!ReadVector(in, &rep->attr_price, kLimit) || !ReadVector(in, &rep->attr_stock, kLimit) ||
      !ReadVector(in, &rep->attr_brand, kLimit) || !ReadVector(in, &rep->attr_category, kLimit) ||
      !ReadVector(in, &rep->tag_offsets, kLimit) || !ReadVector(in, &rep->attr_tags, kLimit))
    return bad();
  for (auto* t :
       {&rep->brands, &rep->categories, &rep->tags, &rep->brands_norm, &rep->categories_norm, &rep->tags_norm})
    if (!ReadStrings(in, t, kLimit)) return bad();
  {
    std::vector<std::string> texts;
    std::vector<uint64_t> counts;
    if (!ReadStrings(in, &texts, kLimit) || !ReadVector(in, &counts, kLimit) || texts.size() != counts.size())
      return bad();
    for (size_t i = 0; i < texts.size(); ++i) rep->popular.emplace_back(std::move(texts[i]), counts[i]);
  }
  if (!ReadVector(in, &rep->popularity, kLimit) || (!rep->popularity.empty() && rep->popularity.size() != rep->max_doc))
    return bad();
  for (float p : rep->popularity) rep->max_popularity = std::max(rep->max_popularity, p);
  if (!ReadPod(in, &rep->catalog_ms)) return bad();
  if (rep->doc_ids.size() != rep->max_doc) {
    rep->present.assign(rep->max_doc, 0);
    for (uint32_t id : rep->doc_ids) {
      if (id >= rep->max_doc) return bad();
      rep->present[id] = 1;
    }
  }
  {
    const uint32_t md = rep->max_doc;
    if (rep->attr_price.size() != md || rep->attr_stock.size() != md || rep->attr_brand.size() != md ||
        rep->attr_category.size() != md || rep->tag_offsets.size() != md + 1ull)
      return bad();
    for (uint32_t d = 0; d < md; ++d)
      if (rep->attr_brand[d] >= rep->brands.size() || rep->attr_category[d] >= rep->categories.size() ||
          rep->tag_offsets[d] > rep->tag_offsets[d + 1])
        return bad();
    if (md && rep->tag_offsets[md] != rep->attr_tags.size()) return bad();
    for (uint32_t t : rep->attr_tags)
      if (t >= rep->tags.size()) return bad();
  }
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return bad();
  if (rep->term_info.size() != rep->terms.size() || rep->title_pos_pool.size() != rep->impacts_pool.size())
    return bad();
  for (const auto& b : rep->blocks)
    if (b.offset > rep->postings.size() || b.impacts_offset + b.count > rep->impacts_pool.size()) return bad();
  for (const auto& t : rep->term_info)
    if (t.first_block + t.num_blocks > rep->blocks.size()) return bad();
  return std::unique_ptr<Index>(new Index(std::move(rep)));
}

}  // namespace souk::search

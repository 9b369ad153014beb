// Demo-shop generator. Layout of this file:
//   1. RNG and distributions (hand-written so output is identical everywhere)
//   2. dates, ids and a buffered CSV writer
//   3. the catalog vocabulary (categories, nouns, brands, synonyms)
//   4. items, users and the behaviour model (sessions, search)
//   5. fault injection
//   6. writers and GenerateShop
#include "gen/gen.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/core.h"

namespace souk::gen {
namespace {

// ============================================================================
// 1. RNG and distributions
// ============================================================================

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256**. Every component draws from its own stream (seed, stream,
// index), so e.g. user 17's behaviour does not depend on how many numbers
// the catalog consumed, and changing one part leaves the others stable.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t index = 0) {
    uint64_t x = seed;
    uint64_t a = SplitMix64(x);
    x = a ^ ((stream + 1) * 0xD1B54A32D192ED03ull);
    uint64_t b = SplitMix64(x);
    x = b ^ ((index + 1) * 0xAEF17502108EF2D9ull);
    for (auto& s : s_) s = SplitMix64(x);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform in [0, n); n > 0. Lemire's multiply-shift (bias < 2^-64 * n).
  uint64_t Below(uint64_t n) {
    assert(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform integer in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    assert(lo <= hi);
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Standard normal (Box-Muller; one value per call keeps the state simple).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  double LogNormal(double mu, double sigma) { return std::exp(mu + sigma * Normal()); }
  // Gamma(shape, 1): Marsaglia-Tsang, with the shape < 1 boost.
  double Gamma(double shape) {
    if (shape < 1.0) {
      const double u = 1.0 - Uniform();
      return Gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = 1.0 - Uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }
  // Dirichlet(alpha, ..., alpha) of dimension n.
  std::vector<double> Dirichlet(size_t n, double alpha) {
    std::vector<double> w(n);
    double sum = 0;
    for (auto& x : w) sum += (x = Gamma(alpha));
    for (auto& x : w) x /= sum;
    return w;
  }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    assert(!v.empty());
    return v[Below(v.size())];
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Stream ids for Rng. Never renumber: that changes every generated shop.
enum Stream : uint64_t {
  kStreamWorld = 1,
  kStreamItem = 2,
  kStreamPopularity = 3,
  kStreamUser = 4,
  kStreamItemFaults = 5,
  kStreamEventFaults = 6,
  kStreamDays = 7,
  kStreamBots = 8,
  kStreamDrop = 9,
  kStreamParaphrase = 10,
};

// Categorical distribution over 0..n-1 from non-negative weights.
class Categorical {
 public:
  Categorical() = default;
  explicit Categorical(const std::vector<double>& weights) {
    cdf_.reserve(weights.size());
    double sum = 0;
    for (double w : weights) cdf_.push_back(sum += std::max(0.0, w));
  }
  bool empty() const { return cdf_.empty() || cdf_.back() <= 0; }
  size_t size() const { return cdf_.size(); }
  size_t Sample(Rng& rng) const { return SampleRange(rng, 0, cdf_.size()); }
  // Samples from the restriction to [lo, hi).
  size_t SampleRange(Rng& rng, size_t lo, size_t hi) const {
    assert(lo < hi && hi <= cdf_.size());
    const double base = lo == 0 ? 0.0 : cdf_[lo - 1];
    const double x = base + rng.Uniform() * (cdf_[hi - 1] - base);
    auto it = std::upper_bound(cdf_.begin() + lo, cdf_.begin() + hi, x);
    return std::min<size_t>(it - cdf_.begin(), hi - 1);
  }

 private:
  std::vector<double> cdf_;
};

// Walker/Vose alias table: O(1) draws from a fixed categorical distribution.
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(const std::vector<double>& weights) {
    const size_t n = weights.size();
    prob_.assign(n, 1.0);
    alias_.resize(n);
    double sum = 0;
    for (double w : weights) sum += w;
    if (n == 0 || sum <= 0) return;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / sum;
      alias_[i] = static_cast<uint32_t>(i);
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) large.pop_back(), small.push_back(l);
    }
  }
  size_t size() const { return prob_.size(); }
  size_t Sample(Rng& rng) const {
    const double u = rng.Uniform() * static_cast<double>(prob_.size());
    const size_t k = std::min(static_cast<size_t>(u), prob_.size() - 1);
    return (u - static_cast<double>(k)) < prob_[k] ? k : alias_[k];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

// Zipf(s) over ranks 1..n, returned as 0-based indices.
Categorical Zipf(size_t n, double s) {
  std::vector<double> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1.0 / std::pow(static_cast<double>(i + 1), s);
  return Categorical(w);
}

// ============================================================================
// 2. Dates, ids, CSV output
// ============================================================================

constexpr int64_t kDay = 86400;
constexpr int64_t kYear2000 = 946684800;   // 2000-01-01T00:00:00Z
constexpr int64_t kYear2035 = 2051222400;  // 2035-01-01T00:00:00Z
constexpr int64_t kEnd2099 = 4102444799;   // 2099-12-31T23:59:59Z

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// YYYY-MM-DD (UTC) of a unix time (Howard Hinnant's civil_from_days).
std::string IsoDate(int64_t unix_seconds) {
  int64_t z = FloorDiv(unix_seconds, kDay) + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d));
  return buf;
}

// 0 = Sunday ... 6 = Saturday.
int Weekday(int64_t unix_seconds) {
  const int64_t days = FloorDiv(unix_seconds, kDay);
  return static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
}

int DigitsOf(uint64_t n) {
  int d = 1;
  while (n >= 10) n /= 10, ++d;
  return d;
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// prefix + n zero-padded to `width` digits.
void AppendId(std::string& out, char prefix, uint64_t n, int width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  const int len = static_cast<int>(r.ptr - buf);
  out.push_back(prefix);
  for (int i = len; i < width; ++i) out.push_back('0');
  out.append(buf, r.ptr);
}

std::string MakeId(char prefix, uint64_t n, int width) {
  std::string s;
  AppendId(s, prefix, n, width);
  return s;
}

// Cents as "1234.56" (two decimals, no float formatting involved).
void AppendCents(std::string& out, int64_t cents) {
  if (cents < 0) out.push_back('-'), cents = -cents;
  AppendInt(out, cents / 100);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + (cents / 10) % 10));
  out.push_back(static_cast<char>('0' + cents % 10));
}

std::string CentsString(int64_t cents) {
  std::string s;
  AppendCents(s, cents);
  return s;
}

// A CSV file written through a large buffer. Fields are quoted per RFC 4180
// only when they contain a comma, quote, CR or LF.
class CsvWriter {
 public:
  ~CsvWriter() {
    if (file_) std::fclose(file_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
    buf_.reserve(kFlushBytes + 4096);
    return Status::Ok();
  }
  void Field(std::string_view s) {
    Sep();
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
      buf_.append(s);
      return;
    }
    buf_.push_back('"');
    for (char c : s) {
      if (c == '"') buf_.push_back('"');
      buf_.push_back(c);
    }
    buf_.push_back('"');
  }
  // For fields known to need no quoting (numbers, ids).
  std::string& RawField() {
    Sep();
    return buf_;
  }
  void Int(int64_t v) { AppendInt(RawField(), v); }
  void Empty() { Sep(); }
  void EndRow() {
    buf_.push_back('\n');
    first_ = true;
    if (buf_.size() >= kFlushBytes) Flush();
  }
  // Appends raw bytes (used to repeat an already-formatted row).
  void Raw(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kFlushBytes) Flush();
  }
  size_t pending() const { return buf_.size(); }
  std::string_view Tail(size_t from) const { return std::string_view(buf_).substr(from); }
  Status Close() {
    Flush();
    if (!file_) return Status::IoError("write failed: " + path_);
    const bool close_failed = std::fclose(file_) != 0;
    file_ = nullptr;
    if (failed_ || close_failed) return Status::IoError("write failed: " + path_);
    return Status::Ok();
  }

 private:
  static constexpr size_t kFlushBytes = 4 << 20;
  void Sep() {
    if (!first_) buf_.push_back(',');
    first_ = false;
  }
  void Flush() {
    if (file_ && !buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) failed_ = true;
    buf_.clear();
  }
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buf_;
  bool first_ = true;
  bool failed_ = false;
};

std::vector<std::string> Split(std::string_view s, char sep = '|') {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// "running shoes" -> "Running Shoes", "t-shirt" -> "T-Shirt", "tv" -> "TV".
std::string TitleCase(std::string_view s) {
  static const char* const kUpper[] = {"tv", "rc", "stem", "usb", "led", "spf", "gps", "4k"};
  std::string out;
  for (const std::string& word : Split(s, ' ')) {
    if (!out.empty()) out.push_back(' ');
    bool upper = false;
    for (const char* u : kUpper) upper |= word == u;
    std::string w = word;
    bool start = true;
    for (char& c : w) {
      if (upper || (start && c >= 'a' && c <= 'z'))
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      start = c == '-';
    }
    out += w;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out += parts[i];
  }
  return out;
}

// ============================================================================
// 3. Catalog vocabulary
// ============================================================================

// Attribute kinds a leaf's titles may carry.
enum AttrKind : uint32_t {
  kColor = 1u << 0,
  kClothSize = 1u << 1,
  kShoeSize = 1u << 2,
  kMlSmall = 1u << 3,  // 30-200 ml
  kMl = 1u << 4,       // 350-1000 ml
  kStorage = 1u << 5,  // 64GB..1TB
  kWatt = 1u << 6,
  kMah = 1u << 7,
  kInchSmall = 1u << 8,   // laptops
  kInchMid = 1u << 9,     // monitors
  kInchLarge = 1u << 10,  // TVs
  kGrams = 1u << 11,
  kKg = 1u << 12,
  kPieces = 1u << 13,
  kPack = 1u << 14,
  kCm = 1u << 15,
  kLitreSmall = 1u << 16,  // kettles
  kLitreBig = 1u << 17,    // backpacks
  kSpf = 1u << 18,
  kPersons = 1u << 19,
  kModel = 1u << 20,
  kGender = 1u << 21,  // Men's / Women's / none
  kMen = 1u << 22,
  kWomen = 1u << 23,
  kFormat = 1u << 24,  // paperback / hardcover
  kSeats = 1u << 25,
  kBedSize = 1u << 26,
  kBallSize = 1u << 27,
  kPlayers = 1u << 28,
  kMm = 1u << 29,
};

struct LeafDef {
  int top;
  const char* mid;
  const char* leaf;
  double median_price;
  const char* nouns;     // '|'-separated, lower case, most common first
  const char* zh_nouns;  // Chinese nouns; empty = no Chinese titles in this leaf
  const char* adjectives;
  uint32_t attrs;
};

struct TopDef {
  const char* name;
  const char* brands;     // invented brand names (single words)
  const char* zh_brands;  // for Chinese titles
  const char* uses;
  const char* features;
  const char* zh_uses;
  const char* zh_features;
  const char* tags;
  const char* care;  // for the occasional second description line
};

constexpr TopDef kTops[] = {
    {"Electronics", "Voltix|Nexora|Quantra|Lumio|Zentek|Arcwave|Pixelon|Sonivo|Kyrotech|Orbix",
     "华为|小米|联想|漫步者|倍思", "everyday use|travel|work and play|gaming|the home office",
     "long battery life|fast charging|a sturdy aluminium body|Bluetooth 5.3|a two-year warranty|USB-C charging",
     "日常使用|出差旅行|办公娱乐", "续航持久|支持快充|做工精致|蓝牙5.3连接稳定",
     "wireless|usb-c|bluetooth|rechargeable|smart", "keep away from water and extreme heat"},
    {"Fashion", "Marlowe|Aldane|Corvel|Sabline|Tessaro|Norrland|Vellum|Kestrel|Fjordline|Ombra",
     "李宁|安踏|森马|波司登", "everyday wear|the office|weekends|travel|evenings out",
     "soft breathable fabric|a relaxed fit|reinforced stitching|easy-care material|a tailored cut",
     "日常穿搭|通勤上班|休闲出游", "面料舒适|透气吸汗|版型修身|做工精细", "cotton|slim-fit|casual|breathable|classic",
     "machine wash cold and dry flat"},
    {"Home & Kitchen", "Hearthly|Kitchora|Dwellio|Oakhaven|Brightnest|Casalto|Nestwell|Potterly",
     "美的|苏泊尔|九阳|海尔", "busy kitchens|small apartments|family dinners|everyday use",
     "dishwasher-safe parts|a space-saving design|easy cleaning|durable materials|a five-year warranty",
     "家庭使用|厨房烹饪|小户型", "易清洗|节省空间|经久耐用|安全无毒",
     "dishwasher-safe|bpa-free|compact|stainless|cordless", "wipe clean with a damp cloth"},
    {"Sports & Outdoors", "Trailpeak|Strideon|Summitra|Kinetiq|Ridgeway|Alpenko|Velocita|Boulderly",
     "探路者|361度|安踏|骆驼", "training|weekend hikes|the gym|outdoor adventures|race day",
     "a lightweight build|weather-resistant materials|a secure grip|quick-dry fabric|reflective details",
     "健身训练|户外运动|徒步登山", "轻便耐磨|防水防风|防滑设计", "waterproof|lightweight|outdoor|training|breathable",
     "rinse after use and air dry"},
    {"Beauty & Personal Care", "Lumière|Velura|Aurelle|Bloomique|Purava|Solenne|Dermaly",
     "百雀羚|自然堂|完美日记|珀莱雅", "daily routines|sensitive skin|travel|the morning routine",
     "natural ingredients|no parabens|a light texture|dermatologist testing|a long-lasting finish",
     "日常护理|敏感肌|旅行便携", "温和不刺激|天然成分|清爽不油腻|持久保湿",
     "vegan|cruelty-free|fragrance-free|organic|travel-size", "store in a cool dry place"},
    {"Toys & Games", "Playloom|Brickwise|Tinkertot|Funzy|Wonderkin|Zoomzy", "乐趣多|童心|智趣|贝贝乐",
     "kids aged 6 and up|family game nights|creative play|birthday gifts",
     "child-safe materials|clear instructions|bright colours|hours of fun|a sturdy storage box",
     "亲子互动|生日礼物|益智启蒙", "安全材质|色彩鲜艳|寓教于乐", "educational|gift|kids|family|creative",
     "not suitable for children under 3 years"},
    {"Books", "Penhallow|Quillstone|Inkwell|Larkspur|Foxglove|Bramble", "新知书局|青蓝出版|星河文库",
     "long train rides|book clubs|quiet evenings|curious minds",
     "a gripping plot|vivid characters|beautiful illustrations|an index and notes|a new foreword",
     "睡前阅读|通勤阅读|亲子共读", "情节紧凑|插图精美|译文流畅",
     "bestseller|paperback|new-release|award-winning|classic", "first published in this edition"},
    {"Grocery", "Harvestly|Greenmeadow|Sunmill|Oakfield|Goldcrest|Mielle|Verdello", "三只松鼠|良品铺子|百草味|农家乐",
     "breakfast|snacking|quick dinners|the pantry|sharing",
     "no artificial colours|a resealable pack|sustainably sourced ingredients|rich flavour|no added sugar",
     "早餐|休闲零食|家庭囤货", "无添加|独立包装|口感醇厚|新鲜直达", "organic|vegan|gluten-free|family-size|fair-trade",
     "store in a cool dry place once opened"},
    {"Pet Supplies", "Whiskerly|Pawsome|Furrytail|Barkwell|Purrfect|Snoutly", "宠乐|毛孩子|喵汪",
     "dogs of all sizes|indoor cats|daily walks|playtime",
     "vet-approved ingredients|durable materials|easy cleaning|a comfortable fit", "日常喂养|陪伴玩耍",
     "营养均衡|耐咬耐用|易清洁", "vet-approved|natural|durable|grain-free|eco", "keep out of direct sunlight"},
};
constexpr int kNumTops = sizeof(kTops) / sizeof(kTops[0]);

constexpr LeafDef kLeafDefs[] = {
    // Electronics
    {0, "Mobile Accessories", "Phone Cases", 15, "phone case|phone cover", "手机壳",
     "Slim|Rugged|Clear|Shockproof|Magnetic|Leather", kColor | kModel},
    {0, "Mobile Accessories", "Chargers", 22, "charger|fast charger|power adapter", "充电器|快充头",
     "Compact|Dual-Port|Foldable|GaN", kWatt},
    {0, "Mobile Accessories", "Power Banks", 32, "power bank|portable charger", "充电宝",
     "Slim|Magnetic|Rugged|Compact", kMah | kColor},
    {0, "Phones", "Smartphones", 420, "smartphone|phone", "手机|智能手机", "Flagship|Compact|Dual-SIM|Unlocked",
     kStorage | kModel | kColor},
    {0, "Audio", "Headphones", 85, "headphones|over-ear headphones", "头戴式耳机",
     "Noise-Cancelling|Wireless|Studio|Foldable", kColor | kModel},
    {0, "Audio", "Earbuds", 55, "earbuds|wireless earbuds|earphones", "蓝牙耳机|无线耳机",
     "Sport|Noise-Cancelling|Waterproof|Compact", kColor | kModel},
    {0, "Audio", "Speakers", 48, "bluetooth speaker|speaker", "蓝牙音箱", "Portable|Waterproof|Mini|Party",
     kColor | kWatt},
    {0, "Computers", "Laptops", 850, "laptop|notebook", "笔记本电脑", "Ultralight|Gaming|Business|Convertible",
     kStorage | kInchSmall | kModel},
    {0, "Computers", "Keyboards", 55, "keyboard|mechanical keyboard", "机械键盘|键盘",
     "Wireless|Backlit|Ergonomic|Compact", kColor | kModel},
    {0, "Computers", "Mice", 28, "mouse|wireless mouse|gaming mouse", "鼠标|无线鼠标",
     "Ergonomic|Silent|Rechargeable|Lightweight", kColor},
    {0, "Computers", "Monitors", 210, "monitor", "显示器", "Curved|Ultrawide|IPS|Professional", kInchMid | kModel},
    {0, "TV & Home Theater", "Televisions", 560, "tv|smart tv|television", "电视|智能电视", "QLED|OLED|Smart|Slim",
     kInchLarge | kModel},
    {0, "Wearables", "Smartwatches", 170, "smartwatch|fitness tracker", "智能手表|运动手环",
     "Waterproof|Slim|Sport|Rugged", kColor | kModel},
    // Fashion
    {1, "Shoes", "Running Shoes", 80, "running shoes|sneakers|trainers", "运动鞋|跑步鞋",
     "Lightweight|Cushioned|Breathable|Trail", kGender | kColor | kShoeSize},
    {1, "Shoes", "Boots", 95, "boots|ankle boots|chelsea boots", "靴子|短靴", "Leather|Waterproof|Suede|Lined",
     kGender | kColor | kShoeSize},
    {1, "Shoes", "Sandals", 32, "sandals|flip flops|slides", "凉鞋|拖鞋", "Comfort|Beach|Strappy|Cushioned",
     kGender | kColor | kShoeSize},
    {1, "Men's Clothing", "T-Shirts", 18, "t-shirt|tee", "T恤|短袖", "Cotton|Slim-Fit|Oversized|Graphic",
     kMen | kColor | kClothSize},
    {1, "Men's Clothing", "Jeans", 55, "jeans|denim jeans", "牛仔裤", "Slim|Straight|Relaxed|Stretch",
     kMen | kColor | kClothSize},
    {1, "Men's Clothing", "Hoodies", 42, "hoodie|sweatshirt", "卫衣|连帽衫", "Fleece|Zip-Up|Oversized|Heavyweight",
     kMen | kColor | kClothSize},
    {1, "Women's Clothing", "Dresses", 52, "dress|summer dress|maxi dress", "连衣裙", "Floral|Wrap|Linen|Midi",
     kWomen | kColor | kClothSize},
    {1, "Women's Clothing", "Jackets", 95, "jacket|rain jacket|puffer jacket", "夹克|羽绒服",
     "Quilted|Waterproof|Cropped|Hooded", kWomen | kColor | kClothSize},
    {1, "Women's Clothing", "Sweaters", 48, "sweater|jumper|cardigan", "毛衣|针织衫",
     "Cashmere|Cable-Knit|Chunky|Merino", kWomen | kColor | kClothSize},
    {1, "Accessories", "Handbags", 75, "handbag|tote bag|shoulder bag", "手提包|单肩包", "Leather|Quilted|Woven|Mini",
     kColor},
    {1, "Accessories", "Watches", 130, "watch|wristwatch", "手表|石英表", "Automatic|Chronograph|Minimalist|Diver",
     kColor | kModel},
    {1, "Accessories", "Sunglasses", 45, "sunglasses", "太阳镜|墨镜", "Polarized|Aviator|Retro|Oversized", kColor},
    {1, "Accessories", "Backpacks", 48, "backpack|rucksack|laptop backpack", "双肩包|背包",
     "Anti-Theft|Waterproof|Travel|Rolltop", kColor | kLitreBig},
    // Home & Kitchen
    {2, "Cookware", "Frying Pans", 38, "frying pan|skillet", "平底锅|煎锅", "Non-Stick|Cast Iron|Stainless|Ceramic",
     kCm},
    {2, "Cookware", "Kitchen Knives", 48, "chef knife|knife set", "菜刀|刀具套装", "Damascus|Forged|Japanese|Stainless",
     kModel},
    {2, "Kitchen Appliances", "Coffee Makers", 115, "coffee maker|espresso machine", "咖啡机",
     "Programmable|Compact|Barista|Drip", kColor | kModel},
    {2, "Kitchen Appliances", "Blenders", 68, "blender", "料理机|破壁机", "High-Speed|Personal|Glass|Quiet",
     kWatt | kColor},
    {2, "Kitchen Appliances", "Kettles", 34, "electric kettle|kettle", "电热水壶",
     "Cordless|Glass|Gooseneck|Rapid-Boil", kLitreSmall | kColor},
    {2, "Drinkware", "Water Bottles", 22, "water bottle|insulated bottle", "保温杯|水杯",
     "Insulated|Leakproof|Stainless|Sport", kMl | kColor},
    {2, "Drinkware", "Mugs", 13, "mug|coffee mug|travel mug", "马克杯|咖啡杯", "Ceramic|Enamel|Insulated|Stackable",
     kMl | kColor},
    {2, "Furniture", "Sofas", 620, "sofa|couch|loveseat", "沙发", "Sectional|Velvet|Modular|Recliner", kColor | kSeats},
    {2, "Furniture", "Office Chairs", 175, "office chair|desk chair", "办公椅|电脑椅",
     "Ergonomic|Mesh|Executive|Adjustable", kColor},
    {2, "Bedding", "Pillows", 28, "pillow|memory foam pillow", "枕头|记忆棉枕", "Hypoallergenic|Cooling|Firm|Soft",
     kPack},
    {2, "Bedding", "Duvets", 78, "duvet|comforter", "被子|羽绒被", "All-Season|Down|Lightweight|Warm", kBedSize},
    {2, "Lighting", "Lamps", 42, "lamp|desk lamp|floor lamp", "台灯|落地灯", "LED|Dimmable|Industrial|Touch", kColor},
    {2, "Cleaning", "Vacuum Cleaners", 190, "vacuum cleaner|robot vacuum|cordless vacuum", "吸尘器|扫地机器人",
     "Cordless|Bagless|Cyclonic|Smart", kWatt | kModel},
    // Sports & Outdoors
    {3, "Fitness", "Yoga Mats", 28, "yoga mat|exercise mat", "瑜伽垫", "Non-Slip|Extra-Thick|Eco|Travel", kMm | kColor},
    {3, "Fitness", "Dumbbells", 58, "dumbbells|dumbbell set", "哑铃", "Adjustable|Hex|Neoprene|Chrome", kKg},
    {3, "Camping", "Tents", 145, "tent|camping tent", "帐篷", "Pop-Up|Waterproof|Lightweight|Dome", kPersons | kColor},
    {3, "Camping", "Sleeping Bags", 68, "sleeping bag", "睡袋", "Mummy|Down|Compact|Winter", kColor},
    {3, "Cycling", "Bike Helmets", 52, "bike helmet|cycling helmet", "骑行头盔|头盔",
     "Aero|Vented|Commuter|Lightweight", kColor | kClothSize},
    {3, "Cycling", "Bike Lights", 24, "bike light|bike light set", "自行车灯|车灯",
     "Rechargeable|Bright|Waterproof|Compact", kModel},
    {3, "Hiking", "Hiking Boots", 115, "hiking boots|trekking boots", "登山鞋|徒步鞋",
     "Waterproof|Mid-Cut|Leather|Lightweight", kGender | kShoeSize | kColor},
    {3, "Team Sports", "Footballs", 24, "football|soccer ball", "足球", "Match|Training|Indoor|Pro", kBallSize},
    {3, "Racket Sports", "Tennis Rackets", 88, "tennis racket", "网球拍", "Graphite|Carbon|Oversize|Junior", kModel},
    // Beauty & Personal Care
    {4, "Skin Care", "Moisturizers", 24, "moisturizer|face cream", "面霜|保湿霜", "Hydrating|Crème|Night|Oil-Free",
     kMlSmall},
    {4, "Skin Care", "Sunscreen", 15, "sunscreen|sun cream", "防晒霜", "Mineral|Sport|Tinted|Lightweight",
     kSpf | kMlSmall},
    {4, "Skin Care", "Serums", 34, "serum|face serum", "精华液", "Hyaluronic|Retinol|Brightening|Vitamin", kMlSmall},
    {4, "Hair Care", "Shampoo", 9, "shampoo", "洗发水", "Volumizing|Anti-Dandruff|Sulfate-Free|Repair", kMl},
    {4, "Hair Care", "Hair Dryers", 58, "hair dryer|blow dryer", "吹风机", "Ionic|Compact|Professional|Travel",
     kWatt | kColor},
    {4, "Makeup", "Lipstick", 14, "lipstick|lip gloss", "口红|唇膏", "Matte|Satin|Long-Wear|Glossy", kColor},
    {4, "Fragrance", "Perfume", 62, "perfume|eau de parfum", "香水", "Floral|Woody|Fresh|Citrus", kMlSmall},
    {4, "Personal Care", "Electric Toothbrushes", 52, "electric toothbrush", "电动牙刷",
     "Sonic|Rechargeable|Smart|Travel", kColor | kModel},
    // Toys & Games
    {5, "Building Toys", "Building Blocks", 38, "building blocks|building set", "积木",
     "Creative|Classic|Technic|Starter", kPieces},
    {5, "Puzzles", "Jigsaw Puzzles", 17, "jigsaw puzzle|puzzle", "拼图", "Landscape|Panorama|Wooden|Family", kPieces},
    {5, "Games", "Board Games", 29, "board game|card game", "桌游|卡牌游戏", "Strategy|Party|Cooperative|Family",
     kPlayers},
    {5, "Plush & Dolls", "Plush Toys", 19, "plush toy|teddy bear|stuffed animal", "毛绒玩具|泰迪熊",
     "Cuddly|Giant|Mini|Soft", kCm},
    {5, "Remote Control", "RC Cars", 45, "rc car|remote control car", "遥控车|遥控汽车",
     "Off-Road|High-Speed|Drift|Amphibious", kModel | kColor},
    {5, "Educational", "STEM Kits", 34, "stem kit|science kit", "科学实验套装", "Robotics|Coding|Chemistry|Electronics",
     kModel},
    // Books
    {6, "Fiction", "Mystery Novels", 14, "mystery novel|thriller", "悬疑小说|推理小说",
     "Gripping|Bestselling|Award-Winning|Classic", kFormat},
    {6, "Fiction", "Science Fiction", 15, "science fiction novel|sci-fi novel", "科幻小说",
     "Epic|Classic|Dystopian|Cosmic", kFormat},
    {6, "Nonfiction", "Cookbooks", 24, "cookbook|recipe book", "菜谱|食谱", "Vegetarian|Baking|Quick|Family", kFormat},
    {6, "Nonfiction", "Biographies", 18, "biography|memoir", "传记|回忆录", "Inspiring|Definitive|Illustrated|Candid",
     kFormat},
    {6, "Children's Books", "Picture Books", 10, "picture book", "绘本|儿童绘本",
     "Illustrated|Bedtime|Rhyming|Interactive", kFormat},
    {6, "Comics", "Graphic Novels", 17, "graphic novel|comic book", "漫画", "Collected|Deluxe|Omnibus|Illustrated",
     kFormat},
    // Grocery
    {7, "Beverages", "Coffee Beans", 14, "coffee beans|ground coffee", "咖啡豆",
     "Dark Roast|Medium Roast|Single-Origin|Café", kGrams},
    {7, "Beverages", "Tea", 7, "green tea|black tea|herbal tea", "绿茶|红茶", "Organic|Loose-Leaf|Decaf|Premium",
     kGrams},
    {7, "Snacks", "Nuts", 9, "mixed nuts|almonds|cashews", "坚果|每日坚果", "Roasted|Salted|Raw|Honey", kGrams},
    {7, "Snacks", "Chocolate", 4.5, "chocolate bar|dark chocolate", "巧克力", "Belgian|Sea Salt|Milk|Hazelnut", kGrams},
    {7, "Snacks", "Chips", 3.2, "potato chips|crisps|tortilla chips", "薯片", "Sea Salt|Kettle|Spicy|Sour Cream",
     kGrams},
    {7, "Pantry", "Olive Oil", 12, "olive oil|virgin olive oil", "橄榄油", "Cold-Pressed|Organic|Greek|Italian", kMl},
    {7, "Pantry", "Rice", 8, "basmati rice|jasmine rice|rice", "大米|香米", "Aged|Organic|Long-Grain|Premium", kKg},
    {7, "Breakfast", "Cereal", 5.5, "cereal|granola|muesli", "麦片|燕麦片", "Crunchy|Honey|Whole-Grain|Low-Sugar",
     kGrams},
    // Pet Supplies
    {8, "Dogs", "Dog Food", 42, "dog food|puppy food", "狗粮", "Grain-Free|Senior|High-Protein|Natural", kKg},
    {8, "Dogs", "Dog Toys", 11, "dog toy|chew toy", "狗玩具|磨牙玩具", "Durable|Squeaky|Rope|Interactive", kColor},
    {8, "Dogs", "Dog Leashes", 16, "dog leash|dog lead", "牵引绳", "Retractable|Reflective|Padded|Nylon", kColor},
    {8, "Cats", "Cat Food", 30, "cat food|kitten food", "猫粮", "Grain-Free|Indoor|Salmon|Natural", kKg},
    {8, "Cats", "Cat Litter", 19, "cat litter", "猫砂", "Clumping|Unscented|Tofu|Clay", kKg},
    {8, "Cats", "Scratching Posts", 42, "scratching post|cat tree", "猫抓板|猫爬架", "Sisal|Multi-Level|Compact|Deluxe",
     kCm},
};
constexpr int kNumLeaves = sizeof(kLeafDefs) / sizeof(kLeafDefs[0]);

// Query synonyms: one group per line of synonyms.txt. Titles use the first
// form or another one; search queries sometimes use a different member.
constexpr const char* kSynonymGroups[] = {
    "sneakers,trainers",
    "phone,mobile,cellphone",
    "tv,television",
    "couch,sofa",
    "earbuds,earphones",
    "headphones,headset",
    "laptop,notebook",
    "sweater,jumper,pullover",
    "hoodie,sweatshirt",
    "backpack,rucksack",
    "chips,crisps",
    "football,soccer ball",
    "t-shirt,tee",
    "mug,cup",
    "skillet,frying pan",
    "duvet,comforter",
    "sunscreen,sunblock,sun cream",
    "moisturizer,face cream",
    "perfume,fragrance",
    "jigsaw puzzle,puzzle",
    "rc car,remote control car",
    "power bank,portable charger",
    "charger,power adapter",
    "vacuum cleaner,hoover",
    "bike,bicycle",
    "cookbook,recipe book",
    "graphic novel,comic book",
    "sunglasses,shades",
    "jacket,coat",
    "dumbbells,weights",
    "plush toy,stuffed animal",
    "biography,memoir",
    "dog leash,dog lead",
    "handbag,purse",
    "wristwatch,watch",
    "smartwatch,smart watch",
    "monitor,display",
    "lipstick,lip color",
    "hiking boots,trekking boots",
    "tent,shelter",
};

// Paraphrases (GenOptions::paraphrase_share): per leaf, '|'-separated ways
// to ask for its products without any of the words its titles use (nouns,
// adjectives, attributes) or their synonyms, so only a model that learned
// what the words mean finds the item. A phrase sharing a word with the
// wanted item's title is skipped when a query is made.
struct ParaphraseDef {
  const char* leaf;
  const char* phrases;
};
constexpr ParaphraseDef kParaphrases[] = {
    {"Phone Cases", "handset shell|protective shell for handset|handset sleeve"},
    {"Chargers", "charging brick|wall plug for charging|charging block"},
    {"Power Banks", "battery pack|travel battery|spare battery pack"},
    {"Smartphones", "cell handset|pocket handset|handset with touchscreen"},
    {"Headphones", "cans for music|ear cans|music cans"},
    {"Earbuds", "in-ear buds|ear pods|tiny ear pods"},
    {"Speakers", "sound box|music box for parties|boombox"},
    {"Laptops", "portable computer|foldable computer|computer to carry"},
    {"Keyboards", "typing board|typing keys|keys for typing"},
    {"Mice", "pointing device|cursor clicker|clicker for computer"},
    {"Monitors", "computer screen|desktop screen|screen for pc"},
    {"Televisions", "telly|big screen for living room|home cinema screen"},
    {"Smartwatches", "wrist computer|step counter band|activity band"},
    {"Running Shoes", "jogging footwear|footwear for jogging|jogger footwear"},
    {"Boots", "footwear for winter|high footwear|winter footwear"},
    {"Sandals", "summer footwear|open toe footwear|beach footwear"},
    {"T-Shirts", "short sleeve top|crew neck top|basic top"},
    {"Jeans", "blue trousers|five pocket trousers|casual trousers"},
    {"Hoodies", "hooded top|top with hood|pullover with hood"},
    {"Dresses", "frock|gown|one-piece outfit"},
    {"Jackets", "outerwear|windbreaker|anorak"},
    {"Sweaters", "knitwear|knitted top|wool top"},
    {"Handbags", "ladies bag|carryall|clutch"},
    {"Watches", "timepiece|wrist timepiece|analog timepiece"},
    {"Sunglasses", "eyewear for sun|tinted eyewear|sun specs"},
    {"Backpacks", "daypack|school bag|knapsack"},
    {"Frying Pans", "saute cookware|pan for eggs|griddle"},
    {"Kitchen Knives", "cutlery for cooking|blade for cooking|cleaver"},
    {"Coffee Makers", "brewer|coffee brewer|brewing appliance"},
    {"Blenders", "smoothie appliance|mixer for smoothies|food liquidiser"},
    {"Kettles", "water boiler|boiler for tea|hot water boiler"},
    {"Water Bottles", "drink flask|flask for drinks|hydration flask"},
    {"Mugs", "beaker|tea beaker|hot drink beaker"},
    {"Sofas", "settee|divan|living room seating"},
    {"Office Chairs", "swivel seat|work seat|seat for working"},
    {"Pillows", "cushion for sleeping|head cushion|bed cushion"},
    {"Duvets", "quilt|bed quilt|blanket for bed"},
    {"Lamps", "light fixture|reading light fixture|luminaire"},
    {"Vacuum Cleaners", "floor sweeper|dust sucker|carpet sweeper"},
    {"Yoga Mats", "pilates pad|workout pad|floor pad for stretching"},
    {"Dumbbells", "hand barbells|free barbells|gym barbells"},
    {"Tents", "camping canopy|outdoor canopy|bivouac"},
    {"Sleeping Bags", "camping bedroll|bedroll|outdoor bedroll"},
    {"Bike Helmets", "head protection for riding|rider headgear|riding headgear"},
    {"Bike Lights", "headlamp for riding|riding torch|cyclist torch"},
    {"Hiking Boots", "mountain footwear|walking footwear|footwear for mountains"},
    {"Footballs", "kickball|match kickball|kickball for kids"},
    {"Tennis Rackets", "court racquet|racquet for courts|graphite racquet"},
    {"Moisturizers", "hydration lotion|skin lotion|lotion for dry skin"},
    {"Sunscreen", "uv lotion|uv protection lotion|tanning lotion"},
    {"Serums", "skin elixir|facial elixir|elixir for skin"},
    {"Shampoo", "hair wash|hair cleanser|scalp wash"},
    {"Hair Dryers", "hair blower|styling blower|blower for hair"},
    {"Lipstick", "lip rouge|mouth rouge|rouge for lips"},
    {"Perfume", "scent|cologne|eau de toilette"},
    {"Electric Toothbrushes", "dental brush|teeth cleaner|oral care brush"},
    {"Building Blocks", "construction bricks|bricks for kids|brick toys"},
    {"Jigsaw Puzzles", "pieces to assemble|picture pieces|brain teaser"},
    {"Board Games", "tabletop game|family tabletop|dice game"},
    {"Plush Toys", "cuddly animal|soft animal|fluffy animal"},
    {"RC Cars", "radio controlled vehicle|toy vehicle|hobby vehicle"},
    {"STEM Kits", "experiment box|lab set for kids|experiment set"},
    {"Mystery Novels", "whodunit|detective story|crime fiction"},
    {"Science Fiction", "space opera|futuristic story|space story"},
    {"Cookbooks", "cooking guide|kitchen guide|guide to cooking"},
    {"Biographies", "life story|autobiography|life history"},
    {"Picture Books", "illustrated story for kids|storybook|bedtime storybook"},
    {"Graphic Novels", "manga|illustrated saga|cartoon saga"},
    {"Coffee Beans", "espresso roast|arabica|java"},
    {"Tea", "chai|infusion|leaf infusion"},
    {"Nuts", "trail mix|snack kernels|kernels"},
    {"Chocolate", "cocoa treat|cacao treat|candy"},
    {"Chips", "salty snack|crunchy snack|savory snack"},
    {"Olive Oil", "cooking fat|salad dressing base|evoo"},
    {"Rice", "grain for risotto|long grains|pilaf grains"},
    {"Cereal", "morning flakes|oat flakes|porridge oats"},
    {"Dog Food", "kibble|canine kibble|puppy kibble"},
    {"Dog Toys", "fetch ball|tug rope|canine plaything"},
    {"Dog Leashes", "walking tether|canine tether|harness strap"},
    {"Cat Food", "feline kibble|kibble for felines|tuna for felines"},
    {"Cat Litter", "litter tray filler|feline toilet sand|toilet sand"},
    {"Scratching Posts", "feline climber|claw sharpener|feline scratcher"},
};

const char* const kLines[] = {"Trailblazer", "Nova",   "Apex",  "Zen",   "Aero",   "Pulse",   "Vista",
                              "Terra",       "Orbit",  "Flex",  "Prime", "Echo",   "Summit",  "Breeze",
                              "Core",        "Edge",   "Luxe",  "Swift", "Urban",  "Classic", "Halo",
                              "Atlas",       "Cirrus", "Drift", "Ember", "Fusion", "Glide",   "Horizon"};
const char* const kColors[][2] = {{"Black", "黑色"}, {"White", "白色"},  {"Blue", "蓝色"},    {"Red", "红色"},
                                  {"Green", "绿色"}, {"Grey", "灰色"},   {"Navy", "藏青色"},  {"Pink", "粉色"},
                                  {"Beige", "米色"}, {"Silver", "银色"}, {"Olive", "橄榄绿"}, {"Burgundy", "酒红色"}};
constexpr char kModelLetters[] = "ABCDEFGHJKLMNPRSTVXZ";

struct AttrValue {
  std::string en;     // as in an English title: "Blue", "500ml", "EU 42"
  std::string zh;     // as in a Chinese title: "蓝色", "500ml", "42码"
  std::string token;  // one lower-case query word, or empty when unsuitable
};

// Attribute values for one item, in title order.
std::vector<AttrValue> MakeAttrs(uint32_t kinds, Rng& rng) {
  std::vector<AttrValue> out;
  auto unit = [&](std::initializer_list<const char*> values, std::string_view suffix, std::string_view zh_suffix,
                  bool token) {
    std::vector<const char*> v(values);
    std::string num = v[rng.Below(v.size())];
    AttrValue a{num + std::string(suffix), num + std::string(zh_suffix), ""};
    if (token) a.token = AsciiLower(a.en);
    out.push_back(std::move(a));
  };
  if (kinds & kModel) {
    const size_t nl = sizeof(kModelLetters) - 1;
    std::string code(1, kModelLetters[rng.Below(nl)]);
    const int form = static_cast<int>(rng.Below(4));
    int64_t n = form == 0   ? rng.Range(1, 9)
                : form == 1 ? rng.Range(1, 9) * 10
                : form == 2 ? rng.Range(1, 99) * 10
                            : rng.Range(1, 9) * 1000;
    code += std::to_string(n);
    out.push_back({code, AsciiLower(code), AsciiLower(code)});
  }
  if (kinds & kStorage) unit({"64", "128", "256", "512"}, "GB", "GB", true);
  if (kinds & kInchSmall) unit({"13", "14", "15", "16"}, "-inch", "英寸", true);
  if (kinds & kInchMid) unit({"24", "27", "32", "34"}, "-inch", "英寸", true);
  if (kinds & kInchLarge) unit({"43", "50", "55", "65", "75"}, "-inch", "英寸", true);
  if (kinds & kWatt) unit({"20", "30", "45", "65", "100"}, "W", "W", true);
  if (kinds & kMah) unit({"5000", "10000", "20000"}, "mAh", "mAh", true);
  if (kinds & kMlSmall) unit({"30", "50", "100", "200"}, "ml", "ml", true);
  if (kinds & kMl) unit({"350", "500", "750", "1000"}, "ml", "ml", true);
  if (kinds & kGrams) unit({"100", "200", "250", "500"}, "g", "g", true);
  if (kinds & kKg) unit({"1", "2", "5", "10"}, "kg", "kg", true);
  if (kinds & kCm) unit({"20", "24", "28", "30", "40"}, "cm", "cm", true);
  if (kinds & kMm) unit({"4", "6", "8", "10"}, "mm", "mm", true);
  if (kinds & kLitreSmall) unit({"1.5", "1.7"}, "L", "L", true);
  if (kinds & kLitreBig) unit({"20", "25", "30", "40"}, "L", "L", true);
  if (kinds & kPieces) unit({"300", "500", "1000", "1500"}, " pcs", "片", false);
  if (kinds & kPack) unit({"2", "3", "4"}, "-Pack", "只装", false);
  if (kinds & kSpf)
    unit({"30", "50"}, "", "", false), out.back().en = "SPF " + out.back().en, out.back().zh = "SPF" + out.back().zh;
  if (kinds & kPersons) unit({"1", "2", "3", "4"}, "-Person", "人", false);
  if (kinds & kSeats) unit({"2", "3", "4"}, "-Seater", "人位", false);
  if (kinds & kPlayers) unit({"2-4", "2-6", "3-8"}, " Players", "人", false);
  if (kinds & kBallSize) unit({"3", "4", "5"}, "", "号", false), out.back().en = "Size " + out.back().en;
  if (kinds & kBedSize) {
    static const char* const kBed[][2] = {{"Single", "单人"}, {"Double", "双人"}, {"Queen", "加大"}, {"King", "特大"}};
    auto& b = kBed[rng.Below(4)];
    out.push_back({b[0], b[1], ""});
  }
  if (kinds & kFormat) {
    const bool hard = rng.Bernoulli(0.3);
    out.push_back({hard ? "Hardcover" : "Paperback", hard ? "精装" : "平装", ""});
  }
  if (kinds & kColor) {
    auto& c = kColors[rng.Below(std::size(kColors))];
    out.push_back({c[0], c[1], AsciiLower(c[0])});
  }
  if (kinds & kClothSize) {
    static const char* const kSizes[] = {"S", "M", "L", "XL", "XXL"};
    std::string s = kSizes[rng.Below(5)];
    out.push_back({"Size " + s, s + "码", ""});
  }
  if (kinds & kShoeSize) {
    std::string s = std::to_string(rng.Range(36, 46));
    out.push_back({"EU " + s, s + "码", ""});
  }
  return out;
}

// ============================================================================
// 4. The world: items, users, behaviour
// ============================================================================

constexpr int kDim = 8;
using Vec = std::array<float, kDim>;

// Behaviour constants (docs/generator.md explains the model).
constexpr double kPriceSigma = 0.35;   // item log-price spread within a leaf
constexpr double kPriceClip = 2.5;     // ... clipped to +-2.5 sigma
constexpr double kBeta = 2.0;          // weight of the latent match u.v
constexpr double kPriceGamma = 2.0;    // penalty on distance to the user's price band
constexpr double kBrandBonus = 0.8;    // favourite brand
constexpr double kElsewhere = 0.10;    // taste mass outside the favourite leaves
constexpr double kSearchShare = 0.30;  // sessions that start with a search
constexpr double kRepeatView = 0.12;   // views of an item seen before
constexpr double kLeafSwitch = 0.10;   // views that move to another favourite leaf
constexpr double kClickBase = 0.30, kCartBase = 0.25, kPurchaseP = 0.5, kRatingP = 0.3;
constexpr double kGapMedian = 40, kGapSigma = 1.0;
constexpr int64_t kMinGap = 3, kMaxGap = 1800;  // => at most 20 events a minute
constexpr int kMaxSessionEvents = 40;
constexpr double kMeanSessions = 5.5;  // per human user over the period
constexpr int kMaxSessions = 80;
constexpr size_t kMaxCandidates = 128;  // softmax over at most this many items
constexpr double kTypoP = 0.10, kSynonymP = 0.15;

enum EventKind : uint8_t { kView = 0, kClick, kCart, kPurchase, kRating, kSearch };
constexpr const char* kEventNames[] = {"view", "click", "cart", "purchase", "rating", "search"};
constexpr uint32_t kNone = 0xFFFFFFFFu;

enum class ItemFault : uint8_t { kNone, kInvalid, kPriceOutlier, kBrokenTitle };

// What the choice model reads per item, kept small and (per leaf) contiguous
// because it is scanned for every user.
struct ItemHot {
  Vec vec{};
  float log_rel_price = 0;  // log(price / leaf median)
  float log_pop = 0;        // log of the Zipf weight within the leaf
  uint32_t brand = 0;
  uint16_t leaf = 0;
  uint16_t zh = 0;
};

struct Leaf {
  int top = 0;
  std::string path;  // "Top > Mid > Leaf"
  double median = 1;
  std::vector<std::string> nouns, zh_nouns, adjectives;
  uint32_t attrs = 0;
  Vec vec{};
  double size_weight = 1;       // relative share of the catalog
  std::vector<uint32_t> items;  // items that may appear in events
  std::vector<ItemHot> hot;     // parallel to `items`
  AliasTable pop_alias;         // popularity over `items`
};

struct Item {
  uint32_t leaf = 0;
  uint32_t brand = 0;  // index into World::brands
  bool zh = false;
  int64_t price_cents = 0;  // the true price (behaviour uses this)
  float log_rel_price = 0;  // log(price / leaf median)
  float pop = 1;            // Zipf weight within the leaf
  Vec vec{};
  std::string title, description, tags, noun;  // noun: lower-case, as in the title
  std::vector<std::string> query_words;        // attribute/adjective words usable in queries
  int32_t stock = 0;
  int64_t created = 0;  // unix seconds
  ItemFault fault = ItemFault::kNone;
  std::string price_field;  // price as written (differs for faulty rows)
  bool empty_id = false;
};

struct User {
  int64_t signup = 0;
  uint8_t region = 0, device = 0, age = 0;
  bool bot = false;
};

// One event, 32 bytes. Strings are produced only when writing.
struct Event {
  int64_t ts;
  uint32_t user;
  uint32_t item;  // kNone for search
  uint32_t session;
  uint32_t query;  // 1 + index into the query table, 0 = none
  int32_t value;   // rating 1-5, purchase price in cents, -1 = none
  uint8_t type;
  uint8_t position;  // 0 = none
  uint8_t bot;
  uint8_t pad = 0;
};
static_assert(sizeof(Event) == 32);

const char* const kRegions[] = {"US", "GB", "DE", "FR", "ES", "IT", "NL", "CN", "JP", "BR"};
constexpr double kRegionWeights[] = {0.30, 0.12, 0.12, 0.08, 0.06, 0.05, 0.04, 0.13, 0.05, 0.05};
constexpr int kRegionCN = 7;
const char* const kDevices[] = {"mobile", "desktop", "tablet"};
constexpr double kDeviceWeights[] = {0.55, 0.35, 0.10};
const char* const kAgeBands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};
constexpr double kAgeWeights[] = {0.16, 0.30, 0.22, 0.15, 0.10, 0.07};
constexpr double kHourWeights[24] = {0.35, 0.2,  0.12, 0.1, 0.1,  0.15, 0.3,  0.5, 0.7, 0.8, 0.85, 0.9,
                                     1.0,  0.95, 0.9,  0.9, 0.95, 1.1,  1.35, 1.6, 1.8, 1.7, 1.3,  0.7};

struct World {
  GenOptions opt;
  int64_t start = 0;  // first second of the window
  std::vector<Leaf> leaves;
  std::vector<std::string> brands;                // global brand names
  std::vector<std::vector<uint32_t>> top_brands;  // per top: English brand ids
  std::vector<std::vector<uint32_t>> top_zh_brands;
  std::vector<Item> items;
  std::vector<User> users;
  std::vector<ItemHot> hot;                       // by item id
  std::vector<uint32_t> eligible;                 // items that may appear in events
  Categorical leaf_pick;                          // leaves by catalog share (eligible only)
  std::vector<std::vector<uint32_t>> top_leaves;  // eligible leaves per top
  Categorical day_pick;                           // days of the window by weekly cycle
  Categorical hour_pick;
  Categorical position_pick;  // search result positions 1..20
  Categorical region_pick, device_pick, age_pick;
  std::vector<std::vector<std::string>> synonyms;
  int item_width = 6, user_width = 6;
  // Search queries: interned strings and the items each was generated for.
  std::vector<std::string> queries;
  std::unordered_map<std::string, uint32_t> query_index;
  std::vector<std::vector<uint32_t>> query_wanted;
  std::vector<uint8_t> query_paraphrase;  // 1 = made as a paraphrase (for judgments' kind column)

  uint32_t Intern(const std::string& q, uint32_t wanted, bool paraphrase = false) {
    auto [it, inserted] = query_index.emplace(q, static_cast<uint32_t>(queries.size()));
    if (inserted) {
      queries.push_back(q);
      query_wanted.emplace_back();
      query_paraphrase.push_back(0);
    }
    if (paraphrase) query_paraphrase[it->second] = 1;
    query_wanted[it->second].push_back(wanted);  // deduplicated when judgments are written
    return it->second + 1;
  }
};

void BuildVocabulary(World& w) {
  Rng rng(w.opt.seed, kStreamWorld);
  for (int t = 0; t < kNumTops; ++t) {
    std::vector<uint32_t> en, zh;
    for (auto& b : Split(kTops[t].brands)) en.push_back(static_cast<uint32_t>(w.brands.size())), w.brands.push_back(b);
    for (auto& b : Split(kTops[t].zh_brands)) {
      // Brands shared by two tops (e.g. 安踏) keep one id.
      auto it = std::find(w.brands.begin(), w.brands.end(), b);
      if (it != w.brands.end()) {
        zh.push_back(static_cast<uint32_t>(it - w.brands.begin()));
      } else {
        zh.push_back(static_cast<uint32_t>(w.brands.size()));
        w.brands.push_back(b);
      }
    }
    w.top_brands.push_back(std::move(en));
    w.top_zh_brands.push_back(std::move(zh));
  }
  // Leaf vectors: a top-level direction plus a leaf-specific one, so leaves of
  // one top are similar but distinguishable.
  std::vector<Vec> top_vecs(kNumTops);
  for (auto& v : top_vecs)
    for (auto& x : v) x = static_cast<float>(rng.Normal(0, 0.7));
  for (int l = 0; l < kNumLeaves; ++l) {
    const LeafDef& d = kLeafDefs[l];
    Leaf leaf;
    leaf.top = d.top;
    leaf.path = std::string(kTops[d.top].name) + " > " + d.mid + " > " + d.leaf;
    leaf.median = d.median_price;
    leaf.nouns = Split(d.nouns);
    leaf.zh_nouns = Split(d.zh_nouns);
    leaf.adjectives = Split(d.adjectives);
    leaf.attrs = d.attrs;
    double norm = 0;
    for (int k = 0; k < kDim; ++k) {
      leaf.vec[k] = top_vecs[d.top][k] + static_cast<float>(rng.Normal(0, 0.7));
      norm += leaf.vec[k] * leaf.vec[k];
    }
    norm = std::sqrt(norm);
    for (auto& x : leaf.vec) x = static_cast<float>(x / norm);
    leaf.size_weight = rng.LogNormal(0, 0.5);
    w.leaves.push_back(std::move(leaf));
  }
  for (const char* g : kSynonymGroups) w.synonyms.push_back(Split(g, ','));

  std::vector<double> dw(w.opt.days);
  for (uint32_t d = 0; d < w.opt.days; ++d) {
    const int wd = Weekday(w.start + static_cast<int64_t>(d) * kDay + kDay / 2);
    dw[d] = (wd == 0 || wd == 6) ? 1.2 : 1.0;
  }
  w.day_pick = Categorical(dw);
  w.hour_pick = Categorical(std::vector<double>(std::begin(kHourWeights), std::end(kHourWeights)));
  std::vector<double> pw(20);
  for (int p = 0; p < 20; ++p) pw[p] = 1.0 / std::pow(p + 1.0, 1.2);
  w.position_pick = Categorical(pw);
  w.region_pick = Categorical(std::vector<double>(std::begin(kRegionWeights), std::end(kRegionWeights)));
  w.device_pick = Categorical(std::vector<double>(std::begin(kDeviceWeights), std::end(kDeviceWeights)));
  w.age_pick = Categorical(std::vector<double>(std::begin(kAgeWeights), std::end(kAgeWeights)));
}

// ---- item text ---------------------------------------------------------------

std::string Article(std::string_view word) {
  const char c = word.empty() ? 'x' : static_cast<char>(std::tolower(static_cast<unsigned char>(word[0])));
  return (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') ? "An" : "A";
}

void MakeItemText(const World& w, Item& it, Rng& rng) {
  const Leaf& leaf = w.leaves[it.leaf];
  const TopDef& top = kTops[leaf.top];
  const std::string& brand = w.brands[it.brand];
  std::vector<AttrValue> attrs = MakeAttrs(leaf.attrs, rng);
  int gender = 0;  // 1 men, 2 women
  if (leaf.attrs & kMen) gender = 1;
  if (leaf.attrs & kWomen) gender = 2;
  if ((leaf.attrs & kGender) && rng.Bernoulli(0.7)) gender = rng.Bernoulli(0.5) ? 1 : 2;

  std::string adjective = rng.Bernoulli(0.65) ? rng.Pick(leaf.adjectives) : "";
  std::vector<std::string> parts;
  std::vector<std::string> attr_en;
  for (auto& a : attrs) {
    attr_en.push_back(a.en);
    if (!a.token.empty()) it.query_words.push_back(a.token);
  }
  if (!adjective.empty() && adjective.find_first_of(" -") == std::string::npos &&
      static_cast<unsigned char>(adjective[0]) < 0x80)
    it.query_words.push_back(AsciiLower(adjective));

  if (it.zh) {
    // "华为 p40 手机壳", "李宁 运动鞋 男款", "保温杯 500ml".
    it.noun = rng.Pick(leaf.zh_nouns);
    if (rng.Bernoulli(0.85)) parts.push_back(brand);
    const bool has_model = (leaf.attrs & kModel) != 0;
    if (has_model && rng.Bernoulli(0.5)) parts.push_back(attrs.front().zh);
    parts.push_back(it.noun);
    if (gender) parts.push_back(gender == 1 ? "男款" : "女款");
    for (size_t i = has_model ? 1 : 0, extra = 0; i < attrs.size() && extra < 2; ++i, ++extra)
      if (rng.Bernoulli(0.6)) parts.push_back(attrs[i].zh);
    it.title = Join(parts, " ");
    const auto zh_features = Split(top.zh_features), zh_uses = Split(top.zh_uses);
    std::string d = brand + it.noun + "，" + rng.Pick(zh_features) + "，适合" + rng.Pick(zh_uses) + "。";
    if (!attrs.empty()) {
      std::vector<std::string> zs;
      for (auto& a : attrs) zs.push_back(a.zh);
      d += "规格: " + Join(zs, ", ") + "。";
    }
    if (rng.Bernoulli(0.2)) d += "买家评价：\"" + it.noun + "很好用\"。";
    it.description = std::move(d);
  } else {
    // "Strideon Men’s Trailblazer Lightweight Running Shoes X200 Blue EU 42".
    it.noun = rng.Pick(leaf.nouns);
    parts.push_back(brand);
    if (gender) parts.push_back(gender == 1 ? "Men\u2019s" : "Women\u2019s");
    if (rng.Bernoulli(0.35)) parts.push_back(kLines[rng.Below(std::size(kLines))]);
    if (!adjective.empty()) parts.push_back(adjective);
    parts.push_back(TitleCase(it.noun));
    for (auto& a : attr_en) parts.push_back(a);
    it.title = Join(parts, " ");

    const auto uses = Split(top.uses), features = Split(top.features);
    std::string adj_l = adjective.empty() ? "" : AsciiLower(adjective) + " ";
    std::string d = adj_l + it.noun;
    const bool plural = it.noun.back() == 's' && it.noun.size() > 2 && it.noun[it.noun.size() - 2] != 's';
    if (plural)
      d[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(d[0])));
    else
      d = Article(d) + " " + d;
    d += " from " + brand;
    if (!attr_en.empty()) d += ", " + Join(attr_en, ", ");
    const size_t f1 = rng.Below(features.size()), f2 = (f1 + 1 + rng.Below(features.size() - 1)) % features.size();
    d += ". Made for " + rng.Pick(uses) + ", with " + features[f1] + " and " + features[f2] + ".";
    if (rng.Bernoulli(0.2)) d += " Customers call it \"the best " + it.noun + " for " + rng.Pick(uses) + "\".";
    it.description = std::move(d);
  }
  // About 1% of descriptions carry a second line, to exercise CSV readers.
  if (rng.Bernoulli(0.01)) it.description += std::string("\nCare: ") + top.care + ".";

  std::vector<std::string> tag_pool = Split(top.tags);
  for (const char* g : {"sale", "new", "bestseller", "limited-edition", "gift-idea", "eco"}) tag_pool.push_back(g);
  rng.Shuffle(tag_pool);
  const size_t ntags = 1 + rng.Below(3);
  tag_pool.resize(ntags);
  std::sort(tag_pool.begin(), tag_pool.end());
  it.tags = Join(tag_pool, "|");
}

void BuildItems(World& w) {
  const uint32_t n = w.opt.items;
  w.items.resize(n);
  std::vector<double> leaf_w(kNumLeaves);
  for (int l = 0; l < kNumLeaves; ++l) leaf_w[l] = w.leaves[l].size_weight;
  Categorical leaf_cat(leaf_w);
  std::vector<std::vector<uint32_t>> leaf_items(kNumLeaves);
  for (uint32_t i = 0; i < n; ++i) {
    Rng rng(w.opt.seed, kStreamItem, i);
    Item& it = w.items[i];
    // The first items cover every leaf once, so small shops have all leaves.
    it.leaf = i < static_cast<uint32_t>(kNumLeaves) ? i : static_cast<uint32_t>(leaf_cat.Sample(rng));
    const Leaf& leaf = w.leaves[it.leaf];
    it.zh = !leaf.zh_nouns.empty() && rng.Bernoulli(w.opt.chinese_title_share);
    const auto& pool = it.zh ? w.top_zh_brands[leaf.top] : w.top_brands[leaf.top];
    it.brand = pool[Zipf(pool.size(), 0.8).Sample(rng)];
    const double z = std::clamp(rng.Normal(), -kPriceClip, kPriceClip);
    double price = leaf.median * std::exp(kPriceSigma * z);
    int64_t cents = std::llround(price * 100);
    if (price >= 20) cents = (cents / 100) * 100 - 1;  // charm pricing: 79.99
    it.price_cents = std::max<int64_t>(cents, 1);
    it.log_rel_price = static_cast<float>(std::log(it.price_cents / 100.0 / leaf.median));
    it.price_field = CentsString(it.price_cents);
    for (int k = 0; k < kDim; ++k) it.vec[k] = leaf.vec[k] + static_cast<float>(rng.Normal(0, 0.35));
    it.stock = rng.Bernoulli(0.05) ? 0 : static_cast<int32_t>(std::llround(rng.LogNormal(std::log(40.0), 1.0))) + 1;
    it.created = w.start - rng.Range(1, 1000) * kDay;
    MakeItemText(w, it, rng);
    leaf_items[it.leaf].push_back(i);
  }
  // Popularity: Zipf(1) over a random order of the leaf's items.
  for (int l = 0; l < kNumLeaves; ++l) {
    Rng rng(w.opt.seed, kStreamPopularity, static_cast<uint64_t>(l));
    auto order = leaf_items[l];
    rng.Shuffle(order);
    for (size_t r = 0; r < order.size(); ++r) w.items[order[r]].pop = static_cast<float>(1.0 / (r + 1.0));
  }
}

// ---- item faults ---------------------------------------------------------------

// Code point -> UTF-8.
void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The classic mojibake: UTF-8 bytes decoded as Windows-1252 and re-encoded
// ("Men’s" -> "Menâ€™s", "é" -> "Ã©").
std::string Cp1252Mojibake(std::string_view utf8) {
  static const uint16_t kHigh[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                     0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                     0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                     0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  std::string out;
  for (unsigned char b : utf8) {
    if (b < 0x80)
      out.push_back(static_cast<char>(b));
    else if (b < 0xA0)
      AppendUtf8(out, kHigh[b - 0x80]);
    else
      AppendUtf8(out, b);
  }
  return out;
}

struct GroundTruthRow {
  std::string fault, table, key, detail;
};

void InjectItemFaults(World& w) {
  const FaultRates& f = w.opt.faults;
  const uint32_t n = w.opt.items;
  Rng rng(w.opt.seed, kStreamItemFaults);
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  rng.Shuffle(order);
  std::vector<uint32_t> leaf_size(w.leaves.size(), 0);
  for (const Item& it : w.items) ++leaf_size[it.leaf];
  std::vector<uint8_t> taken(n, 0);
  // Distinct items, in a random order, among those `eligible` accepts.
  auto take = [&](double rate, auto eligible) {
    const uint64_t want = std::llround(rate * n);
    std::vector<uint32_t> out;
    for (uint32_t i : order) {
      if (out.size() >= want) break;
      if (!taken[i] && eligible(i)) out.push_back(i), taken[i] = 1;
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto any = [](uint32_t) { return true; };
  // A price is only an outlier among peers: a leaf needs a few items for a
  // checker to know its price level.
  auto has_peers = [&](uint32_t i) { return leaf_size[w.items[i].leaf] >= 6; };
  for (uint32_t i : take(f.invalid_item, any)) {
    Item& it = w.items[i];
    it.fault = ItemFault::kInvalid;
    switch (rng.Below(3)) {
      case 0:
        it.price_field = "abc";
        break;
      case 1:
        it.price_field = "-5.00";
        break;
      default:
        it.empty_id = true;
        break;
    }
  }
  for (uint32_t i : take(f.price_outlier, has_peers)) {
    Item& it = w.items[i];
    it.fault = ItemFault::kPriceOutlier;
    const double factor = rng.Uniform(50, 300);
    const int64_t cents = rng.Bernoulli(0.5) ? std::llround(it.price_cents * factor)
                                             : std::max<int64_t>(1, std::llround(it.price_cents / factor));
    it.price_field = CentsString(cents);
  }
  for (uint32_t i : take(f.broken_title, any)) {
    Item& it = w.items[i];
    it.fault = ItemFault::kBrokenTitle;
  }
}

// Applies the broken_title variant; returns the detail for the ground truth.
std::string BreakTitle(Item& it, Rng& rng) {
  int variant = static_cast<int>(rng.Below(4));
  if (variant == 3 && it.zh) variant = static_cast<int>(rng.Below(3));  // mojibake needs Latin text
  std::string& t = it.title;
  const size_t space = t.find(' ');
  const size_t at = space == std::string::npos ? t.size() : space;  // an ASCII boundary
  switch (variant) {
    case 0:
      t.clear();
      return "empty";
    case 1: {
      static const char* const kBad[] = {"\xFF", "\xC3\x28", "\xFE\xFE", "\xC0\xAF", "\xED\xA0\x80"};
      t.insert(at, kBad[rng.Below(std::size(kBad))]);
      return "invalid_utf8";
    }
    case 2:
      switch (rng.Below(4)) {
        case 0:
          t = "<b>" + t + "</b>";
          break;
        case 1:
          t += "<br/>";
          break;
        case 2:
          t.insert(at, " &amp; Co");
          break;
        default:
          t = "<p>" + t + "</p>";
          break;
      }
      return "html";
    default:
      if (t.find("\u2019") == std::string::npos && t.find("\u00e9") == std::string::npos &&
          t.find("\u00e8") == std::string::npos)
        t.insert(at, "\u2019s");
      t = Cp1252Mojibake(t);
      return "mojibake";
  }
}

// ---- users and behaviour ---------------------------------------------------------

void BuildEligible(World& w) {
  std::vector<double> leaf_w(kNumLeaves, 0.0);
  w.top_leaves.assign(kNumTops, {});
  for (auto& leaf : w.leaves) leaf.items.clear(), leaf.hot.clear();
  w.hot.resize(w.items.size());
  for (uint32_t i = 0; i < w.items.size(); ++i) {
    const Item& it = w.items[i];
    ItemHot& h = w.hot[i];
    h.vec = it.vec;
    h.log_rel_price = it.log_rel_price;
    h.log_pop = static_cast<float>(std::log(it.pop));
    h.brand = it.brand;
    h.zh = it.zh;
    h.leaf = static_cast<uint16_t>(it.leaf);
    if (it.fault == ItemFault::kInvalid || it.fault == ItemFault::kBrokenTitle) continue;
    w.eligible.push_back(i);
    w.leaves[it.leaf].items.push_back(i);
    w.leaves[it.leaf].hot.push_back(h);
  }
  for (int l = 0; l < kNumLeaves; ++l) {
    Leaf& leaf = w.leaves[l];
    std::vector<double> pop;
    for (uint32_t i : leaf.items) pop.push_back(w.items[i].pop);
    leaf.pop_alias = AliasTable(pop);
    if (!leaf.items.empty()) {
      // Bigger leaves get more traffic, less than proportionally.
      leaf_w[l] = std::sqrt(static_cast<double>(leaf.items.size())) * leaf.size_weight;
      w.top_leaves[leaf.top].push_back(static_cast<uint32_t>(l));
    }
  }
  w.leaf_pick = Categorical(leaf_w);
}

// A user's latent taste.
struct Taste {
  std::vector<uint32_t> fav_leaves;
  Categorical fav_pick;
  Vec vec{};
  double log_price_mult = 0;
  std::vector<uint32_t> fav_brands;
  double zh_bonus = 0;
};

// The distribution of views inside one leaf for one user.
struct LeafDist {
  uint32_t leaf = kNone;
  std::vector<uint32_t> cand;
  std::vector<double> cum;
  std::vector<float> aff;
  double mean_aff = 0;
  uint32_t Sample(Rng& rng) const {
    const double x = rng.Uniform() * cum.back();
    size_t k = std::upper_bound(cum.begin(), cum.end(), x) - cum.begin();
    return cand[std::min(k, cand.size() - 1)];
  }
};

// How much a user likes an item, popularity aside.
inline double Affinity(const Taste& t, const ItemHot& it) {
  float dot[2] = {0, 0};  // two chains: shorter dependency, same result every run
  for (int k = 0; k < kDim; k += 2) dot[0] += t.vec[k] * it.vec[k], dot[1] += t.vec[k + 1] * it.vec[k + 1];
  const float dotv = dot[0] + dot[1];
  const double d = it.log_rel_price - t.log_price_mult;
  double a = kBeta * dotv - kPriceGamma * d * d;
  for (uint32_t b : t.fav_brands) a += b == it.brand ? kBrandBonus : 0.0;
  if (it.zh) a += t.zh_bonus;
  return a;
}

class UserSim {
 public:
  UserSim(World& w, std::vector<Event>& out, uint32_t& next_session) : w_(w), out_(out), next_session_(next_session) {}

  void Run(uint32_t u) {
    Rng rng(w_.opt.seed, kStreamUser, u);
    User& user = w_.users[u];
    user.region = static_cast<uint8_t>(w_.region_pick.Sample(rng));
    user.device = static_cast<uint8_t>(w_.device_pick.Sample(rng));
    user.age = static_cast<uint8_t>(w_.age_pick.Sample(rng));
    // 85% signed up before the window, the rest during its first 80%.
    if (rng.Bernoulli(0.85) || w_.opt.days < 2) {
      user.signup = w_.start - rng.Range(1, 1000) * kDay + rng.Range(0, kDay - 1);
    } else {
      user.signup = w_.start + rng.Range(0, static_cast<int64_t>(w_.opt.days) * kDay * 8 / 10);
    }
    if (user.bot) return RunBot(u);
    if (w_.eligible.empty()) return;
    MakeTaste(rng, user);
    dists_.clear();
    history_.clear();

    const double mu = std::log(kMeanSessions) - 0.5;  // lognormal(mu, 1) has mean kMeanSessions
    const int n = std::clamp(static_cast<int>(std::llround(rng.LogNormal(mu, 1.0))), 1, kMaxSessions);
    const size_t first_day = user.signup <= w_.start ? 0 : static_cast<size_t>((user.signup - w_.start) / kDay);
    std::vector<int64_t> starts;
    for (int s = 0; s < n; ++s) {
      const size_t day = w_.day_pick.SampleRange(rng, first_day, w_.opt.days);
      const int64_t tod = static_cast<int64_t>(w_.hour_pick.Sample(rng)) * 3600 + rng.Range(0, 3599);
      starts.push_back(std::max(user.signup, w_.start + static_cast<int64_t>(day) * kDay + tod));
    }
    std::sort(starts.begin(), starts.end());
    int64_t free_at = 0;
    for (int64_t start : starts) {
      // Sessions of one person never overlap.
      if (start < free_at) start = free_at + rng.Range(120, 1800);
      if (start >= w_.opt.end_time) break;
      free_at = Session(rng, u, start) + 60;
    }
  }

 private:
  void MakeTaste(Rng& rng, const User& user) {
    Taste& t = taste_;
    t = Taste();
    const size_t nfav = std::min<size_t>(2 + rng.Below(4), w_.leaves.size());
    for (int tries = 0; t.fav_leaves.size() < nfav && tries < 50; ++tries) {
      uint32_t leaf;
      if (!t.fav_leaves.empty() && rng.Bernoulli(0.5)) {
        const auto& same = w_.top_leaves[w_.leaves[t.fav_leaves[0]].top];
        leaf = rng.Pick(same);
      } else {
        leaf = static_cast<uint32_t>(w_.leaf_pick.Sample(rng));
      }
      if (std::find(t.fav_leaves.begin(), t.fav_leaves.end(), leaf) == t.fav_leaves.end()) t.fav_leaves.push_back(leaf);
    }
    const std::vector<double> weights = rng.Dirichlet(t.fav_leaves.size(), 0.8);
    t.fav_pick = Categorical(weights);
    for (size_t i = 0; i < t.fav_leaves.size(); ++i)
      for (int k = 0; k < kDim; ++k) t.vec[k] += static_cast<float>(weights[i]) * w_.leaves[t.fav_leaves[i]].vec[k];
    for (auto& x : t.vec) x += static_cast<float>(rng.Normal(0, 0.4));
    t.log_price_mult = rng.Normal(0, 0.3);
    const size_t nbrands = 1 + rng.Below(2);
    for (size_t b = 0; b < nbrands; ++b) {
      const int top = w_.leaves[rng.Pick(t.fav_leaves)].top;
      const bool zh = user.region == kRegionCN && rng.Bernoulli(0.5);
      const auto& pool = zh ? w_.top_zh_brands[top] : w_.top_brands[top];
      t.fav_brands.push_back(pool[Zipf(pool.size(), 0.8).Sample(rng)]);
    }
    t.zh_bonus = user.region == kRegionCN ? 1.0 : -0.5;
  }

  const LeafDist& Dist(Rng& rng, uint32_t leaf_id) {
    for (const auto& d : dists_)
      if (d->leaf == leaf_id) return *d;
    auto d = std::make_unique<LeafDist>();
    d->leaf = leaf_id;
    const Leaf& leaf = w_.leaves[leaf_id];
    std::vector<double> score;
    if (leaf.items.size() <= kMaxCandidates) {
      d->cand = leaf.items;
      for (const ItemHot& h : leaf.hot) {
        const double a = Affinity(taste_, h);
        d->aff.push_back(static_cast<float>(a));
        score.push_back(a + h.log_pop);
      }
    } else {
      // Large leaf: a popularity-proportional candidate sample stands in for
      // the log-popularity term of the softmax.
      for (size_t k = 0; k < kMaxCandidates; ++k) {
        const size_t pos = leaf.pop_alias.Sample(rng);
        d->cand.push_back(leaf.items[pos]);
        const double a = Affinity(taste_, leaf.hot[pos]);
        d->aff.push_back(static_cast<float>(a));
        score.push_back(a);
      }
    }
    const double mx = *std::max_element(score.begin(), score.end());
    double sum = 0, mean = 0;
    for (size_t k = 0; k < score.size(); ++k) {
      const double e = std::exp(score[k] - mx);
      d->cum.push_back(sum += e);
      mean += e * d->aff[k];
    }
    d->mean_aff = mean / sum;
    dists_.push_back(std::move(d));
    return *dists_.back();
  }

  uint32_t PickLeaf(Rng& rng) {
    if (rng.Bernoulli(kElsewhere)) return static_cast<uint32_t>(w_.leaf_pick.Sample(rng));
    return taste_.fav_leaves[taste_.fav_pick.Sample(rng)];
  }

  static int64_t Gap(Rng& rng) {
    return std::clamp<int64_t>(std::llround(rng.LogNormal(std::log(kGapMedian), kGapSigma)), kMinGap, kMaxGap);
  }

  // Appends one event unless the session is full or past the end of the
  // window. Returns false when the session must stop.
  bool Emit(int64_t ts, uint32_t u, uint32_t item, uint8_t type, uint32_t session, uint32_t query = 0,
            int32_t value = -1, uint8_t position = 0) {
    if (count_ >= kMaxSessionEvents || ts >= w_.opt.end_time) return false;
    out_.push_back(Event{ts, u, item, session, query, value, type, position, 0, 0});
    ++count_;
    last_ts_ = ts;
    return true;
  }

  bool SeenInSession(uint32_t item) const {
    return std::find(session_items_.begin(), session_items_.end(), item) != session_items_.end();
  }

  // Generates one session; returns the time of its last event.
  int64_t Session(Rng& rng, uint32_t u, int64_t start) {
    const uint32_t sid = next_session_++;
    session_items_.clear();
    count_ = 0;
    last_ts_ = start;
    int64_t t = start;
    uint32_t leaf = PickLeaf(rng);
    const LeafDist* dist = &Dist(rng, leaf);
    uint32_t wanted = kNone;
    uint8_t wanted_pos = 0;
    if (rng.Bernoulli(kSearchShare)) {
      const uint32_t cand = dist->Sample(rng);
      if (w_.items[cand].fault == ItemFault::kNone) {
        wanted = cand;
        std::string text = MakeQuery(rng, cand);
        bool paraphrase = false;
        if (w_.opt.paraphrase_share > 0) {
          // Its own stream, so a paraphrase share changes query texts and
          // nothing else: the same sessions, items and positions.
          Rng prng(w_.opt.seed, kStreamParaphrase, sid);
          if (prng.Bernoulli(w_.opt.paraphrase_share)) {
            std::string p = MakeParaphrase(prng, cand);
            if (!p.empty()) text = std::move(p), paraphrase = true;
          }
        }
        const uint32_t q = w_.Intern(text, cand, paraphrase);
        Emit(t, u, kNone, kSearch, sid, q);
        t += Gap(rng);
        wanted_pos = static_cast<uint8_t>(1 + w_.position_pick.Sample(rng));
      }
    }
    struct Pending {
      uint32_t item;
      int32_t rating;
    };
    std::vector<Pending> ratings;
    const int views = std::clamp(static_cast<int>(std::llround(rng.LogNormal(std::log(5.0), 0.6))), 2, 15);
    bool open = true;
    for (int v = 0; v < views && open; ++v) {
      uint32_t item;
      uint8_t pos = 0;
      if (v == 0 && wanted != kNone) {
        item = wanted;
        pos = wanted_pos;
      } else if (!history_.empty() && rng.Bernoulli(kRepeatView)) {
        item = rng.Pick(history_);
      } else {
        if (taste_.fav_leaves.size() > 1 && rng.Bernoulli(kLeafSwitch)) {
          leaf = rng.Pick(taste_.fav_leaves);
          dist = &Dist(rng, leaf);
        }
        // Within a session people mostly look at different items.
        item = dist->Sample(rng);
        for (int tries = 0; tries < 4 && SeenInSession(item); ++tries) item = dist->Sample(rng);
      }
      if (v > 0) t += Gap(rng);
      if (!(open = Emit(t, u, item, kView, sid, 0, -1, pos))) break;
      const LeafDist& home = Dist(rng, w_.hot[item].leaf);
      const double delta = Affinity(taste_, w_.hot[item]) - home.mean_aff;
      double p_click = std::clamp(kClickBase * std::exp(0.7 * delta), 0.03, 0.85);
      if (pos) p_click = std::min(0.9, p_click * 1.6);
      session_items_.push_back(item);
      if (history_.size() < 64)
        history_.push_back(item);
      else
        history_[rng.Below(64)] = item;
      if (!rng.Bernoulli(p_click)) continue;
      t += Gap(rng);
      if (!(open = Emit(t, u, item, kClick, sid, 0, -1, pos))) break;
      if (!rng.Bernoulli(std::clamp(kCartBase * std::exp(0.3 * delta), 0.05, 0.6))) continue;
      t += Gap(rng);
      if (!(open = Emit(t, u, item, kCart, sid))) break;
      if (!rng.Bernoulli(kPurchaseP)) continue;
      t += Gap(rng);
      if (!(open = Emit(t, u, item, kPurchase, sid, 0, static_cast<int32_t>(w_.items[item].price_cents)))) break;
      if (rng.Bernoulli(kRatingP)) {
        const int r = static_cast<int>(std::llround(3.8 + 0.8 * delta + rng.Normal(0, 0.7)));
        ratings.push_back({item, std::clamp(r, 1, 5)});
      }
    }
    // Ratings come at the end of the session, after the browsing.
    for (const auto& r : ratings) {
      t += Gap(rng);
      if (!Emit(t, u, r.item, kRating, sid, 0, r.rating)) break;
    }
    return last_ts_;
  }

  // A bot: 150-1500 views of random items in bursts on several days, with
  // near-constant gaps.
  void RunBot(uint32_t u) {
    Rng rng(w_.opt.seed, kStreamBots, u);
    if (w_.eligible.empty()) return;
    const int64_t total = rng.Range(150, 1500);
    // Bursts of at least 50 views, so a fast bot's burst fills whole minutes.
    const int64_t nb = std::clamp<int64_t>(std::min<int64_t>(rng.Range(3, 8), total / 50), 1, w_.opt.days);
    std::vector<int64_t> days;
    for (int tries = 0; static_cast<int64_t>(days.size()) < nb && tries < 100; ++tries) {
      const int64_t d = rng.Range(0, w_.opt.days - 1);
      if (std::find(days.begin(), days.end(), d) == days.end()) days.push_back(d);
    }
    std::sort(days.begin(), days.end());
    const bool fast = rng.Bernoulli(0.4);  // > 40 views a minute
    // Gaps stay >= 1 s (after the +-3% jitter) so a bot's timestamps strictly
    // increase: two views in one second could otherwise form identical rows.
    const double base = fast ? rng.Uniform(1.05, 1.3) : rng.Uniform(2.0, 6.0);
    int64_t left = total;
    for (size_t b = 0; b < days.size(); ++b) {
      const int64_t count = b + 1 == days.size() ? left : total / static_cast<int64_t>(days.size());
      left -= count;
      const int64_t span = static_cast<int64_t>(count * base * 1.03) + 2;
      const int64_t day_start = w_.start + days[b] * kDay;
      const int64_t latest = std::max<int64_t>(0, std::min<int64_t>(kDay, w_.opt.end_time - day_start) - span - 1);
      double t = static_cast<double>(day_start + rng.Range(0, latest));
      const uint32_t sid = next_session_++;
      for (int64_t k = 0; k < count; ++k) {
        const auto ts = static_cast<int64_t>(std::floor(t));
        out_.push_back(Event{ts, u, rng.Pick(w_.eligible), sid, 0, -1, kView, 0, 1, 0});
        t += base * rng.Uniform(0.97, 1.03);
      }
    }
  }

  // A query for `item` as a shopper would type it: its product noun, maybe
  // with the brand or an attribute; sometimes a synonym or a typo.
  std::string MakeQuery(Rng& rng, uint32_t item) {
    const Item& it = w_.items[item];
    if (it.zh) {
      // Chinese: the noun, sometimes with the brand ("李宁 运动鞋").
      if (rng.Bernoulli(0.3) && it.title.find(w_.brands[it.brand]) != std::string::npos)
        return w_.brands[it.brand] + " " + it.noun;
      return it.noun;
    }
    const int noun_words = static_cast<int>(std::count(it.noun.begin(), it.noun.end(), ' ')) + 1;
    std::string q = it.noun;
    const double r = rng.Uniform();
    if (r < 0.45) {
      // noun only
    } else if (r < 0.70) {
      if (noun_words <= 2) q = AsciiLower(w_.brands[it.brand]) + " " + q;
    } else if (!it.query_words.empty() && noun_words <= 2) {
      const std::string& word = rng.Pick(it.query_words);
      q = rng.Bernoulli(0.5) ? q + " " + word : word + " " + q;
    }
    if (rng.Bernoulli(kSynonymP)) {
      std::string s = ApplySynonym(rng, q);
      if (std::count(s.begin(), s.end(), ' ') <= 2) q = std::move(s);  // at most 3 words
    }
    if (rng.Bernoulli(kTypoP)) q = ApplyTypo(rng, q);
    return q;
  }

  // A query for `item` that shares no word with its title (nor a synonym
  // group's word): a phrase of the leaf's paraphrase table, or else the
  // leaf's category words minus the title's. Empty when nothing is left
  // (Chinese titles are never paraphrased).
  std::string MakeParaphrase(Rng& rng, uint32_t item) {
    const Item& it = w_.items[item];
    if (it.zh) return "";
    const std::vector<std::string> title = AsciiWords(it.title);
    auto banned = [&](const std::string& word) {
      for (const auto& t : title)
        if (SameWord(t, word)) return true;
      for (const auto& group : w_.synonyms)
        for (const auto& term : group)
          for (const auto& sw : AsciiWords(term))
            if (SameWord(sw, word)) return true;
      return false;
    };
    const LeafDef& def = kLeafDefs[it.leaf];
    std::vector<std::string> options;
    for (const auto& pd : kParaphrases) {
      if (std::string_view(pd.leaf) != def.leaf) continue;
      for (std::string_view phrase : Split(pd.phrases, '|')) {
        bool ok = true;
        for (const auto& word : AsciiWords(phrase)) ok = ok && !banned(word);
        if (ok) options.emplace_back(phrase);
      }
    }
    if (options.empty()) {
      // No table entry (or every phrase clashes): the category's own words.
      std::string fallback;
      for (const char* level : {def.mid, def.leaf})
        for (const auto& word : AsciiWords(level))
          if (!banned(word) && word != "and") fallback += (fallback.empty() ? "" : " ") + word;
      if (!fallback.empty()) options.push_back(fallback);
    }
    return options.empty() ? "" : rng.Pick(options);
  }

  // Equal up to a plural 's' ("boot" and "boots"), so a stemming analyzer
  // cannot match them either.
  static bool SameWord(std::string_view a, std::string_view b) {
    auto base = [](std::string_view w) { return w.size() > 3 && w.back() == 's' ? w.substr(0, w.size() - 1) : w; };
    return base(a) == base(b);
  }

  std::string ApplySynonym(Rng& rng, const std::string& q) {
    // The longest term of any group found as whole words in q.
    const std::vector<std::string>* best_group = nullptr;
    size_t best_pos = 0, best_len = 0;
    for (const auto& group : w_.synonyms) {
      for (const auto& term : group) {
        for (size_t pos = q.find(term); pos != std::string::npos; pos = q.find(term, pos + 1)) {
          const bool left = pos == 0 || q[pos - 1] == ' ';
          const bool right = pos + term.size() == q.size() || q[pos + term.size()] == ' ';
          if (left && right && term.size() > best_len) best_group = &group, best_pos = pos, best_len = term.size();
        }
      }
    }
    if (!best_group) return q;
    const std::string current = q.substr(best_pos, best_len);
    std::vector<std::string> others;
    for (const auto& term : *best_group)
      if (term != current) others.push_back(term);
    return q.substr(0, best_pos) + rng.Pick(others) + q.substr(best_pos + best_len);
  }

  // One edit (swap, delete, insert, replace) in a word of >= 5 letters.
  static std::string ApplyTypo(Rng& rng, const std::string& q) {
    std::vector<std::pair<size_t, size_t>> words;  // (start, length)
    size_t start = 0;
    for (size_t i = 0; i <= q.size(); ++i) {
      if (i == q.size() || q[i] == ' ') {
        bool alpha = i - start >= 5;
        for (size_t k = start; k < i && alpha; ++k) alpha = q[k] >= 'a' && q[k] <= 'z';
        if (alpha) words.emplace_back(start, i - start);
        start = i + 1;
      }
    }
    if (words.empty()) return q;
    auto [ws, wl] = words[rng.Below(words.size())];
    std::string word = q.substr(ws, wl);
    const size_t p = 1 + rng.Below(wl - 2);  // keep the first letter, as people mostly do
    const char letter = static_cast<char>('a' + rng.Below(26));
    switch (rng.Below(4)) {
      case 0:
        if (word[p] != word[p + 1]) {
          std::swap(word[p], word[p + 1]);
          break;
        }
        [[fallthrough]];
      case 1:
        word.erase(p, 1);
        break;
      case 2:
        word.insert(word.begin() + static_cast<std::ptrdiff_t>(p), letter);
        break;
      default:
        word[p] = letter == word[p] ? (letter == 'z' ? 'a' : static_cast<char>(letter + 1)) : letter;
        break;
    }
    return q.substr(0, ws) + word + q.substr(ws + wl);
  }

  World& w_;
  std::vector<Event>& out_;
  uint32_t& next_session_;
  Taste taste_;
  std::vector<std::unique_ptr<LeafDist>> dists_;
  std::vector<uint32_t> history_;        // items the user viewed (a sample of up to 64)
  std::vector<uint32_t> session_items_;  // items viewed in the current session
  int count_ = 0;
  int64_t last_ts_ = 0;
};

// ============================================================================
// 5. Event faults
// ============================================================================

enum class EvFault : uint8_t {
  kNone,
  kDuplicateSource,  // a normal row that is copied further down
  kInvalid,
  kOrphanItem,
  kOrphanUser,
  kFuture,
  kOld,
  kOutOfOrder,
};

enum InvalidVariant : uint8_t { kEmptyUser, kNotATime, kBadIsoTime, kTeleport, kEmptyItem };

struct EventFaultRec {
  uint32_t index;
  EvFault kind;
  uint8_t variant = 0;
  int64_t ts = 0;   // new timestamp (future/old/out_of_order)
  uint64_t id = 0;  // orphan number; orphan_user: also `session`
  uint32_t session = 0;
  uint32_t dup = 0;  // index into dups for kDuplicateSource
};

struct DuplicatePlan {
  uint32_t source;  // row copied
  uint32_t after;   // the copy is written right after this row
  int64_t source_line = 0;
  std::string row;  // the source row as written, until the copy is written
};

struct EventFaultPlan {
  std::vector<EventFaultRec> faults;  // sorted by index
  std::vector<DuplicatePlan> dups;    // sorted by `after`
};

// Drops events for the day faults; returns the ground truth rows.
std::vector<GroundTruthRow> ApplyDayFaults(const World& w, std::vector<Event>& ev) {
  std::vector<GroundTruthRow> rows;
  const FaultRates& f = w.opt.faults;
  if (w.opt.days < 14 || (f.volume_shift_days == 0 && f.mix_shift_days == 0)) return rows;
  Rng rng(w.opt.seed, kStreamDays);
  // Whole UTC days after the first 7 and before the last day of the window.
  const int64_t first_midnight = FloorDiv(w.start + kDay - 1, kDay) * kDay;
  std::vector<int64_t> candidates;
  for (int64_t d = first_midnight + 7 * kDay; d + 2 * kDay <= w.opt.end_time; d += kDay) candidates.push_back(d);
  std::vector<std::pair<int64_t, bool>> chosen;  // (day start, is volume)
  auto pick = [&](uint32_t n, bool volume) {
    for (uint32_t k = 0; k < n; ++k) {
      for (int tries = 0; tries < 100 && !candidates.empty(); ++tries) {
        const int64_t d = rng.Pick(candidates);
        bool ok = true;
        for (auto& c : chosen) ok &= std::llabs(c.first - d) >= 2 * kDay;
        if (!ok) continue;
        chosen.emplace_back(d, volume);
        break;
      }
    }
  };
  pick(f.volume_shift_days, true);
  pick(f.mix_shift_days, false);
  std::sort(chosen.begin(), chosen.end());
  Rng drop(w.opt.seed, kStreamDrop);
  for (auto& [day, volume] : chosen) {
    uint64_t dropped = 0, kept = 0;
    auto lo = std::lower_bound(ev.begin(), ev.end(), day, [](const Event& e, int64_t t) { return e.ts < t; });
    for (auto it = lo; it != ev.end() && it->ts < day + kDay; ++it) {
      if (it->bot) continue;
      const bool gone = volume ? drop.Bernoulli(f.volume_shift_drop) : it->type == kClick;
      if (gone)
        it->type = 0xFF, ++dropped;
      else
        ++kept;
    }
    const char* name = volume ? "volume_shift" : "mix_shift";
    std::string detail = volume ? "tracking outage: " + std::to_string(dropped) + " of " +
                                      std::to_string(dropped + kept) + " human events dropped"
                                : "all " + std::to_string(dropped) + " click events dropped";
    rows.push_back({name, "events", IsoDate(day), detail});
  }
  ev.erase(std::remove_if(ev.begin(), ev.end(), [](const Event& e) { return e.type == 0xFF; }), ev.end());
  return rows;
}

EventFaultPlan PlanEventFaults(const World& w, const std::vector<Event>& ev, uint32_t& next_session) {
  EventFaultPlan plan;
  const FaultRates& f = w.opt.faults;
  const size_t n = ev.size();
  if (n == 0) return plan;
  Rng rng(w.opt.seed, kStreamEventFaults);
  enum : uint8_t { kFaulted = 1, kCovered = 2 };
  std::vector<uint8_t> flag(n, 0);
  std::vector<uint8_t> session_used(next_session, 0);
  std::vector<uint16_t> session_size(next_session, 0), rank(n, 0);
  for (size_t i = 0; i < n; ++i) {
    uint16_t& s = session_size[ev[i].session];
    rank[i] = s;
    if (s < 0xFFFF) ++s;
  }
  auto usable = [&](size_t i) {
    return !ev[i].bot && !(flag[i] & (kFaulted | kCovered)) && !session_used[ev[i].session];
  };
  auto mark = [&](size_t i, EventFaultRec rec) {
    flag[i] |= kFaulted;
    session_used[ev[i].session] = 1;
    rec.index = static_cast<uint32_t>(i);
    plan.faults.push_back(rec);
  };
  auto count_of = [&](double rate) { return static_cast<uint64_t>(std::llround(rate * static_cast<double>(n))); };
  // Tries random rows until `want` were accepted by `try_one` (or it is hopeless).
  auto run = [&](double rate, auto try_one) {
    const uint64_t want = count_of(rate);
    uint64_t got = 0;
    for (uint64_t tries = 0; got < want && tries < want * 200 + 1000; ++tries)
      if (try_one(static_cast<size_t>(rng.Below(n)))) ++got;
  };

  run(f.duplicate_event, [&](size_t i) {
    if (!usable(i)) return false;
    // The copy goes right after row j, i.e. 1-5 rows after the source.
    const size_t j = i + rng.Below(5);
    if (j >= n) return false;
    for (size_t m = i + 1; m <= j; ++m)
      if (ev[m].user == ev[i].user || (flag[m] & kCovered)) return false;
    for (size_t m = i + 1; m <= j; ++m) flag[m] |= kCovered;
    EventFaultRec rec{};
    rec.kind = EvFault::kDuplicateSource;
    rec.dup = static_cast<uint32_t>(plan.dups.size());
    plan.dups.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j), 0, {}});
    mark(i, rec);
    flag[i] |= kCovered;
    return true;
  });
  run(f.invalid_event, [&](size_t i) {
    if (!usable(i)) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kInvalid;
    rec.variant = static_cast<uint8_t>(rng.Below(5));
    if (rec.variant == kEmptyItem && ev[i].type > kPurchase) rec.variant = static_cast<uint8_t>(rng.Below(4));
    mark(i, rec);
    return true;
  });
  run(f.orphan_item, [&](size_t i) {
    if (!usable(i) || ev[i].item == kNone) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kOrphanItem;
    rec.id = rng.Below(static_cast<uint64_t>(std::pow(10.0, w.item_width)));
    mark(i, rec);
    return true;
  });
  run(f.orphan_user, [&](size_t i) {
    if (!usable(i)) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kOrphanUser;
    rec.id = rng.Below(1000000);
    rec.session = next_session++;
    mark(i, rec);
    return true;
  });
  run(f.future_timestamp, [&](size_t i) {
    if (!usable(i)) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kFuture;
    rec.ts = rng.Range(kYear2035, kEnd2099);
    mark(i, rec);
    return true;
  });
  run(f.old_timestamp, [&](size_t i) {
    if (!usable(i)) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kOld;
    rec.ts = rng.Bernoulli(0.2) ? 0 : rng.Range(0, kYear2000 - 1);
    mark(i, rec);
    return true;
  });
  run(f.out_of_order, [&](size_t i) {
    if (!usable(i) || rank[i] == 0 || session_size[ev[i].session] < 3) return false;
    // The previous event of the session (sessions are short, so this is near).
    size_t p = i;
    while (p > 0 && ev[--p].session != ev[i].session) {
    }
    if (ev[p].session != ev[i].session) return false;
    EventFaultRec rec{};
    rec.kind = EvFault::kOutOfOrder;
    rec.ts = ev[p].ts - rng.Range(600, 10800);
    mark(i, rec);
    return true;
  });
  std::sort(plan.faults.begin(), plan.faults.end(),
            [](const EventFaultRec& a, const EventFaultRec& b) { return a.index < b.index; });
  std::sort(plan.dups.begin(), plan.dups.end(), [](const DuplicatePlan& a, const DuplicatePlan& b) {
    return a.after != b.after ? a.after < b.after : a.source < b.source;
  });
  // Re-point the sources at their dups after sorting.
  std::unordered_map<uint32_t, uint32_t> dup_of_source;
  for (uint32_t d = 0; d < plan.dups.size(); ++d) dup_of_source[plan.dups[d].source] = d;
  for (auto& rec : plan.faults)
    if (rec.kind == EvFault::kDuplicateSource) rec.dup = dup_of_source.at(rec.index);
  return plan;
}

// ============================================================================
// 6. Writers
// ============================================================================

Status WriteItems(const World& w, const std::string& path, std::vector<GroundTruthRow>& gt, Rng& rng) {
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  for (const char* h : {"item_id", "title", "description", "brand", "category", "tags", "price", "stock", "created_at"})
    out.Field(h);
  out.EndRow();
  int64_t line = 2;
  for (uint32_t i = 0; i < w.items.size(); ++i) {
    Item it = w.items[i];  // a copy: faults change the title
    const std::string id = MakeId('I', i + 1, w.item_width);
    if (it.fault == ItemFault::kBrokenTitle) {
      gt.push_back({"broken_title", "items", id, BreakTitle(it, rng)});
    } else if (it.fault == ItemFault::kPriceOutlier) {
      gt.push_back({"price_outlier", "items", id,
                    "price " + it.price_field + " instead of about " + CentsString(it.price_cents)});
    } else if (it.fault == ItemFault::kInvalid) {
      std::string detail = it.empty_id               ? "empty item_id"
                           : it.price_field == "abc" ? "price not a number: abc"
                                                     : "negative price: -5.00";
      gt.push_back({"invalid_row", "items", std::to_string(line), detail + " (item " + id + ")"});
    }
    if (it.empty_id)
      out.Empty();
    else
      out.Field(id);
    out.Field(it.title);
    out.Field(it.description);
    out.Field(w.brands[it.brand]);
    out.Field(w.leaves[it.leaf].path);
    out.Field(it.tags);
    out.Field(it.price_field);
    out.Int(it.stock);
    out.Field(IsoDate(it.created));
    out.EndRow();
    line += 1 + std::count(it.description.begin(), it.description.end(), '\n');
  }
  return out.Close();
}

Status WriteUsers(const World& w, const std::string& path, std::vector<GroundTruthRow>& gt,
                  const std::vector<uint64_t>& bot_events) {
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  for (const char* h : {"user_id", "signup_date", "region", "device", "age_band"}) out.Field(h);
  out.EndRow();
  for (uint32_t u = 0; u < w.users.size(); ++u) {
    const User& user = w.users[u];
    const std::string id = MakeId('U', u + 1, w.user_width);
    out.Field(id);
    out.Field(IsoDate(user.signup));
    out.Field(kRegions[user.region]);
    out.Field(kDevices[user.device]);
    out.Field(kAgeBands[user.age]);
    out.EndRow();
    if (user.bot) gt.push_back({"bot_user", "users", id, std::to_string(bot_events[u]) + " machine-regular views"});
  }
  return out.Close();
}

struct EventWriteResult {
  uint64_t rows = 0, searches = 0, purchases = 0, sessions = 0;
};

Status WriteEvents(const World& w, const std::vector<Event>& ev, EventFaultPlan& plan, uint32_t num_sessions,
                   const std::string& path, std::vector<GroundTruthRow>& gt, EventWriteResult* result,
                   const std::function<void(double)>& progress) {
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  for (const char* h : {"user_id", "item_id", "event_type", "timestamp", "value", "session_id", "query", "position"})
    out.Field(h);
  out.EndRow();
  const int session_width = std::max(7, DigitsOf(num_sessions));
  std::vector<uint8_t> session_seen(num_sessions, 0);
  int64_t line = 2;
  size_t fi = 0, di = 0;
  auto count_row = [&](uint8_t type, uint32_t session, bool known_type) {
    ++result->rows;
    if (known_type && type == kSearch) ++result->searches;
    if (known_type && type == kPurchase) ++result->purchases;
    if (!session_seen[session]) session_seen[session] = 1, ++result->sessions;
  };
  for (size_t i = 0; i < ev.size(); ++i) {
    const Event& e = ev[i];
    const EventFaultRec* f = fi < plan.faults.size() && plan.faults[fi].index == i ? &plan.faults[fi++] : nullptr;
    const EvFault kind = f ? f->kind : EvFault::kNone;
    const size_t row_start = out.pending();
    // user_id
    if (kind == EvFault::kInvalid && f->variant == kEmptyUser)
      out.Empty();
    else if (kind == EvFault::kOrphanUser)
      AppendId(out.RawField().append("U"), 'X', f->id, 6);
    else
      AppendId(out.RawField(), 'U', e.user + 1, w.user_width);
    // item_id
    if (e.item == kNone || (kind == EvFault::kInvalid && f->variant == kEmptyItem))
      out.Empty();
    else if (kind == EvFault::kOrphanItem)
      AppendId(out.RawField().append("I"), '9', f->id, w.item_width);
    else
      AppendId(out.RawField(), 'I', e.item + 1, w.item_width);
    // event_type
    const bool teleport = kind == EvFault::kInvalid && f->variant == kTeleport;
    out.RawField().append(teleport ? "teleport" : kEventNames[e.type]);
    // timestamp
    if (kind == EvFault::kInvalid && f->variant == kNotATime)
      out.RawField().append("not-a-time");
    else if (kind == EvFault::kInvalid && f->variant == kBadIsoTime)
      out.RawField().append("2026-13-45T25:00:00Z");
    else if (kind == EvFault::kFuture || kind == EvFault::kOld || kind == EvFault::kOutOfOrder)
      out.Int(f->ts);
    else
      out.Int(e.ts);
    // value
    if (e.value < 0)
      out.Empty();
    else if (e.type == kPurchase)
      AppendCents(out.RawField(), e.value);
    else
      out.Int(e.value);
    // session_id
    const uint32_t session = kind == EvFault::kOrphanUser ? f->session : e.session;
    AppendId(out.RawField(), 'S', session + 1, session_width);
    // query, position
    if (e.query)
      out.Field(w.queries[e.query - 1]);
    else
      out.Empty();
    if (e.position)
      out.Int(e.position);
    else
      out.Empty();
    if (kind == EvFault::kDuplicateSource) {
      // Keep the formatted bytes until the copy is written, 1-5 rows later.
      plan.dups[f->dup].source_line = line;
      plan.dups[f->dup].row.assign(out.Tail(row_start));
    }
    out.EndRow();
    count_row(e.type, session, !teleport);
    switch (kind) {
      case EvFault::kInvalid: {
        static const char* const kWhat[] = {"empty user_id", "timestamp not-a-time", "timestamp 2026-13-45T25:00:00Z",
                                            "unknown event_type teleport", "empty item_id on a "};
        std::string d = kWhat[f->variant];
        if (f->variant == kEmptyItem) d += kEventNames[e.type];
        gt.push_back({"invalid_row", "events", std::to_string(line), d});
        break;
      }
      case EvFault::kOrphanItem:
        gt.push_back({"orphan_item", "events", std::to_string(line),
                      "item_id " + MakeId('9', f->id, w.item_width).insert(0, "I") + " is not in items.csv"});
        break;
      case EvFault::kOrphanUser:
        gt.push_back({"orphan_user", "events", std::to_string(line),
                      "user_id " + MakeId('X', f->id, 6).insert(0, "U") + " is not in users.csv"});
        break;
      case EvFault::kFuture:
        gt.push_back({"future_timestamp", "events", std::to_string(line),
                      "timestamp " + std::to_string(f->ts) + " (" + IsoDate(f->ts) + ")"});
        break;
      case EvFault::kOld:
        gt.push_back({"old_timestamp", "events", std::to_string(line),
                      "timestamp " + std::to_string(f->ts) + " (" + IsoDate(f->ts) + ")"});
        break;
      case EvFault::kOutOfOrder:
        gt.push_back({"out_of_order", "events", std::to_string(line),
                      "timestamp " + std::to_string(f->ts) + " is before the previous event of its session"});
        break;
      default:
        break;
    }
    ++line;
    // Copies scheduled after this row: the source's bytes, repeated.
    while (di < plan.dups.size() && plan.dups[di].after == i) {
      DuplicatePlan& d = plan.dups[di++];
      d.row.push_back('\n');
      out.Raw(d.row);
      const Event& s = ev[d.source];
      count_row(s.type, s.session, true);
      gt.push_back(
          {"duplicate_event", "events", std::to_string(line), "copy of line " + std::to_string(d.source_line)});
      std::string().swap(d.row);
      ++line;
    }
    if (progress && (i & 0xFFFFF) == 0) progress(0.85 + 0.14 * static_cast<double>(i) / static_cast<double>(ev.size()));
  }
  return out.Close();
}

Status WriteGroundTruth(const std::string& path, const std::vector<GroundTruthRow>& rows) {
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  for (const char* h : {"fault", "table", "key", "detail"}) out.Field(h);
  out.EndRow();
  for (const auto& r : rows) {
    out.Field(r.fault);
    out.Field(r.table);
    out.Field(r.key);
    out.Field(r.detail);
    out.EndRow();
  }
  return out.Close();
}

// True if `word` occurs in `text` not glued to other ASCII letters or digits.
bool ContainsWord(std::string_view text, std::string_view word) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t pos = text.find(word); pos != std::string_view::npos; pos = text.find(word, pos + 1)) {
    const bool left = pos == 0 || !alnum(text[pos - 1]);
    const bool right = pos + word.size() == text.size() || !alnum(text[pos + word.size()]);
    if (left && right) return true;
  }
  return false;
}

// judgments.csv: grade 3 for each item a query was generated for, grade 1 for
// up to 20 other items of that item's leaf whose title contains its product
// noun (most popular first).
Status WriteJudgments(const World& w, const std::string& path, uint64_t* rows) {
  constexpr size_t kMaxGrade1 = 20;
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  // The kind column (paraphrase or plain) only exists when paraphrases were
  // asked for, so default shops keep their three columns.
  const bool kinds = w.opt.paraphrase_share > 0;
  for (const char* h : {"query", "item_id", "grade"}) out.Field(h);
  if (kinds) out.Field("kind");
  out.EndRow();
  // (leaf, noun) -> matching items, most popular first.
  std::map<std::pair<uint32_t, std::string>, std::vector<uint32_t>> matches;
  auto matching = [&](uint32_t item) -> const std::vector<uint32_t>& {
    const Item& it = w.items[item];
    auto [pos, inserted] = matches.try_emplace({it.leaf, it.noun});
    if (inserted) {
      for (uint32_t j : w.leaves[it.leaf].items) {
        const Item& other = w.items[j];
        if (other.fault != ItemFault::kNone) continue;
        const bool hit =
            it.zh ? other.title.find(it.noun) != std::string::npos : ContainsWord(AsciiLower(other.title), it.noun);
        if (hit) pos->second.push_back(j);
      }
      std::stable_sort(pos->second.begin(), pos->second.end(),
                       [&](uint32_t a, uint32_t b) { return w.items[a].pop > w.items[b].pop; });
      if (pos->second.size() > 64) pos->second.resize(64);
    }
    return pos->second;
  };
  std::vector<uint32_t> order(w.queries.size());
  for (uint32_t q = 0; q < order.size(); ++q) order[q] = q;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return w.queries[a] < w.queries[b]; });
  for (uint32_t q : order) {
    std::vector<uint32_t> wanted = w.query_wanted[q];
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<uint32_t> related;
    for (uint32_t item : wanted) {
      for (uint32_t j : matching(item)) {
        if (related.size() >= kMaxGrade1) break;
        if (std::binary_search(wanted.begin(), wanted.end(), j)) continue;
        if (std::find(related.begin(), related.end(), j) == related.end()) related.push_back(j);
      }
    }
    std::sort(related.begin(), related.end());
    for (int grade : {3, 1}) {
      for (uint32_t item : grade == 3 ? wanted : related) {
        out.Field(w.queries[q]);
        AppendId(out.RawField(), 'I', item + 1, w.item_width);
        out.Int(grade);
        if (kinds) out.Field(w.query_paraphrase[q] ? "paraphrase" : "plain");
        out.EndRow();
        ++*rows;
      }
    }
  }
  return out.Close();
}

Status WriteSynonyms(const std::string& path) {
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  for (const char* g : kSynonymGroups) {
    out.Raw(g);
    out.Raw("\n");
  }
  return out.Close();
}

Status WriteManifest(const World& w, const std::string& path, const GenStats& stats) {
  using Json = nlohmann::ordered_json;
  const GenOptions& o = w.opt;
  const FaultRates& f = o.faults;
  Json m;
  m["generator"] = "souk gen";
  m["format_version"] = 1;
  m["options"] = {{"users", o.users},
                  {"items", o.items},
                  {"days", o.days},
                  {"seed", o.seed},
                  {"end_time", o.end_time},
                  {"chinese_title_share", o.chinese_title_share},
                  {"inject_faults", o.inject_faults}};
  // Only when set, so manifests of shops without paraphrases stay as they were.
  if (o.paraphrase_share > 0) m["options"]["paraphrase_share"] = o.paraphrase_share;
  m["options"]["faults"] = {{"duplicate_event", f.duplicate_event},
                            {"invalid_event", f.invalid_event},
                            {"invalid_item", f.invalid_item},
                            {"orphan_item", f.orphan_item},
                            {"orphan_user", f.orphan_user},
                            {"future_timestamp", f.future_timestamp},
                            {"old_timestamp", f.old_timestamp},
                            {"out_of_order", f.out_of_order},
                            {"bot_user", f.bot_user},
                            {"price_outlier", f.price_outlier},
                            {"broken_title", f.broken_title},
                            {"volume_shift_days", f.volume_shift_days},
                            {"volume_shift_drop", f.volume_shift_drop},
                            {"mix_shift_days", f.mix_shift_days}};
  m["window"] = {{"start_time", w.start},
                 {"end_time", o.end_time},
                 {"first_day", IsoDate(w.start)},
                 {"last_day", IsoDate(o.end_time - 1)}};
  m["counts"] = {{"items", stats.items},        {"users", stats.users},         {"events", stats.events},
                 {"sessions", stats.sessions},  {"searches", stats.searches},   {"purchases", stats.purchases},
                 {"queries", w.queries.size()}, {"judgments", stats.judgments}, {"leaf_categories", kNumLeaves},
                 {"top_categories", kNumTops}};
  m["faults"] = Json::object();
  for (const auto& [name, count] : stats.faults) m["faults"][name] = count;
  m["files"] = {{"items.csv",
                 "catalog: item_id,title,description,brand,category,tags,price,stock,created_at; "
                 "descriptions may span lines (RFC 4180 quoting)"},
                {"users.csv", "users: user_id,signup_date,region,device,age_band"},
                {"events.csv",
                 "behaviour log in timestamp order (fault rows excepted): user_id,item_id,event_type,"
                 "timestamp,value,session_id,query,position; one record per line"},
                {"ground_truth.csv",
                 "one row per injected fault: fault,table,key,detail; key is the physical line "
                 "for event faults and invalid item rows, item_id, user_id, or YYYY-MM-DD"},
                {"judgments.csv",
                 "search relevance: query,item_id,grade (3 = the item searched for, 1 = same leaf "
                 "category and title contains the product noun)"},
                {"synonyms.txt", "query synonym groups, one per line, comma-separated"},
                {"manifest.json", "this file"}};
  std::string text;
  try {
    text = m.dump(2) + "\n";
  } catch (const std::exception& e) {
    return Status::Internal(std::string("manifest: ") + e.what());
  }
  CsvWriter out;
  SOUK_RETURN_IF_ERROR(out.Open(path));
  out.Raw(text);
  return out.Close();
}

FaultRates NoFaults() {
  FaultRates f;
  f.duplicate_event = f.invalid_event = f.invalid_item = f.orphan_item = f.orphan_user = 0;
  f.future_timestamp = f.old_timestamp = f.out_of_order = f.bot_user = f.price_outlier = f.broken_title = 0;
  f.volume_shift_days = f.mix_shift_days = 0;
  f.volume_shift_drop = 0;
  return f;
}

Status Validate(const GenOptions& o) {
  if (o.users == 0 || o.items == 0 || o.days == 0) return Status::InvalidArgument("users, items and days must be >= 1");
  if (!(o.chinese_title_share >= 0 && o.chinese_title_share <= 1))
    return Status::InvalidArgument("chinese_title_share must be in [0, 1]");
  if (!(o.paraphrase_share >= 0 && o.paraphrase_share <= 1))
    return Status::InvalidArgument("paraphrase_share must be in [0, 1]");
  const int64_t start = o.end_time - static_cast<int64_t>(o.days) * kDay;
  if (start < kYear2000 || o.end_time > kYear2035)
    return Status::InvalidArgument("the generated window must lie between 2000-01-01 and 2035-01-01");
  const FaultRates& f = o.faults;
  for (double r : {f.duplicate_event, f.invalid_event, f.invalid_item, f.orphan_item, f.orphan_user, f.future_timestamp,
                   f.old_timestamp, f.out_of_order, f.bot_user, f.price_outlier, f.broken_title, f.volume_shift_drop})
    if (!(r >= 0 && r <= 1)) return Status::InvalidArgument("fault rates must be in [0, 1]");
  if (f.invalid_item + f.price_outlier + f.broken_title > 1)
    return Status::InvalidArgument("item fault rates add up to more than 1");
  return Status::Ok();
}

}  // namespace

Result<GenStats> GenerateShop(const GenOptions& options, const std::string& out_dir) {
  SOUK_RETURN_IF_ERROR(Validate(options));
  std::error_code ec;
  if (!std::filesystem::is_directory(out_dir, ec))
    return Status::NotFound("output directory does not exist: " + out_dir);
  auto progress = [&](double fraction) {
    if (options.progress) options.progress(std::min(1.0, fraction));
  };

  World w;
  w.opt = options;
  w.opt.progress = nullptr;
  if (!w.opt.inject_faults) w.opt.faults = NoFaults();
  const FaultRates& rates = w.opt.faults;
  w.start = options.end_time - static_cast<int64_t>(options.days) * kDay;
  w.item_width = std::max(6, DigitsOf(options.items));
  w.user_width = std::max(6, DigitsOf(options.users));

  BuildVocabulary(w);
  BuildItems(w);
  InjectItemFaults(w);
  BuildEligible(w);
  progress(0.05);

  // Bots are ordinary rows of users.csv whose events are machine-made.
  w.users.resize(options.users);
  {
    uint64_t bots = std::llround(rates.bot_user * options.users);
    if (rates.bot_user > 0 && options.users >= 300) bots = std::max<uint64_t>(bots, 3);
    bots = std::min<uint64_t>(bots, options.users / 2);
    Rng rng(options.seed, kStreamBots);
    std::vector<uint32_t> order(options.users);
    for (uint32_t u = 0; u < options.users; ++u) order[u] = u;
    rng.Shuffle(order);
    for (uint64_t b = 0; b < bots; ++b) w.users[order[b]].bot = true;
  }

  std::vector<Event> events;
  events.reserve(static_cast<size_t>(options.users) * 56);
  uint32_t next_session = 0;
  {
    UserSim sim(w, events, next_session);
    const uint32_t step = std::max<uint32_t>(1, options.users / 50);
    for (uint32_t u = 0; u < options.users; ++u) {
      sim.Run(u);
      if (u % step == 0) progress(0.05 + 0.65 * u / options.users);
    }
  }
  // (ts, user) is unique for generated events (a user's events are strictly
  // increasing in time); the rest of the key only makes the order total.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.ts != b.ts) return a.ts < b.ts;
    if (a.user != b.user) return a.user < b.user;
    if (a.session != b.session) return a.session < b.session;
    if (a.type != b.type) return a.type < b.type;
    return a.item < b.item;
  });
  progress(0.75);

  std::vector<uint64_t> bot_events(options.users, 0);
  for (const Event& e : events)
    if (e.bot) ++bot_events[e.user];

  std::vector<GroundTruthRow> item_gt, user_gt, event_gt;
  std::vector<GroundTruthRow> day_gt = ApplyDayFaults(w, events);
  EventFaultPlan plan = PlanEventFaults(w, events, next_session);
  progress(0.8);

  GenStats stats;
  const std::filesystem::path dir(out_dir);
  Rng title_rng(options.seed, kStreamItemFaults, 1);
  SOUK_RETURN_IF_ERROR(WriteItems(w, (dir / "items.csv").string(), item_gt, title_rng));
  SOUK_RETURN_IF_ERROR(WriteUsers(w, (dir / "users.csv").string(), user_gt, bot_events));
  EventWriteResult ew;
  SOUK_RETURN_IF_ERROR(WriteEvents(w, events, plan, next_session, (dir / "events.csv").string(), event_gt, &ew,
                                   [&](double f) { progress(f); }));
  std::vector<GroundTruthRow> gt;
  for (auto* part : {&item_gt, &user_gt, &event_gt, &day_gt}) gt.insert(gt.end(), part->begin(), part->end());
  SOUK_RETURN_IF_ERROR(WriteGroundTruth((dir / "ground_truth.csv").string(), gt));
  SOUK_RETURN_IF_ERROR(WriteJudgments(w, (dir / "judgments.csv").string(), &stats.judgments));
  SOUK_RETURN_IF_ERROR(WriteSynonyms((dir / "synonyms.txt").string()));

  stats.items = w.items.size();
  stats.users = w.users.size();
  stats.events = ew.rows;
  stats.sessions = ew.sessions;
  stats.searches = ew.searches;
  stats.purchases = ew.purchases;
  for (const char* name :
       {"duplicate_event", "invalid_row", "orphan_item", "orphan_user", "future_timestamp", "old_timestamp",
        "out_of_order", "bot_user", "price_outlier", "broken_title", "volume_shift", "mix_shift"})
    stats.faults[name] = 0;
  for (const auto& r : gt) ++stats.faults[r.fault];
  SOUK_RETURN_IF_ERROR(WriteManifest(w, (dir / "manifest.json").string(), stats));
  progress(1.0);
  return stats;
}

}  // namespace souk::gen

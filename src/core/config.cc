#include "core/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cassert>
#include <fstream>
#include <sstream>

#include "core/core.h"

namespace souk {

const std::vector<SettingDef>& AllSettings() {
  using T = SettingType;
  static const std::vector<SettingDef> kSettings = {
      // import
      {"import.batch_rows", T::kInt, "100000",
       "Rows per transaction. Each batch commits or rolls back whole; 0 = the whole file in one transaction."},
      {"import.max_record_bytes", T::kInt, "1048576",
       "A record longer than this is rejected (its first max_record_bytes are kept in quarantine)."},
      {"import.max_reported_errors", T::kInt, "5",
       "How many rejected rows `souk import` prints to stderr (all are kept in quarantine)."},
      {"events.extra_types", T::kString, "",
       "Comma-separated event types beyond view, click, cart, purchase, rating, search, impression."},
      // search
      {"search.fields", T::kString, "title=3/0.75,brand=2/0.5,category=1.5/0.5,tags=1.5/0.5,description=1/0.75",
       "BM25F fields as name=weight/b, comma-separated (title, brand, category, tags, description)."},
      {"search.k1", T::kDouble, "1.2", "BM25F saturation k1."},
      {"search.personalize_weight", T::kDouble, "0.5",
       "Weight of the user model's score against BM25F when a search names a user (both z-scored over the top "
       "search.personalize_depth hits); 0 turns personalization off."},
      {"search.personalize_depth", T::kInt, "100", "How many of the best BM25F hits personalization re-orders."},
      {"search.stem", T::kBool, "true", "English Snowball stemming of Latin-script words."},
      {"search.cjk", T::kBool, "true", "Dictionary segmentation of Chinese text (else character bigrams)."},
      {"search.prior_weight", T::kDouble, "0",
       "Weight of the popularity prior (log of weighted purchases, carts, clicks and views) added to relevance; 0 = "
       "off."},
      {"search.dictionary", T::kString, "",
       "Chinese word-frequency dictionary (jieba format); empty = python3-jieba's dict.txt."},
      // quality
      {"rank.depth", T::kInt, "50", "How many of BM25F's best hits the LTR model (ltr-search) re-ranks."},
      {"rank.diversity", T::kDouble, "0",
       "souk serve: the default diversity (lambda of the category MMR) of /v1/recommend; a request may say "
       "diversity=L. 0 = the model's order."},
      {"rank.diversity_depth", T::kInt, "100", "Diversity (MMR): how many of the best candidates it picks from."},
      {"rank.weight_relevance", T::kDouble, "1", "Multi-objective value: weight of the (normalised) relevance."},
      {"rank.weight_revenue", T::kDouble, "0",
       "Multi-objective value: weight of the price (as a share of the candidates' highest)."},
      {"rank.weight_novelty", T::kDouble, "0",
       "Multi-objective value: weight of novelty (1 - log popularity over the highest)."},
      {"rank.blend_weights", T::kString, "user=1,similar=1,pop=0.3,trending=0.5",
       "Blended recommendations (blend=true, souk recommend --blend): weight of each candidate generator in the "
       "weighted reciprocal-rank fusion."},
      {"rank.bias_min_clicks", T::kInt, "20",
       "souk train --model ltr-search: clicks joined to search impressions needed before position bias is "
       "estimated and used (inverse-propensity weights per training search)."},
      {"rank.exclude_out_of_stock", T::kBool, "false",
       "Leave items with stock 0 out of search and recommendation answers (souk serve, souk search, souk "
       "recommend; items of unknown stock stay)."},
      {"rank.intent_min_pairs", T::kInt, "50",
       "souk train --model ltr-search: (query, category acted on) pairs of the training period needed to learn the "
       "query-intent features with the ranker; 0 = never."},
      {"rank.search", T::kString, "ltr",
       "souk serve: re-rank /v1/search with DIR/models/ltr-search.json when it exists (ltr), or never (none); a "
       "request may say rank=none."},
      {"rank.shuffle_depth", T::kInt, "10",
       "souk serve: how many of the first results a randomised search answer shuffles (rank.shuffle_share)."},
      {"rank.shuffle_share", T::kDouble, "0",
       "souk serve: share of first-page search answers whose top rank.shuffle_depth are shown in random order "
       "(flagged \"shuffled\"): a randomisation bucket, so the impressions show the same results at different "
       "positions and position bias can be estimated; 0 = never."},
      {"rank.vector_model", T::kString, "twotower",
       "Search LTR: the model with a query tower whose <query, item> similarity is the vector_sim feature, used "
       "when DIR/models/NAME.bin exists (none = never)."},
      {"rank.validation_share", T::kDouble, "0.1",
       "souk train --model ltr-search: the share of the search log (by time, before the test part) used for early "
       "stopping."},
      {"rank.test_share", T::kDouble, "0.1",
       "souk train --model ltr-search: the latest share of the search log held out (written as "
       "reports/ltr-search-test.csv); 0 trains on all of it."},
      {"rank.rounds", T::kInt, "300", "souk train --model ltr-search: boosting rounds at most (early stopping on "
                                      "validation NDCG@10 keeps the best)."},
      {"quality.now", T::kString, "",
       "The time 'now' for the future-timestamp rule (ISO-8601 or Unix seconds); empty = the wall clock."},
      {"quality.future_tolerance_s", T::kInt, "86400",
       "Timestamps later than now plus this many seconds are in the future."},
      {"quality.min_timestamp", T::kString, "2000-01-01", "Timestamps before this date are implausibly old."},
      {"quality.order_tolerance_s", T::kInt, "1",
       "Events within a session may be out of order by this many seconds before it counts."},
      {"quality.price_z", T::kDouble, "3.5",
       "Robust z-score (median/MAD of log price within a category) above which a price is an outlier."},
      {"quality.price_min_ratio", T::kDouble, "5",
       "A price outlier must also be at least this many times above (or below) the category median."},
      {"quality.price_min_items", T::kInt, "8",
       "Categories with fewer priced items are judged together with their parent category."},
      {"quality.bot_events_per_minute", T::kInt, "30",
       "A user with this many events inside any 60-second window is bot-like."},
      {"quality.bot_regular_min_gaps", T::kInt, "30",
       "Minimum number of in-session gaps before gap regularity is judged."},
      {"quality.bot_gap_dispersion", T::kDouble, "0.1",
       "Gaps whose median absolute deviation is below this share of the median gap are machine-regular."},
      {"quality.bot_views_only_min", T::kInt, "150",
       "A user with at least this many views and no other action is bot-like (when the log has other actions)."},
      {"quality.day_volume_ratio", T::kDouble, "2.5",
       "A day whose event count differs from the median of the surrounding days by more than this factor is a volume "
       "shift."},
      {"quality.day_mix_tvd", T::kDouble, "0.12",
       "A day whose event-type mix is farther than this total-variation distance from the surrounding days' mix is a "
       "mix shift."},
      {"quality.day_window", T::kInt, "7", "Days on each side that form the baseline for the day-by-day rules."},
      {"quality.day_min_events", T::kInt, "200",
       "Days are compared only when their baseline has at least this many events."},
      {"quality.examples", T::kInt, "5", "Examples shown per rule."},
      // recommendations
      {"rec.view_weight", T::kDouble, "1", "Interaction weight of a view event."},
      {"rec.click_weight", T::kDouble, "2", "Interaction weight of a click event."},
      {"rec.cart_weight", T::kDouble, "4", "Interaction weight of an add-to-cart event."},
      {"rec.purchase_weight", T::kDouble, "8", "Interaction weight of a purchase event."},
      {"rec.rating_weight", T::kDouble, "4", "Interaction weight of a rating event."},
      {"rec.other_weight", T::kDouble, "1",
       "Interaction weight of events.extra_types events (search and impression count 0)."},
      {"rec.half_life_days", T::kDouble, "0",
       "Time decay of interaction weights: an event half_life_days older than the latest counts half; 0 = no decay."},
      {"rec.include_flagged", T::kBool, "false",
       "Train on events that `souk clean` flagged (bots, bad timestamps...)."},
      {"rec.models", T::kString, "pop,itemknn,sknn,ials",
       "Models `souk train` fits, as model specs separated by ';' or names separated by ','."},
      {"rec.user_model", T::kString, "ials", "Model that `souk recommend DIR USER` serves."},
      {"rec.session_model", T::kString, "sknn",
       "Model that `souk recommend --session(s)` serves for anonymous sessions."},
      {"rec.similar_model", T::kString, "itemknn", "Model that `souk similar` serves."},
      {"rec.threads", T::kInt, "0", "Threads for training and evaluation; 0 = all cores."},
      {"rec.seed", T::kInt, "42", "Random seed for training, negative sampling and bootstrap intervals."},
      // serving
      {"server.cache_entries", T::kInt, "100000",
       "Recommendation answers `souk serve` keeps (per user and k; dropped when the user's events, the catalog "
       "or the models change); 0 = no cache."},
      {"server.impressions", T::kBool, "true",
       "Log what every search and recommendation response showed (request id, items in order) to the "
       "impressions table, so events that name the request id join to it."},
  };
  return kSettings;
}

namespace {

const SettingDef* FindDef(std::string_view name) {
  for (const auto& d : AllSettings())
    if (d.name == name) return &d;
  return nullptr;
}

std::string_view TypeName(SettingType t) {
  switch (t) {
    case SettingType::kInt:
      return "integer";
    case SettingType::kDouble:
      return "number";
    case SettingType::kBool:
      return "boolean";
    case SettingType::kString:
      return "string";
  }
  return "?";
}

}  // namespace

Config::Config() {
  for (const auto& d : AllSettings()) {
    Status s = Set(d.name, d.default_value);
    assert(s.ok() && "bad default in the settings table");
    (void)s;
  }
}

Status Config::Set(std::string_view name, std::string_view value) {
  const SettingDef* def = FindDef(name);
  if (!def) return Status::InvalidArgument(fmt::format("unknown setting '{}'", name));
  switch (def->type) {
    case SettingType::kInt: {
      auto v = ParseInt(value);
      if (!v) return Status::InvalidArgument(fmt::format("setting '{}' wants an integer, got '{}'", name, value));
      values_[std::string(name)] = *v;
      break;
    }
    case SettingType::kDouble: {
      auto v = ParseDouble(value);
      if (!v) return Status::InvalidArgument(fmt::format("setting '{}' wants a number, got '{}'", name, value));
      values_[std::string(name)] = *v;
      break;
    }
    case SettingType::kBool: {
      if (value == "true")
        values_[std::string(name)] = true;
      else if (value == "false")
        values_[std::string(name)] = false;
      else
        return Status::InvalidArgument(fmt::format("setting '{}' wants true or false, got '{}'", name, value));
      break;
    }
    case SettingType::kString:
      values_[std::string(name)] = std::string(value);
      break;
  }
  return Status::Ok();
}

Result<Config> Config::Load(const std::string& path) {
  Config config;
  std::ifstream in(path);
  if (!in) return config;  // no file: defaults
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description()));
  }
  for (const auto& [section, node] : root) {
    const toml::table* table = node.as_table();
    if (!table)
      return Status::InvalidArgument(
          fmt::format("{}:{}: '{}' must be a [section]", path, section.source().begin.line, section.str()));
    for (const auto& [key, value] : *table) {
      std::string name = fmt::format("{}.{}", section.str(), key.str());
      const SettingDef* def = FindDef(name);
      int line = static_cast<int>(key.source().begin.line);
      if (!def) return Status::InvalidArgument(fmt::format("{}:{}: unknown setting '{}'", path, line, name));
      std::string text;
      bool type_ok = true;
      switch (def->type) {
        case SettingType::kInt:
          if (auto v = value.value<int64_t>(); v && value.is_integer())
            text = std::to_string(*v);
          else
            type_ok = false;
          break;
        case SettingType::kDouble:
          if (auto v = value.value<double>(); v && (value.is_floating_point() || value.is_integer()))
            text = fmt::format("{}", *v);
          else
            type_ok = false;
          break;
        case SettingType::kBool:
          if (auto v = value.value<bool>(); v && value.is_boolean())
            text = *v ? "true" : "false";
          else
            type_ok = false;
          break;
        case SettingType::kString:
          if (auto v = value.value<std::string>(); v && value.is_string())
            text = *v;
          else
            type_ok = false;
          break;
      }
      if (!type_ok)
        return Status::InvalidArgument(
            fmt::format("{}:{}: setting '{}' must be of type {}", path, line, name, TypeName(def->type)));
      Status status = config.Set(name, text);
      if (!status.ok()) return status.WithContext(fmt::format("{}:{}", path, line));
    }
  }
  return config;
}

const Config::Value& Config::Get(std::string_view name) const {
  auto it = values_.find(name);
  assert(it != values_.end() && "setting not in the table");
  return it->second;
}

int64_t Config::GetInt(std::string_view name) const { return std::get<int64_t>(Get(name)); }
double Config::GetDouble(std::string_view name) const { return std::get<double>(Get(name)); }
bool Config::GetBool(std::string_view name) const { return std::get<bool>(Get(name)); }
const std::string& Config::GetString(std::string_view name) const { return std::get<std::string>(Get(name)); }

std::string Config::Text(std::string_view name) const {
  const Value& v = Get(name);
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return std::get<std::string>(v);
}

std::string Config::ToToml() const {
  std::ostringstream out;
  out << "# souk settings. Every key, its default and meaning: docs/config.md or `souk config`.\n";
  std::string section;
  for (const auto& d : AllSettings()) {
    std::string_view name = d.name;
    auto dot = name.find('.');
    std::string sec(name.substr(0, dot));
    if (sec != section) {
      out << "\n[" << sec << "]\n";
      section = sec;
    }
    out << "# " << d.description << "\n";
    std::string value = Text(d.name);
    if (d.type == SettingType::kString) {
      toml::value<std::string> tv(value);
      std::ostringstream q;
      q << tv;
      value = q.str();
    }
    out << name.substr(dot + 1) << " = " << value << "\n";
  }
  return out.str();
}

std::string Config::Markdown() {
  std::ostringstream out;
  out << "# Settings (souk.toml)\n\n"
      << "`souk init` writes `DIR/souk.toml` with every setting at its default. Values set there\n"
      << "override the defaults; an unknown key or a wrong type is an error naming the line.\n"
      << "This page is generated from the settings table in `src/core/config.cc`\n"
      << "(`souk config --markdown`); a test keeps the two in step.\n";
  std::string section;
  for (const auto& d : AllSettings()) {
    std::string_view name = d.name;
    std::string sec(name.substr(0, name.find('.')));
    if (sec != section) {
      out << "\n## [" << sec << "]\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
      section = sec;
    }
    out << "| `" << name << "` | " << TypeName(d.type) << " | `" << d.default_value << "` | " << d.description
        << " |\n";
  }
  return out.str();
}

}  // namespace souk

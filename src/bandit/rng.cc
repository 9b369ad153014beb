// The bandit module's random numbers: xoshiro256** (Blackman & Vigna 2018)
// seeded by splitmix64, normals by the ziggurat, gammas by
// Marsaglia-Tsang (2000), betas as a ratio of gammas. Everything is computed
// here rather than with <random>'s distributions, so a seed gives the same
// draws with every standard library.
#include <cmath>

#include "bandit/bandit.h"

namespace souk::bandit {

namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) s = SplitMix64(x);
}

uint64_t Rng::Below(uint64_t n) {
  // Lemire's multiply-shift with rejection: unbiased.
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = -n % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(Next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

namespace internal {

// Marsaglia & Tsang (2000), "The Ziggurat Method for Generating Random
// Variables", 128 strips for the normal: most draws cost one 32-bit integer,
// a table lookup and a multiply.
Ziggurat::Ziggurat() {
  const double m1 = 2147483648.0;
  double dn = 3.442619855899, tn = dn;
  const double vn = 9.91256303526217e-3;
  const double q = vn / std::exp(-0.5 * dn * dn);
  kn[0] = static_cast<uint32_t>((dn / q) * m1);
  kn[1] = 0;
  wn[0] = q / m1;
  wn[127] = dn / m1;
  fn[0] = 1.0;
  fn[127] = std::exp(-0.5 * dn * dn);
  for (int i = 126; i >= 1; --i) {
    dn = std::sqrt(-2.0 * std::log(vn / dn + std::exp(-0.5 * dn * dn)));
    kn[i + 1] = static_cast<uint32_t>((dn / tn) * m1);
    tn = dn;
    fn[i] = std::exp(-0.5 * dn * dn);
    wn[i] = dn / m1;
  }
}

const Ziggurat kZiggurat;

}  // namespace internal

// The ziggurat's full loop from a first try `first` whose rectangle test
// failed (it is repeated here, which costs nothing and keeps one loop).
double Rng::NormalSlow(uint32_t first) {
  constexpr double r = 3.442620;  // start of the tail
  uint32_t bits = first;
  for (;;) {
    const int32_t hz = static_cast<int32_t>(bits);
    const uint32_t iz = bits & 127;
    const uint32_t mag = hz < 0 ? static_cast<uint32_t>(-static_cast<int64_t>(hz)) : bits;
    const double x = hz * internal::kZiggurat.wn[iz];
    if (mag < internal::kZiggurat.kn[iz]) return x;  // inside the strip's rectangle: most draws
    if (iz == 0) {
      // The tail beyond r (Marsaglia 1964).
      double tx, ty;
      do {
        double u1 = Uniform(), u2 = Uniform();
        while (u1 == 0) u1 = Uniform();
        while (u2 == 0) u2 = Uniform();
        tx = -std::log(u1) / r;
        ty = -std::log(u2);
      } while (ty + ty < tx * tx);
      return hz > 0 ? r + tx : -r - tx;
    }
    // The wedge: accept under the density, else draw again.
    const auto& z = internal::kZiggurat;
    if (z.fn[iz] + Uniform() * (z.fn[iz - 1] - z.fn[iz]) < std::exp(-0.5 * x * x)) return x;
    bits = static_cast<uint32_t>(Next() >> 32);
  }
}

Rng::GammaShape::GammaShape(double s) : shape(s) {
  const double base = s < 1 ? s + 1 : s;  // shape < 1: Gamma(s + 1) * U^(1/s)
  d = base - 1.0 / 3;
  c = 1 / std::sqrt(9 * d);
}

double Rng::GammaLogTest(const GammaShape& g, double x2, double v, double u) {
  if (std::log(u) < 0.5 * x2 + g.d * (1 - v + std::log(v))) return g.d * v;
  return GammaLoop(g);
}

double Rng::GammaLoop(const GammaShape& g) {
  double out;
  for (;;) {
    // The normal from the upper half of one output, the acceptance uniform
    // from its lower half (32 bits are plenty for the squeeze test).
    const uint64_t bits = Next();
    const double x = NormalFrom(static_cast<uint32_t>(bits >> 32));
    double v = 1 + g.c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = (static_cast<double>(static_cast<uint32_t>(bits)) + 0.5) * 0x1.0p-32;
    const double x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2 || (u > 0 && std::log(u) < 0.5 * x2 + g.d * (1 - v + std::log(v)))) {
      out = g.d * v;
      break;
    }
  }
  if (g.shape < 1) {
    double u = Uniform();
    while (u == 0) u = Uniform();
    out *= std::pow(u, 1 / g.shape);
  }
  return out;
}

double Rng::Gamma(double shape) { return Gamma(GammaShape(shape)); }

double Rng::Beta(double a, double b) {
  const double x = Gamma(a), y = Gamma(b);
  return x / (x + y);
}

}  // namespace souk::bandit

//===- Rope.cpp -----------------------------------------------------------===//
#include "Rope.h"

#include <algorithm>
#include <cmath>

namespace birkhoff::rt {

RopeTable RopeTable::fromParams(const RopeSpec &r) {
  RopeTable t;
  t.ropeDim = r.ropeDim;
  float base = float(r.theta);
  int64_t half = t.ropeDim / 2;
  t.invFreq.resize(size_t(half));
  for (int64_t i = 0; i < half; ++i)
    t.invFreq[i] = 1.0f / std::pow(base, float(2 * i) / float(t.ropeDim));
  if (r.yarn) {
    double factor = r.ropeFactor;
    double original = double(r.originalSeqLen);
    double dim = double(t.ropeDim);
    auto correctionDim = [&](double rotations) {
      return dim * std::log(original / (rotations * 2.0 * M_PI)) /
             (2.0 * std::log(double(base)));
    };
    double low = std::max(std::floor(correctionDim(r.betaFast)), 0.0);
    double high = std::min(std::ceil(correctionDim(r.betaSlow)), dim - 1);
    if (low == high)
      high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      float ramp =
          std::clamp(float((double(i) - low) / (high - low)), 0.0f, 1.0f);
      float extrapolation = t.invFreq[i];
      float interpolation = extrapolation / float(factor);
      // Pairs below `low` keep their frequency, pairs above `high` are slowed
      // by the factor, those between blend linearly.
      t.invFreq[i] = interpolation * ramp + extrapolation * (1.0f - ramp);
    }
  }
  return t;
}

void RopeTable::apply(float *x, int64_t position, bool inverse) const {
  float p = float(position);
  for (size_t i = 0; i < invFreq.size(); ++i) {
    float angle = p * invFreq[i];
    // Evaluated in double and rounded once: correctly rounded, so every backend
    // (glibc, CUDA) gets the same bits.
    float c = float(std::cos(double(angle))),
          s = float(std::sin(double(angle)));
    if (inverse)
      s = -s;
    float x0 = x[2 * i], x1 = x[2 * i + 1];
    x[2 * i] = x0 * c - x1 * s;
    x[2 * i + 1] = x1 * c + x0 * s;
  }
}

} // namespace birkhoff::rt

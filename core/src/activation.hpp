#pragma once
// The activations' formulas (swish, tanh, softplus) in one place, internal to the core: the
// value pass of evaluation (mlp.cpp), the value and first derivative of training
// (trainer.cpp) and the Taylor jet up to third order (mlp.cpp). Each form is chosen for its
// pass's precision: the value pass keeps e^(−z) = inf → −0, training needs σ for h', and the
// jet builds σ and 1 − σ from e^(−|z|) so both keep full relative precision in the tails.
#include <type_traits>

#include "diffpath/common.hpp"
#include "diffpath/mlp.hpp"

namespace diffpath::activation {

// Activation in place (float or double).
template <class Derived>
void apply(Activation act, Eigen::MatrixBase<Derived>& z) {
  using Scalar = typename Derived::Scalar;
  auto a = z.array();
  switch (act) {
    case Activation::Swish:  // z·σ(z) = z / (1 + e^(−z)); e^(−z) = inf gives −0, as it should
      a = a / (Scalar(1) + (-a).exp());
      break;
    case Activation::Tanh:
      a = a.tanh();
      break;
    case Activation::Softplus:  // log(1 + e^z) without overflow
      a = a.max(Scalar(0)) + (-a.abs()).exp().log1p();
      break;
  }
}

// Swish on one SIMD packet (Eigen's packet primitives): apply()'s formula, for the forward
// pass that activates a block of a layer while it is still in registers (mlp.cpp).
template <class Packet>
inline Packet swish_packet(const Packet& z) {
  namespace ei = Eigen::internal;
  using Scalar = typename ei::unpacket_traits<Packet>::type;
  return ei::pdiv(z, ei::padd(ei::pset1<Packet>(Scalar(1)), ei::pexp(ei::pnegate(z))));
}

// Pre-activation a → activation h (in place), derivative dh/da → d: the training pass needs
// σ for h', so its swish is formed from σ (same function as apply, other round-off).
template <class BlockA, class BlockD>
void apply_with_derivative(Activation act, BlockA&& a_block, BlockD&& d_block) {
  using S = typename std::decay_t<BlockA>::Scalar;
  auto a = a_block.array();
  auto d = d_block.array();
  switch (act) {
    case Activation::Swish:  // h = a σ(a), h' = σ + a σ (1 − σ) = σ + h (1 − σ)
      d = a.logistic();
      a = a * d;
      d = d + a * (S(1) - d);
      break;
    case Activation::Tanh:
      a = a.tanh();
      d = S(1) - a.square();
      break;
    case Activation::Softplus:  // h = log(1 + e^a) without overflow, h' = σ(a)
      d = a.logistic();
      a = a.max(S(0)) + (-a.abs()).exp().log1p();
      break;
  }
}

// φ^(k)(z) for k = 0..order, elementwise. Sigmoids are formed from e = exp(−|z|) so that both
// σ and 1 − σ keep full relative precision in the tails.
struct Jet {
  Eigen::ArrayXXd phi[4];
};

template <class ZBlock>
void derivatives(Activation act, const ZBlock& zin, int order, Jet& D) {
  const auto z = zin.array();
  const Eigen::ArrayXXd e = (-z.abs()).exp();
  if (act == Activation::Tanh) {
    // tanh z = sign(z)(1 − e²)/(1 + e²), tanh' = 4e²/(1 + e²)² (no 1 − tanh² cancellation).
    const Eigen::ArrayXXd e2 = e * e, r = 1.0 / (1.0 + e2);
    const Eigen::ArrayXXd y = z.sign() * (1.0 - e2) * r;
    D.phi[0] = y;
    if (order >= 1) D.phi[1] = 4.0 * e2 * r * r;
    if (order >= 2) D.phi[2] = -2.0 * y * D.phi[1];
    if (order >= 3) D.phi[3] = D.phi[1] * (6.0 * y.square() - 2.0);
    return;
  }
  const Eigen::ArrayXXd r = 1.0 / (1.0 + e);
  const Eigen::ArrayXXd sig = (z >= 0.0).select(r, e * r);      // σ(z)
  const Eigen::ArrayXXd sigc = (z >= 0.0).select(e * r, r);     // 1 − σ(z)
  // σ' = σ(1 − σ), σ'' = σ'(1 − 2σ), σ''' = σ'(1 − 6σ').
  Eigen::ArrayXXd s1, s2, s3;
  if (order >= 1) s1 = sig * sigc;
  if (order >= 2) s2 = s1 * (sigc - sig);
  if (order >= 3 && act == Activation::Swish) s3 = s1 * (1.0 - 6.0 * s1);
  if (act == Activation::Swish) {
    // (z σ)^(k) = k σ^(k−1) + z σ^(k)
    D.phi[0] = z * sig;
    if (order >= 1) D.phi[1] = sig + z * s1;
    if (order >= 2) D.phi[2] = 2.0 * s1 + z * s2;
    if (order >= 3) D.phi[3] = 3.0 * s2 + z * s3;
  } else {  // softplus: φ' = σ
    D.phi[0] = z.max(0.0) + e.log1p();
    if (order >= 1) D.phi[1] = sig;
    if (order >= 2) D.phi[2] = s1;
    if (order >= 3) D.phi[3] = s2;
  }
}

}  // namespace diffpath::activation

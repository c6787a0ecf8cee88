// The MLP score network: exact jets against high-order finite differences, symmetry of the
// derivative tensors, float vs double, batched vs one-by-one, thread safety, initialisation.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <vector>

#include <Eigen/LU>

#include "diffpath/mlp.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"

using namespace diffpath;

namespace {

const Activation kActivations[] = {Activation::Swish, Activation::Tanh, Activation::Softplus};

// A small network with non-zero biases (so the biases are exercised too), evaluated in double.
Mlp make_net(int d, Activation act, uint64_t seed, const std::vector<int>& hidden = {16, 16, 16}) {
  MlpParams p = MlpParams::init(d, hidden, act, seed);
  Rng rng(seed + 1000);
  for (auto& b : p.b)
    for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = 0.5 * rng.normal();
  Mlp net(std::move(p));
  net.set_precision(Precision::Double);
  return net;
}

Points random_points(int d, int n, uint64_t seed, double scale = 2.0) {
  Rng rng(seed);
  Points x(d, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = scale * (2.0 * rng.uniform() - 1.0);
  return x;
}

// Central finite-difference weights w_k, k = −K..K, for the n-th derivative: the unique weights
// with Σ_k w_k k^p = n! δ_pn for p = 0..2K. Error O(h^(2K+2−n)) for even 2K+2−n (symmetry).
Eigen::VectorXd central_weights(int n, int K) {
  const int N = 2 * K + 1;
  Eigen::MatrixXd A(N, N);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(N);
  for (int p = 0; p < N; ++p)
    for (int i = 0; i < N; ++i) A(p, i) = std::pow(double(i - K), p);
  rhs(n) = std::tgamma(n + 1.0);
  return A.fullPivLu().solve(rhs);
}

// n-th directional derivative of the score along v (one direction per point) by central
// differences of the double-precision value only: independent of the jet code.
Points fd_directional(const Mlp& net, const Points& x, const Points& v, double t, int n, int K,
                      double h) {
  const Eigen::VectorXd w = central_weights(n, K);
  const int d = int(x.rows()), np = int(x.cols()), N = 2 * K + 1;
  Points shifted(d, np * N);
  for (int p = 0; p < np; ++p)
    for (int k = 0; k < N; ++k) shifted.col(p * N + k) = x.col(p) + double(k - K) * h * v.col(p);
  Points s;
  net.score(shifted, t, s);
  Points out = Points::Zero(d, np);
  for (int p = 0; p < np; ++p)
    for (int k = 0; k < N; ++k) out.col(p) += w(k) * s.col(p * N + k);
  return out / std::pow(h, n);
}

// The jet's n-th directional derivative Σ T_i j k l v_j v_k v_l (or the order-1/2 analogue).
Points jet_directional(const ScoreJet& jet, const Points& v, int n) {
  const int d = int(v.rows()), np = int(v.cols());
  Points out = Points::Zero(d, np);
  for (int p = 0; p < np; ++p)
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) {
        if (n == 1) out(i, p) += jet.J(i * d + j, p) * v(j, p);
        for (int k = 0; k < d && n >= 2; ++k) {
          if (n == 2) out(i, p) += jet.H((i * d + j) * d + k, p) * v(j, p) * v(k, p);
          for (int l = 0; l < d && n == 3; ++l)
            out(i, p) += jet.T(((i * d + j) * d + k) * d + l, p) * v(j, p) * v(k, p) * v(l, p);
        }
      }
  return out;
}

// max |a − b| / (1 + max |b|): an error relative to the size of the reference.
double scaled_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / (1.0 + b.cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("finite-difference weights reproduce polynomials exactly") {
  // Sanity check of the test's own tool: the 3rd derivative of x^3 is 6 for any h.
  const Eigen::VectorXd w = central_weights(3, 4);
  double sum = 0;
  for (int k = -4; k <= 4; ++k) sum += w(k + 4) * std::pow(0.3 + 0.1 * k, 3);
  CHECK(sum / std::pow(0.1, 3) == doctest::Approx(6.0).epsilon(1e-9));
}

TEST_CASE("jet directional derivatives match central differences of the score, orders 1-3") {
  // Order n from 2K+1 = 11-point stencils at h = 0.02: truncation O(h^(12-n)), roundoff
  // ≈ ε·|s|·Σ|w|/hⁿ, which dominates for n = 3 (≈ 2e-16·Σ|w|≈50 / 8e-6 ≈ 1e-9 per unit |s|).
  // Observed errors (relative to 1 + max|reference|): 2e-12, 9e-12, 1.1e-8 for n = 1, 2, 3;
  // tolerances are ~100× that. A wrong or missing chain-rule term gives errors of order 1e-2..1.
  const double tol[4] = {0, 1e-10, 1e-9, 1e-6};
  for (int d : {1, 2})
    for (Activation act : kActivations)
      for (double t : {0.01, 0.5, 1.0}) {
        CAPTURE(d);
        CAPTURE(activation_name(act));
        CAPTURE(t);
        const Mlp net = make_net(d, act, 7 + d);
        const Points x = random_points(d, 12, 11 * d);
        Points v = random_points(d, 12, 13 * d, 1.0);
        for (int p = 0; p < v.cols(); ++p) v.col(p).normalize();
        ScoreJet jet;
        net.jet(x, t, 3, jet);
        for (int n = 1; n <= 3; ++n) {
          CAPTURE(n);
          const Points fd = fd_directional(net, x, v, t, n, 5, 0.02);
          const double err = scaled_error(jet_directional(jet, v, n), fd);
          CHECK(err < tol[n]);
        }
      }
}

TEST_CASE("each jet component is the x-derivative of the one below it (mixed partials)") {
  // J = ∂s, H = ∂J, T = ∂H checked entry by entry along every axis e_l with 9-point first-
  // derivative stencils (truncation O(h^8) ≈ 1e-16 at h = 1e-2, roundoff ≈ ε·Σ|w|/h ≈ 5e-14 per
  // unit of the differenced quantity): tolerance 1e-9 relative to 1 + max|reference|, observed
  // ≤ 2e-11 (T from H, the largest components). This covers every mixed partial ∂_j∂_k∂_l separately,
  // which random directions alone would only see in combination.
  for (int d : {1, 2})
    for (Activation act : kActivations) {
      CAPTURE(d);
      CAPTURE(activation_name(act));
      const Mlp net = make_net(d, act, 21 + d);
      const Points x = random_points(d, 8, 5 + d);
      const double t = 0.37, h = 1e-2;
      const int K = 4;
      const Eigen::VectorXd w = central_weights(1, K);
      ScoreJet jet;
      net.jet(x, t, 3, jet);
      for (int l = 0; l < d; ++l) {
        CAPTURE(l);
        // Jets at x + k h e_l, k = −K..K: derivative along axis l of each component.
        ScoreJet fd = jet;
        fd.s.setZero(); fd.J.setZero(); fd.H.setZero();
        for (int k = -K; k <= K; ++k) {
          Points xs = x;
          xs.row(l).array() += k * h;
          ScoreJet js;
          net.jet(xs, t, 2, js);
          fd.s += w(k + K) / h * js.s;
          fd.J += w(k + K) / h * js.J;
          fd.H += w(k + K) / h * js.H;
        }
        // ∂_l s_i = J(i, l), ∂_l J(i, j) = H(i, j, l), ∂_l H(i, j, k) = T(i, j, k, l).
        Eigen::MatrixXd Jl(d, x.cols()), Hl(d * d, x.cols()), Tl(d * d * d, x.cols());
        for (int i = 0; i < d; ++i) {
          Jl.row(i) = jet.J.row(i * d + l);
          for (int j = 0; j < d; ++j) {
            Hl.row(i * d + j) = jet.H.row((i * d + j) * d + l);
            for (int k = 0; k < d; ++k)
              Tl.row((i * d + j) * d + k) = jet.T.row(((i * d + j) * d + k) * d + l);
          }
        }
        CHECK(scaled_error(Jl, fd.s) < 1e-9);
        CHECK(scaled_error(Hl, fd.J) < 1e-9);
        CHECK(scaled_error(Tl, fd.H) < 1e-9);
      }
    }
}

TEST_CASE("H and T are symmetric in their derivative indices") {
  const int d = 2;
  const Mlp net = make_net(d, Activation::Swish, 3);
  ScoreJet jet;
  net.jet(random_points(d, 50, 4), 0.2, 3, jet);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k) {
        CHECK(jet.H.row((i * d + j) * d + k) == jet.H.row((i * d + k) * d + j));
        for (int l = 0; l < d; ++l) {
          const auto T = [&](int a, int b, int c) { return jet.T.row(((i * d + a) * d + b) * d + c); };
          CHECK(T(j, k, l) == T(j, l, k));
          CHECK(T(j, k, l) == T(k, j, l));
          CHECK(T(j, k, l) == T(l, k, j));
        }
      }
  // The score of a trained model need not be a gradient, so J is not checked for symmetry.
  CHECK(jet.T.allFinite());
}

TEST_CASE("jets of different orders agree; order 0 equals the double score") {
  for (int d : {1, 2}) {
    const Mlp net = make_net(d, Activation::Swish, 40 + d, {32, 32});
    const Points x = random_points(d, 130, 41);
    ScoreJet j0, j1, j2, j3;
    net.jet(x, 0.6, 0, j0);
    net.jet(x, 0.6, 1, j1);
    net.jet(x, 0.6, 2, j2);
    net.jet(x, 0.6, 3, j3);
    Points s;
    net.score(x, 0.6, s);
    CHECK(j0.order == 0);
    CHECK(j3.order == 3);
    CHECK(j0.J.size() == 0);
    // Same arithmetic, but the products may be blocked differently: round-off only.
    CHECK(scaled_error(j0.s, s) < 1e-14);
    CHECK(scaled_error(j3.s, j0.s) < 1e-14);
    CHECK(scaled_error(j3.J, j1.J) < 1e-14);
    CHECK(scaled_error(j3.H, j2.H) < 1e-14);
  }
}

TEST_CASE("networks without hidden layers are affine in x") {
  MlpParams p = MlpParams::init(2, {}, Activation::Swish, 5);
  p.b[0] << 0.3, -0.2;
  const Mlp net(p);
  const Points x = random_points(2, 5, 6);
  ScoreJet jet;
  net.jet(x, 0.4, 3, jet);
  for (int q = 0; q < 5; ++q) {
    const Eigen::Vector3d in(x(0, q), x(1, q), 0.4);
    CHECK((jet.s.col(q) - (p.W[0] * in + p.b[0])).norm() < 1e-14);
    CHECK(jet.J(1, q) == p.W[0](0, 1));  // ∂_1 s_0
  }
  CHECK(jet.H.isZero(0));
  CHECK(jet.T.isZero(0));
}

// s(x, t) of one point by the definition, layer by layer in scalar double arithmetic.
Eigen::VectorXd naive_score(const MlpParams& p, const Eigen::VectorXd& x, double t) {
  Eigen::VectorXd h(x.size() + 1);
  h << x, t;
  for (size_t l = 0; l < p.W.size(); ++l) {
    Eigen::VectorXd z = p.b[l];
    for (Eigen::Index r = 0; r < z.size(); ++r)
      for (Eigen::Index k = 0; k < h.size(); ++k) z(r) += p.W[l](r, k) * h(k);
    if (l + 1 < p.W.size())
      for (Eigen::Index r = 0; r < z.size(); ++r) {
        const double v = z(r);
        z(r) = p.activation == Activation::Swish  ? v / (1 + std::exp(-v))
               : p.activation == Activation::Tanh ? std::tanh(v)
                                                  : std::log1p(std::exp(v));
      }
    h = z;
  }
  return h;
}

TEST_CASE("score equals the layer-by-layer definition for any widths, activations and counts") {
  // The forward pass pads layers to register blocks and chunks points: widths that are not
  // multiples of a block, no hidden layer, point counts that leave a partial chunk and a partial
  // block, every activation, d = 1..3. Double within 1e-13 of the scalar definition (observed
  // ~1e-16 relative to 1 + max|s|); float within 1e-5 (widths ≤ 70: round-off ~1e-7), and the
  // float score_jacobian within 1e-5 of the double jet.
  const std::vector<std::vector<int>> archs = {{}, {5}, {7, 70, 3}, {33, 17}, {64, 64}};
  for (int d : {1, 2, 3})
    for (const auto& hidden : archs)
      for (Activation act : kActivations) {
        CAPTURE(d);
        CAPTURE(hidden.size());
        CAPTURE(activation_name(act));
        Mlp net = make_net(d, act, 300 + d, hidden);
        for (int n : {1, 5, 131}) {
          const Points x = random_points(d, n, 301 + n, 3.0);
          Points ref(d, n);
          for (int q = 0; q < n; ++q) ref.col(q) = naive_score(net.params(), x.col(q), 0.35);
          Points s;
          net.set_precision(Precision::Double);
          net.score(x, 0.35, s);
          CHECK(scaled_error(s, ref) < 1e-13);
          net.set_precision(Precision::Float);
          net.score(x, 0.35, s);
          CHECK(scaled_error(s, ref) < 1e-5);
          // The float order-1 jet shares the padded layout: against the double jet.
          ScoreJet fast, exact;
          net.score_jacobian(x, 0.35, fast);
          net.jet(x, 0.35, 1, exact);
          CHECK(scaled_error(fast.s, exact.s) < 1e-5);
          CHECK(scaled_error(fast.J, exact.J) < 1e-5);
        }
      }
}

TEST_CASE("float score matches double score to float round-off (paper network)") {
  // 4 layers, products of length ≤ 128 in float: relative error ~ √128·6e-8 ≈ 7e-7 per layer.
  // Observed 2.7e-7 relative to 1 + max|s|; tolerance 1e-5.
  for (int d : {1, 2})
    for (Activation act : kActivations) {
      CAPTURE(d);
      CAPTURE(activation_name(act));
      Mlp net(MlpParams::init(d, {128, 128, 128}, act, 99));
      const Points x = random_points(d, 700, 100, 3.0);
      Points sf, sd;
      net.set_precision(Precision::Float);
      net.score(x, 0.3, sf);
      net.set_precision(Precision::Double);
      net.score(x, 0.3, sd);
      CHECK(scaled_error(sf, sd) < 1e-5);
    }
}

TEST_CASE("score_jacobian: the order-1 jet in the evaluation precision") {
  // Float: s and ∇s within 1e-5 of the double jet relative to 1 + max|·| (round-off ~1e-7,
  // 300 points over three chunks); Double: the double jet itself.
  for (int d : {1, 2})
    for (Activation act : kActivations) {
      CAPTURE(d);
      CAPTURE(activation_name(act));
      Mlp net(MlpParams::init(d, {128, 128, 128}, act, 7 + d));
      const Points x = random_points(d, 300, 31, 3.0);
      ScoreJet ref, fast;
      net.jet(x, 0.4, 1, ref);
      net.score_jacobian(x, 0.4, fast);
      CHECK(fast.order == 1);
      CHECK(scaled_error(fast.s, ref.s) < 1e-5);
      CHECK(scaled_error(fast.J, ref.J) < 1e-5);
      CHECK(scaled_error(fast.s, ref.s) > 0);  // it is the float path
      net.set_precision(Precision::Double);
      net.score_jacobian(x, 0.4, fast);
      CHECK(scaled_error(fast.J, ref.J) == 0);
    }
}

TEST_CASE("batched evaluation equals one-by-one evaluation") {
  // 300 points span three score chunks (128) and five jet chunks (64); each point's result must
  // not depend on its neighbours (round-off only: the product kernels may block differently).
  Mlp net = make_net(2, Activation::Swish, 77, {64, 64});
  const Points x = random_points(2, 300, 78);
  for (Precision prec : {Precision::Float, Precision::Double}) {
    net.set_precision(prec);
    const double tol = prec == Precision::Float ? 1e-5 : 1e-14;  // observed 2e-7 and 2e-16
    Points batch, one;
    net.score(x, 0.5, batch);
    double err = 0;
    for (int q = 0; q < x.cols(); ++q) {
      net.score(x.col(q), 0.5, one);
      err = std::max(err, scaled_error(one, batch.col(q)));
    }
    CHECK(err < tol);
  }
  ScoreJet batch, one;
  net.jet(x, 0.5, 3, batch);
  double err = 0;
  for (int q = 0; q < x.cols(); ++q) {
    net.jet(x.col(q), 0.5, 3, one);
    err = std::max({err, scaled_error(one.s, batch.s.col(q)), scaled_error(one.J, batch.J.col(q)),
                    scaled_error(one.H, batch.H.col(q)), scaled_error(one.T, batch.T.col(q))});
  }
  CHECK(err < 1e-13);
}

TEST_CASE("concurrent evaluation on one shared model gives the serial result") {
  // Scratch buffers are per thread; two threads hammering one const model must not interfere.
  const Mlp net = make_net(2, Activation::Swish, 88, {64, 64});
  const Points x = random_points(2, 2000, 89);
  ScoreJet serial;
  net.jet(x, 0.5, 3, serial);
  Points serial_s;
  net.score(x, 0.5, serial_s);
  Points par_T(serial.T.rows(), x.cols()), par_s(2, x.cols());
  parallel_for(int(x.cols() / 100), 2, [&](int begin, int end) {
    for (int c = begin; c < end; ++c) {
      ScoreJet j;
      Points s;
      net.jet(x.middleCols(c * 100, 100), 0.5, 3, j);
      net.score(x.middleCols(c * 100, 100), 0.5, s);
      par_T.middleCols(c * 100, 100) = j.T;
      par_s.middleCols(c * 100, 100) = s;
    }
  });
  CHECK(scaled_error(par_T, serial.T) < 1e-13);
  CHECK(scaled_error(par_s, serial_s) < 1e-13);
}

TEST_CASE("far from the data the jet stays finite") {
  // Sigmoids from exp(−|z|): no inf/inf or 0·inf in the tails of any activation.
  for (Activation act : kActivations) {
    const Mlp net = make_net(2, act, 5);
    Points x(2, 4);
    x << 1e3, -1e3, 1e6, -1e8, -1e3, 1e3, 0.0, 1e8;
    ScoreJet jet;
    net.jet(x, 0.5, 3, jet);
    CHECK(jet.s.allFinite());
    CHECK(jet.J.allFinite());
    CHECK(jet.H.allFinite());
    CHECK(jet.T.allFinite());
  }
}

TEST_CASE("LeCun-normal initialisation: std 1/sqrt(fan_in), zero biases, deterministic") {
  const MlpParams p = MlpParams::init(2, {128, 128, 128}, Activation::Swish, 2024);
  REQUIRE(p.W.size() == 4);
  CHECK(p.hidden() == std::vector<int>{128, 128, 128});
  CHECK(p.parameter_count() == 3 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2);
  for (size_t l = 0; l < p.W.size(); ++l) {
    CAPTURE(l);
    const auto& W = p.W[l];
    const double n = double(W.size()), expected = 1.0 / std::sqrt(double(W.cols()));
    const double mean = W.mean();
    const double std_dev = std::sqrt((W.array() - mean).square().sum() / (n - 1));
    // Standard errors: mean σ/√n, sample std σ/√(2n). 5 standard errors: a false alarm is ~1e-6.
    CHECK(std::abs(mean) < 5 * expected / std::sqrt(n));
    CHECK(std::abs(std_dev - expected) < 5 * expected / std::sqrt(2 * n));
    CHECK(p.b[l].isZero(0));
  }
  const MlpParams again = MlpParams::init(2, {128, 128, 128}, Activation::Swish, 2024);
  const MlpParams other = MlpParams::init(2, {128, 128, 128}, Activation::Swish, 2025);
  CHECK(again.W[1] == p.W[1]);
  CHECK(other.W[1] != p.W[1]);
}

TEST_CASE("bad input is a clear error") {
  CHECK_THROWS_AS(MlpParams::init(0, {8}, Activation::Swish, 1), Error);
  CHECK_THROWS_AS(MlpParams::init(2, {0}, Activation::Swish, 1), Error);
  CHECK_THROWS_AS(parse_activation("relu"), Error);
  CHECK(parse_activation("silu") == Activation::Swish);
  for (Activation a : kActivations) CHECK(parse_activation(activation_name(a)) == a);

  MlpParams p = MlpParams::init(2, {8, 8}, Activation::Swish, 1);
  MlpParams bad = p;
  bad.W[1] = Eigen::MatrixXd::Zero(8, 7);  // does not take layer 0's 8 outputs
  CHECK_THROWS_AS(Mlp{bad}, Error);
  bad = p;
  bad.b.pop_back();
  CHECK_THROWS_AS(Mlp{bad}, Error);
  bad = p;
  bad.dim = 3;  // first layer takes 3 = d + 1 inputs only for d = 2
  CHECK_THROWS_AS(Mlp{bad}, Error);

  const Mlp net(p);
  Points wrong(3, 4), out;
  wrong.setZero();
  ScoreJet jet;
  CHECK_THROWS_AS(net.score(wrong, 0.5, out), Error);
  CHECK_THROWS_AS(net.jet(wrong, 0.5, 1, jet), Error);
  CHECK_THROWS_AS(net.jet(Points::Zero(2, 4), 0.5, 4, jet), Error);
  // Empty batches are fine.
  net.jet(Points(2, 0), 0.5, 3, jet);
  CHECK(jet.T.cols() == 0);
}

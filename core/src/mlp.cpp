// The MLP score network: batched forward pass (float or double) and exact x-derivatives up to
// third order by forward-mode Taylor propagation through the layers.
//
// Jet layout. For a chunk of m points every layer carries its pre-activation z (or its output
// h) together with the distinct partial derivatives in x as one matrix width × (C·m): block 0
// is the value, then ∂_j, then ∂_j∂_k (j ≤ k), then ∂_j∂_k∂_l (j ≤ k ≤ l), each block m columns.
// A linear layer acts on every block alike, so the whole jet goes through a layer as ONE matrix
// product W · [h | h_j | h_jk | h_jkl] (the bias only touches block 0). The activation mixes
// blocks by the chain rule (Faà di Bruno):
//   h_j   = φ' z_j
//   h_jk  = φ'' z_j z_k + φ' z_jk
//   h_jkl = φ''' z_j z_k z_l + φ''(z_jk z_l + z_jl z_k + z_kl z_j) + φ' z_jkl.
// The first layer is affine in x: z_j = W0(:, j) for every point and z_jk = z_jkl = 0, so its
// jet is a column scaling of φ^(k)(z) and costs no product at all.
#include "diffpath/mlp.hpp"

#include <array>
#include <cmath>

#include "activation.hpp"
#include "diffpath/rng.hpp"

namespace diffpath {

std::string activation_name(Activation a) {
  switch (a) {
    case Activation::Swish: return "swish";
    case Activation::Tanh: return "tanh";
    case Activation::Softplus: return "softplus";
  }
  return "swish";
}

Activation parse_activation(const std::string& name) {
  if (name == "swish" || name == "silu") return Activation::Swish;  // silu: PyTorch's name
  if (name == "tanh") return Activation::Tanh;
  if (name == "softplus") return Activation::Softplus;
  throw Error("unknown activation '" + name + "' (expected swish, tanh or softplus)");
}

// ---------------------------------------------------------------------------------------------
// MlpParams

MlpParams MlpParams::init(int dim, const std::vector<int>& hidden, Activation act,
                          uint64_t seed) {
  if (dim < 1) throw Error("MLP dimension must be at least 1, got " + std::to_string(dim));
  std::vector<int> widths{dim + 1};
  for (int h : hidden) {
    if (h < 1) throw Error("MLP hidden width must be at least 1, got " + std::to_string(h));
    widths.push_back(h);
  }
  widths.push_back(dim);

  MlpParams p;
  p.dim = dim;
  p.activation = act;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const int in = widths[i], out = widths[i + 1];
    // One stream per layer, filled row by row: the weights depend only on (seed, layer).
    Rng rng(stream_seed(seed, 0x4d4c50 /* "MLP" */, i));
    const double std_dev = 1.0 / std::sqrt(double(in));
    Eigen::MatrixXd W(out, in);
    for (int r = 0; r < out; ++r)
      for (int c = 0; c < in; ++c) W(r, c) = std_dev * rng.normal();
    p.W.push_back(std::move(W));
    p.b.push_back(Eigen::VectorXd::Zero(out));
  }
  return p;
}

std::vector<int> MlpParams::hidden() const {
  std::vector<int> widths;
  for (size_t i = 0; i + 1 < W.size(); ++i) widths.push_back(int(W[i].rows()));
  return widths;
}

int64_t MlpParams::parameter_count() const {
  int64_t count = 0;
  for (size_t i = 0; i < W.size(); ++i) count += W[i].size();
  for (size_t i = 0; i < b.size(); ++i) count += b[i].size();
  return count;
}

bool MlpParams::all_finite() const {
  for (const auto& w : W)
    if (!w.allFinite()) return false;
  for (const auto& v : b)
    if (!v.allFinite()) return false;
  return true;
}

void MlpParams::validate() const {
  auto fail = [](const std::string& what) { throw Error("invalid MLP: " + what); };
  if (dim < 1) fail("dimension " + std::to_string(dim) + " < 1");
  if (W.empty()) fail("no layers");
  if (W.size() != b.size())
    fail(std::to_string(W.size()) + " weight matrices but " + std::to_string(b.size()) +
         " bias vectors");
  for (size_t i = 0; i < W.size(); ++i) {
    const std::string layer = "layer " + std::to_string(i);
    const int64_t in = i == 0 ? dim + 1 : W[i - 1].rows();
    if (W[i].rows() < 1) fail(layer + " has no outputs");
    if (W[i].cols() != in)
      fail(layer + " takes " + std::to_string(W[i].cols()) + " inputs, expected " +
           std::to_string(in) + (i == 0 ? " (d + 1 for (x, t))" : " (previous layer's outputs)"));
    if (b[i].size() != W[i].rows())
      fail(layer + " bias has " + std::to_string(b[i].size()) + " entries for " +
           std::to_string(W[i].rows()) + " outputs");
  }
  if (W.back().rows() != dim)
    fail("last layer has " + std::to_string(W.back().rows()) + " outputs, expected d = " +
         std::to_string(dim));
}

// ---------------------------------------------------------------------------------------------
// Forward pass and order-1 jet in the evaluation precision, float or double
//
// Why not Eigen's matrix product: a hidden layer of a chunk is a 128 × 128 by 128 × 128
// product, small enough that Eigen's per-call packing of both operands, the bias pass, the
// activation pass over memory and its general 2-row product for the last layer cost a quarter
// of an evaluation besides the multiply-adds (paper's network, float, one core: 1.5 M points/s
// through Eigen, 2.0 M here; the order-1 jet 0.54 → 0.60 M). Here the
// weights are laid out once, padded with zero rows and columns to whole register blocks
// (a zero weight adds an exact 0, so the padding changes no sum); each MR × NR block of a
// layer's output is accumulated in registers from its bias and, for swish, activated before it
// is stored. The first layer (d + 1 inputs) and the last (d outputs) are fused passes of their
// own. Layer i's output is W[i] h + b[i]; the activation follows every layer but the last.

namespace ei = Eigen::internal;

namespace {

template <class Scalar>
using MatrixT = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using VectorT = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

// Points per chunk: keeps a chunk's activations (width × chunk) in L2 between layers.
constexpr int kScoreChunk = 128;

template <class Scalar>
struct Blocking {
  using Packet = typename ei::packet_traits<Scalar>::type;
  static constexpr int P = ei::unpacket_traits<Packet>::size;
  // A block: MP packets of output rows by NR points. Measured on a 128 × 128 layer: with 32
  // registers (AVX-512) 4 × 4 is the fastest (16 accumulators + 4 weights + 1 broadcast); with
  // 16 (AVX2) 2 × 4 (11 registers) matches Eigen's product and 4 × 2 is 10 % slower.
#if defined(EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS) && EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32
  static constexpr int MP = 4;
#else
  static constexpr int MP = 2;
#endif
  static constexpr int NR = 4;
  static constexpr int MR = MP * P;
  static int pad_rows(Eigen::Index n) { return int((n + MR - 1) / MR * MR); }
  static int pad_cols(Eigen::Index n) { return int((n + NR - 1) / NR * NR); }
};

}  // namespace

// The network's weights in one precision, padded to register blocks (see above).
template <class Scalar>
struct MlpForward {
  using B = Blocking<Scalar>;
  using Packet = typename B::Packet;
  int d = 0;
  Activation act = Activation::Swish;
  MatrixT<Scalar> Wx;                    // first layer's x columns, rows padded
  VectorT<Scalar> wt, b0;                // its t column and bias, padded
  std::vector<MatrixT<Scalar>> W;        // hidden-to-hidden layers, rows and columns padded
  std::vector<VectorT<Scalar>> b;
  MatrixT<Scalar> Wlast_t;               // last layer transposed (padded in × d), if any
  VectorT<Scalar> blast;

  explicit MlpForward(const MlpParams& p) : d(p.dim), act(p.activation) {
    const size_t L = p.W.size();
    const int rows0 = B::pad_rows(p.W[0].rows());
    Wx = MatrixT<Scalar>::Zero(rows0, d);
    wt = b0 = VectorT<Scalar>::Zero(rows0);
    Wx.topRows(p.W[0].rows()) = p.W[0].leftCols(d).template cast<Scalar>();
    wt.head(p.W[0].rows()) = p.W[0].col(d).template cast<Scalar>();
    b0.head(p.W[0].rows()) = p.b[0].template cast<Scalar>();
    for (size_t l = 1; l + 1 < L; ++l) {
      MatrixT<Scalar> w = MatrixT<Scalar>::Zero(B::pad_rows(p.W[l].rows()), B::pad_rows(p.W[l].cols()));
      w.topLeftCorner(p.W[l].rows(), p.W[l].cols()) = p.W[l].template cast<Scalar>();
      VectorT<Scalar> v = VectorT<Scalar>::Zero(w.rows());
      v.head(p.b[l].size()) = p.b[l].template cast<Scalar>();
      W.push_back(std::move(w));
      b.push_back(std::move(v));
    }
    if (L > 1) {
      Wlast_t = MatrixT<Scalar>::Zero(B::pad_rows(p.W[L - 1].cols()), d);
      Wlast_t.topRows(p.W[L - 1].cols()) = p.W[L - 1].transpose().template cast<Scalar>();
      blast = p.b[L - 1].template cast<Scalar>();
    }
  }

  // s for the m points of `x` (d × m) into `out` (d × m).
  template <class XBlock, class OutBlock>
  void chunk(const XBlock& x, double t, OutBlock out) const {
    thread_local MatrixT<Scalar> a, z;  // per-thread scratch: evaluation stays const and reentrant
    const int m = int(x.cols()), cols = B::pad_cols(m);
    const bool hidden = Wlast_t.size() > 0;  // else the first layer is the last
    first_layer(x, Scalar(t), hidden, a, cols);
    for (size_t l = 0; l < W.size(); ++l) {
      hidden_layer(W[l], b[l], a, z, cols, cols, true);
      a.swap(z);
    }
    if (hidden) last_layer(a, 0, m, blast.data(), out);
    else out = a.topLeftCorner(d, m).template cast<double>();
  }

  // The order-1 jet of the m points of x (at least one hidden layer): [h | h_1 … h_d], each
  // block padded to whole register blocks of points, goes through a hidden layer as one
  // product (the bias only on h), then h_j = φ'(z) z_j with φ and φ' by the training pass's
  // formulas; the first layer has z_j = W0(:, j). s and J into columns c0 … c0 + m of out.
  template <class XBlock>
  void jacobian_chunk(const XBlock& x, double t, int c0, ScoreJet& out) const {
    thread_local MatrixT<Scalar> h, z, dphi;  // per-thread scratch, as in chunk()
    const int m = int(x.cols()), cols = B::pad_cols(m), all = (1 + d) * cols;
    first_layer(x, Scalar(t), false, z, cols);
    for (size_t l = 0;; ++l) {
      h.resize(z.rows(), all);
      dphi.resize(z.rows(), cols);
      h.leftCols(cols) = z.leftCols(cols);
      activation::apply_with_derivative(act, h.leftCols(cols), dphi);
      for (int j = 0; j < d; ++j) {
        auto hj = h.middleCols((1 + j) * cols, cols).array();
        if (l == 0) hj = dphi.array().colwise() * Wx.col(j).array();
        else hj = dphi.array() * z.middleCols((1 + j) * cols, cols).array();
      }
      if (l == W.size()) break;
      hidden_layer(W[l], b[l], h, z, all, cols, false);
    }
    const JetIndex ix{d};
    thread_local Points block;
    block.resize(d, m);
    for (int j = -1; j < d; ++j) {   // the value, then ∂_j
      last_layer(h, (1 + j) * cols, m, j < 0 ? blast.data() : nullptr, block);
      for (int i = 0; i < d; ++i) {
        if (j < 0) out.s.row(i).segment(c0, m) = block.row(i);
        else out.J.row(ix.J(i, j)).segment(c0, m) = block.row(i);
      }
    }
  }

 private:
  void activate(Packet& v) const {
    if (act == Activation::Swish) v = activation::swish_packet(v);
  }
  // The other activations by their array formula, over the stored block.
  void activate_stored(MatrixT<Scalar>& h) const {
    if (act != Activation::Swish) activation::apply(act, h);
  }

  // a = φ(Wx x + wt t + b0), column by column; the padding columns see x = 0.
  template <class XBlock>
  void first_layer(const XBlock& x, Scalar t, bool activated, MatrixT<Scalar>& a, int cols) const {
    const int rows = int(Wx.rows()), m = int(x.cols());
    thread_local VectorT<Scalar> base, xc;
    base = wt * t + b0;
    xc.resize(d);
    a.resize(rows, cols);
    for (int c = 0; c < cols; ++c) {
      for (int j = 0; j < d; ++j) xc(j) = c < m ? Scalar(x(j, c)) : Scalar(0);
      Scalar* ac = a.col(c).data();
      for (int r = 0; r < rows; r += B::P) {
        Packet v = ei::ploadu<Packet>(base.data() + r);
        for (int j = 0; j < d; ++j)
          v = ei::pmadd(ei::ploadu<Packet>(Wx.col(j).data() + r), ei::pset1<Packet>(xc(j)), v);
        if (activated) activate(v);
        ei::pstoreu(ac + r, v);
      }
    }
    if (activated) activate_stored(a);
  }

  // z = φ(Wl a + bl), one MR × NR block of z in registers at a time; the bias only on the
  // first `bias_cols` columns, φ only if `activated` (a jet's derivative blocks have neither).
  void hidden_layer(const MatrixT<Scalar>& Wl, const VectorT<Scalar>& bl, const MatrixT<Scalar>& a,
                    MatrixT<Scalar>& z, int cols, int bias_cols, bool activated) const {
    constexpr int MP = B::MP, NR = B::NR, P = B::P;
    const int rows = int(Wl.rows()), K = int(Wl.cols());
    z.resize(rows, cols);
    for (int r0 = 0; r0 < rows; r0 += B::MR)
      for (int c0 = 0; c0 < cols; c0 += NR) {
        Packet acc[MP][NR];
        for (int i = 0; i < MP; ++i) {
          const Packet bi = c0 < bias_cols ? ei::ploadu<Packet>(bl.data() + r0 + i * P)
                                           : ei::pset1<Packet>(Scalar(0));
          for (int j = 0; j < NR; ++j) acc[i][j] = bi;
        }
        const Scalar* w = Wl.data() + r0;
        const Scalar* ac = a.data() + Eigen::Index(c0) * K;
        for (int k = 0; k < K; ++k, w += rows) {
          Packet wk[MP];
          for (int i = 0; i < MP; ++i) wk[i] = ei::ploadu<Packet>(w + i * P);
          for (int j = 0; j < NR; ++j) {
            const Packet xk = ei::pset1<Packet>(ac[j * K + k]);
            for (int i = 0; i < MP; ++i) acc[i][j] = ei::pmadd(wk[i], xk, acc[i][j]);
          }
        }
        for (int j = 0; j < NR; ++j)
          for (int i = 0; i < MP; ++i) {
            if (activated) activate(acc[i][j]);
            ei::pstoreu(z.data() + Eigen::Index(c0 + j) * rows + r0 + i * P, acc[i][j]);
          }
      }
    if (activated) activate_stored(z);
  }

  // out(:, c) = Wlast a(:, first + c) (+ bias if given): d dot products per point.
  template <class OutBlock>
  void last_layer(const MatrixT<Scalar>& a, int first, int m, const Scalar* bias, OutBlock& out) const {
    const int K = int(a.rows());
    for (int c = 0; c < m; ++c) {
      const Scalar* ac = a.col(first + c).data();
      for (int i = 0; i < d; ++i) {
        const Scalar* w = Wlast_t.col(i).data();
        Packet acc = ei::pset1<Packet>(Scalar(0));
        for (int k = 0; k < K; k += B::P)
          acc = ei::pmadd(ei::ploadu<Packet>(w + k), ei::ploadu<Packet>(ac + k), acc);
        out(i, c) = double(ei::predux(acc) + (bias ? bias[i] : Scalar(0)));
      }
    }
  }
};

namespace {

template <class Scalar>
void forward(const MlpForward<Scalar>& net, const Points& x, double t, Points& out) {
  const int n = int(x.cols());
  out.resize(x.rows(), n);
  for (int c0 = 0; c0 < n; c0 += kScoreChunk) {
    const int m = std::min(kScoreChunk, n - c0);
    net.chunk(x.middleCols(c0, m), t, out.middleCols(c0, m));
  }
}

// ---------------------------------------------------------------------------------------------
// Jets

// Points per chunk of a jet: C·m columns of width 128 in double stay near L2 size.
constexpr int kJetChunk = 64;

// Which derivative each block of a jet holds (see the top of the file).
struct JetLayout {
  int d = 0, order = 0, count = 0;
  std::vector<int> first;                   // block of ∂_j
  std::vector<int> second;                  // block of ∂_j∂_k at [JetIndex J(j, k)], symmetric
  std::vector<int> third;                   // block of ∂_j∂_k∂_l at [JetIndex H(j, k, l)]
  std::vector<std::array<int, 2>> pairs;    // (j, k), j ≤ k, in block order
  std::vector<std::array<int, 3>> triples;  // (j, k, l), j ≤ k ≤ l, in block order

  JetLayout(int d_, int order_) : d(d_), order(order_), count(1) {
    first.assign(d, -1);
    second.assign(size_t(d) * d, -1);
    third.assign(size_t(d) * d * d, -1);
    if (order >= 1)
      for (int j = 0; j < d; ++j) first[j] = count++;
    if (order >= 2)
      for (int j = 0; j < d; ++j)
        for (int k = j; k < d; ++k) {
          pairs.push_back({j, k});
          second[JetIndex{d}.J(j, k)] = second[JetIndex{d}.J(k, j)] = count++;
        }
    if (order >= 3)
      for (int j = 0; j < d; ++j)
        for (int k = j; k < d; ++k)
          for (int l = k; l < d; ++l) {
            triples.push_back({j, k, l});
            for (auto [p, q, r] : {std::array{j, k, l}, std::array{j, l, k}, std::array{k, j, l},
                                   std::array{k, l, j}, std::array{l, j, k}, std::array{l, k, j}})
              third[JetIndex{d}.H(p, q, r)] = count;
            ++count;
          }
  }
  int pair_block(int j, int k) const { return second[JetIndex{d}.J(j, k)]; }
};

// Jet of the first hidden layer's output: z = W0 (x, t) + b0 has z_j = W0(:, j) and no higher
// derivatives, so h_j = φ' w_j, h_jk = φ'' w_j w_k, h_jkl = φ''' w_j w_k w_l.
void first_layer_jet(const JetLayout& L, const activation::Jet& D, const Eigen::MatrixXd& W0,
                     int m, Eigen::MatrixXd& h) {
  h.resize(W0.rows(), Eigen::Index(L.count) * m);
  auto block = [&](int c) { return h.middleCols(Eigen::Index(c) * m, m).array(); };
  auto w = [&](int j) { return W0.col(j).array(); };
  block(0) = D.phi[0];
  if (L.order >= 1)
    for (int j = 0; j < L.d; ++j) block(L.first[j]) = D.phi[1].colwise() * w(j);
  if (L.order >= 2)
    for (auto [j, k] : L.pairs) {
      const Eigen::ArrayXd wjk = w(j) * w(k);
      block(L.pair_block(j, k)) = D.phi[2].colwise() * wjk;
    }
  if (L.order >= 3)
    for (auto [j, k, l] : L.triples) {
      const Eigen::ArrayXd wjkl = w(j) * w(k) * w(l);
      block(L.third[(j * L.d + k) * L.d + l]) = D.phi[3].colwise() * wjkl;
    }
}

// Jet of φ(z) from the jet of z (blocks of m columns), by the chain rule.
void activation_jet(const JetLayout& L, const activation::Jet& D, const Eigen::MatrixXd& z, int m,
                    Eigen::MatrixXd& h) {
  h.resize(z.rows(), z.cols());
  auto zb = [&](int c) { return z.middleCols(Eigen::Index(c) * m, m).array(); };
  auto hb = [&](int c) { return h.middleCols(Eigen::Index(c) * m, m).array(); };
  hb(0) = D.phi[0];
  if (L.order >= 1)
    for (int j = 0; j < L.d; ++j) hb(L.first[j]) = D.phi[1] * zb(L.first[j]);
  if (L.order >= 2)
    for (auto [j, k] : L.pairs) {
      const int c = L.pair_block(j, k);
      hb(c) = D.phi[2] * zb(L.first[j]) * zb(L.first[k]) + D.phi[1] * zb(c);
    }
  if (L.order >= 3)
    for (auto [j, k, l] : L.triples) {
      const int c = L.third[(j * L.d + k) * L.d + l];
      const auto zj = zb(L.first[j]), zk = zb(L.first[k]), zl = zb(L.first[l]);
      hb(c) = D.phi[3] * zj * zk * zl +
              D.phi[2] * (zb(L.pair_block(j, k)) * zl + zb(L.pair_block(j, l)) * zk +
                          zb(L.pair_block(k, l)) * zj) +
              D.phi[1] * zb(c);
    }
}

// Copies the output layer's jet (d × C·m) into the full ScoreJet layout at columns c0..c0+m.
void expand_jet(const JetLayout& L, const Eigen::MatrixXd& z, int m, int c0, ScoreJet& out) {
  const int d = L.d;
  const JetIndex ix{d};
  auto from = [&](int i, int c) { return z.row(i).segment(Eigen::Index(c) * m, m); };
  for (int i = 0; i < d; ++i) {
    out.s.row(i).segment(c0, m) = from(i, 0);
    for (int j = 0; j < d && L.order >= 1; ++j) {
      out.J.row(ix.J(i, j)).segment(c0, m) = from(i, L.first[j]);
      for (int k = 0; k < d && L.order >= 2; ++k) {
        out.H.row(ix.H(i, j, k)).segment(c0, m) = from(i, L.pair_block(j, k));
        for (int l = 0; l < d && L.order >= 3; ++l)
          out.T.row(ix.T(i, j, k, l)).segment(c0, m) = from(i, L.third[ix.H(j, k, l)]);
      }
    }
  }
}

// A network without hidden layers is affine in x: J = W0(:, 0..d), no higher derivatives.
void affine_jet(const MlpParams& p, const Eigen::MatrixXd& z, int m, int c0, ScoreJet& out) {
  const int d = p.dim;
  out.s.middleCols(c0, m) = z;
  if (out.order >= 1)
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) out.J.row(JetIndex{d}.J(i, j)).segment(c0, m).setConstant(p.W[0](i, j));
  if (out.order >= 2) out.H.middleCols(c0, m).setZero();
  if (out.order >= 3) out.T.middleCols(c0, m).setZero();
}

struct JetScratch {
  Eigen::MatrixXd z0, h, z;
  activation::Jet D;
};

void jet_chunk(const MlpParams& p, const JetLayout& L, const Eigen::Ref<const Points>& x,
               double t, int c0, ScoreJet& out) {
  thread_local JetScratch S;  // per-thread scratch: evaluation stays const and reentrant
  const int d = p.dim, m = int(x.cols());
  const auto& W0 = p.W[0];
  S.z0.resize(W0.rows(), m);
  S.z0.colwise() = W0.col(d) * t + p.b[0];
  for (int j = 0; j < d; ++j) S.z0.noalias() += W0.col(j) * x.row(j);
  if (p.W.size() == 1) return affine_jet(p, S.z0, m, c0, out);

  activation::derivatives(p.activation, S.z0, L.order, S.D);
  first_layer_jet(L, S.D, W0, m, S.h);
  for (size_t l = 1;; ++l) {
    S.z.noalias() = p.W[l] * S.h;  // value and every derivative block in one product
    S.z.leftCols(m).colwise() += p.b[l];
    if (l + 1 == p.W.size()) break;
    activation::derivatives(p.activation, S.z.leftCols(m), L.order, S.D);
    activation_jet(L, S.D, S.z, m, S.h);
  }
  expand_jet(L, S.z, m, c0, out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Mlp

Mlp::Mlp(MlpParams params, std::string spec) : params_(std::move(params)), spec_(std::move(spec)) {
  params_.validate();
  forward_f_ = std::make_shared<const MlpForward<float>>(params_);
  forward_d_ = std::make_shared<const MlpForward<double>>(params_);
}

static void check_points(const Points& x, int d) {
  if (x.rows() != d)
    throw Error("MLP score: points have " + std::to_string(x.rows()) +
                " coordinates, the model expects d = " + std::to_string(d));
}

void Mlp::score(const Points& x, double t, Points& out) const {
  check_points(x, params_.dim);
  if (precision_ == Precision::Float)
    forward(*forward_f_, x, t, out);
  else
    forward(*forward_d_, x, t, out);
}

void Mlp::jet(const Points& x, double t, int order, ScoreJet& out) const {
  check_points(x, params_.dim);
  if (order < 0 || order > 3)
    throw Error("MLP jet: order " + std::to_string(order) + " outside 0..3");
  const int d = params_.dim, n = int(x.cols());
  const JetLayout layout(d, order);
  out.order = order;
  out.s.resize(d, n);
  out.J.resize(order >= 1 ? d * d : 0, n);
  out.H.resize(order >= 2 ? d * d * d : 0, n);
  out.T.resize(order >= 3 ? d * d * d * d : 0, n);
  for (int c0 = 0; c0 < n; c0 += kJetChunk) {
    const int m = std::min(kJetChunk, n - c0);
    jet_chunk(params_, layout, x.middleCols(c0, m), t, c0, out);
  }
}

void Mlp::score_jacobian(const Points& x, double t, ScoreJet& out) const {
  if (precision_ == Precision::Double || params_.W.size() == 1) return jet(x, t, 1, out);
  check_points(x, params_.dim);
  const int d = params_.dim, n = int(x.cols());
  out.order = 1;
  out.s.resize(d, n);
  out.J.resize(d * d, n);
  out.H.resize(0, n);
  out.T.resize(0, n);
  for (int c0 = 0; c0 < n; c0 += kScoreChunk) {
    const int m = std::min(kScoreChunk, n - c0);
    forward_f_->jacobian_chunk(x.middleCols(c0, m), t, c0, out);
  }
}

}  // namespace diffpath

#pragma once
// The algebra the mixture score's two paths share (score_model.cpp: any variances,
// mixture_blocks.cpp: one common variance). Internal to the core. The derivatives of
// log p_t of a Gaussian mixture are cumulants of the responsibilities (see MixtureScore in
// score_model.cpp); each path computes a few sums over the components (JetSums) and
// assemble_jet turns them into one point's ScoreJet columns.
#include <algorithm>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath::mixture {

// Index tuples a ≤ b ≤ … of one rank (the distinct entries of a symmetric tensor). Each
// tuple knows its parent (the tuple without its last index) so moment products are built
// rank by rank, P_abc = P_ab · w_c, and which sorted tuple every flat index maps to.
struct SortedTuples {
  std::vector<int> parent, last;  // per sorted tuple
  std::vector<int> of_flat;       // d^rank flat (row-major) index → sorted tuple

  static std::vector<SortedTuples> up_to_rank(int d, int max_rank) {
    std::vector<SortedTuples> ranks(max_rank + 1);
    std::vector<std::vector<int>> codes(max_rank + 1);  // sorted tuple as a base-d number
    codes[0] = {0};
    ranks[0].last = {0};
    ranks[0].of_flat = {0};
    for (int rank = 1; rank <= max_rank; ++rank) {
      SortedTuples& t = ranks[rank];
      const SortedTuples& below = ranks[rank - 1];
      for (int s = 0; s < int(codes[rank - 1].size()); ++s)
        for (int e = rank == 1 ? 0 : below.last[s]; e < d; ++e) {
          t.parent.push_back(s);
          t.last.push_back(e);
          codes[rank].push_back(codes[rank - 1][s] * d + e);
        }
      int flat_count = 1;
      for (int i = 0; i < rank; ++i) flat_count *= d;
      for (int flat = 0; flat < flat_count; ++flat) {
        std::vector<int> digits(rank);
        for (int i = rank - 1, f = flat; i >= 0; --i, f /= d) digits[i] = f % d;
        std::sort(digits.begin(), digits.end());
        int code = 0;
        for (int v : digits) code = code * d + v;
        const auto it = std::find(codes[rank].begin(), codes[rank].end(), code);
        t.of_flat.push_back(int(it - codes[rank].begin()));
      }
    }
    return ranks;
  }
  int size() const { return int(parent.size()); }
};

// Writes the distinct values of a symmetric tensor (one per sorted tuple) to its flat
// row-major layout.
inline void expand(const SortedTuples& t, const double* distinct, Eigen::VectorXd& flat) {
  for (Eigen::Index i = 0; i < flat.size(); ++i) flat[i] = distinct[t.of_flat[i]];
}

// What the jet of one point is assembled from (flat row-major tensors): with r the
// responsibilities and w = u − s,
//   A = Σ r w/c, B = Σ r w⊗w/c, E2 = Σ r w⊗², E3 = Σ r w⊗³, E4 = Σ r w⊗⁴, S1 = Σ r/c, S2 = Σ r/c².
struct JetSums {
  int d = 0;
  Eigen::VectorXd A, B, E2, E3, E4;
  double S1 = 0, S2 = 0;
  explicit JetSums(int dim)
      : d(dim), A(dim), B(dim * dim), E2(dim * dim), E3(dim * dim * dim),
        E4(dim * dim * dim * dim) {}
};

// Writes J (= M2), H (= M3) and T (= M4 − M2⊗M2 pairings) of one point from the sums.
inline void assemble_jet(const JetSums& S, int order, double* J, double* H, double* T) {
  const int d = S.d;
  const JetIndex ix{d};
  auto delta = [](int i, int j) { return i == j ? 1.0 : 0.0; };
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) J[ix.J(a, b)] = S.E2[ix.J(a, b)] - delta(a, b) * S.S1;
  if (order < 2) return;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int c = 0; c < d; ++c)
        H[ix.H(a, b, c)] = S.E3[ix.H(a, b, c)] -
                           (delta(a, b) * S.A[c] + delta(a, c) * S.A[b] + delta(b, c) * S.A[a]);
  if (order < 3) return;
  const auto Bm = [&](int i, int j) { return S.B[ix.J(i, j)]; };
  const auto M2 = [&](int i, int j) { return J[ix.J(i, j)]; };
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int c = 0; c < d; ++c)
        for (int e = 0; e < d; ++e) {
          const int i = ix.T(a, b, c, e);
          const double quadratic = delta(a, b) * Bm(c, e) + delta(a, c) * Bm(b, e) +
                                   delta(a, e) * Bm(b, c) + delta(b, c) * Bm(a, e) +
                                   delta(b, e) * Bm(a, c) + delta(c, e) * Bm(a, b);
          const double constant =
              (delta(a, b) * delta(c, e) + delta(a, c) * delta(b, e) + delta(a, e) * delta(b, c)) * S.S2;
          const double m4 = S.E4[i] - quadratic + constant;
          T[i] = m4 - (M2(a, b) * M2(c, e) + M2(a, c) * M2(b, e) + M2(a, e) * M2(b, c));
        }
}

}  // namespace diffpath::mixture

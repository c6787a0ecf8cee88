// The Python module `diffpath`: the core's exact numerics from a notebook (pybind11).
//
// Data flow. Points are NumPy float64 arrays of shape (n, d), C-contiguous — the same bytes as
// the core's column-major d × n Points (one point per column), so inputs are mapped without a
// copy when they already have that layout, and outputs are returned as (n, d) arrays over the
// result's own storage. Every numerical call releases the GIL and runs on a worker thread
// while the calling thread waits in short slices, checking for signals: Ctrl-C raises the
// core's cancel flag and the call ends with KeyboardInterrupt (run_cancellable below).
// Errors: diffpath::Error → ValueError with the core's one-line message; a file that does not
// exist → FileNotFoundError (an OSError).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "diffpath/action.hpp"
#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/mlp.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"
#include "diffpath/transport.hpp"

namespace py = pybind11;
using namespace diffpath;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// ------------------------------------------------------------------------------ arrays

// (n, d) array → d × n Points (a copy into Eigen's storage; forcecast made it contiguous
// float64 already, so this is one memcpy).
Points to_points(const Array& a, const char* what) {
  if (a.ndim() == 1) {  // 1D data: (n,) is n points in d = 1
    Points p(1, a.shape(0));
    std::copy(a.data(), a.data() + a.size(), p.data());
    return p;
  }
  if (a.ndim() != 2) throw Error(std::string(what) + ": expected an array of shape (n, d)");
  Points p(a.shape(1), a.shape(0));
  std::copy(a.data(), a.data() + a.size(), p.data());
  return p;
}

// d × n Points → (n, d) array that owns the moved matrix (no copy).
py::array_t<double> to_array(Points&& p) {
  auto* owner = new Points(std::move(p));
  py::capsule free_when_done(owner, [](void* o) { delete static_cast<Points*>(o); });
  const py::ssize_t n = owner->cols(), d = owner->rows();
  return py::array_t<double>({n, d}, {py::ssize_t(sizeof(double)) * d, py::ssize_t(sizeof(double))},
                             owner->data(), free_when_done);
}

py::array_t<double> to_array(const std::vector<double>& v) {
  py::array_t<double> a{py::ssize_t(v.size())};
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::array_t<double> to_array(const Vec& v) { return to_array(std::vector<double>(v.data(), v.data() + v.size())); }

// ------------------------------------------------------------------------------ cancellation

// Runs fn(cancel) on a worker thread with the GIL released; every 50 ms the caller takes the
// GIL and lets Python handle pending signals. A KeyboardInterrupt (or any exception from a
// signal handler) raises the cancel flag, waits for the worker to stop (the core polls the
// flag every step) and propagates. Exceptions from fn are rethrown on the caller.
template <class Fn>
auto run_cancellable(Fn&& fn) {
  std::atomic<bool> cancel{false};
  auto task = std::async(std::launch::async, [&] { return fn(&cancel); });
  {
    py::gil_scoped_release release;
    while (task.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        cancel = true;
        {
          py::gil_scoped_release again;
          task.wait();
        }
        throw py::error_already_set();
      }
    }
  }
  return task.get();
}

// ------------------------------------------------------------------------------ models

Schedule schedule_of(const py::object& s) {
  if (py::isinstance<Schedule>(s)) return s.cast<Schedule>();
  return Schedule::parse(s.cast<std::string>());
}

// Python holds models as shared_ptr<ScoreModel> (pybind11 needs a non-const holder); the core
// never mutates them.
using PyModel = std::shared_ptr<ScoreModel>;
PyModel to_py(ScoreModelPtr p) { return std::const_pointer_cast<ScoreModel>(std::move(p)); }

ScoreModelPtr load_model(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    PyErr_SetString(PyExc_FileNotFoundError, ("no such checkpoint: " + path).c_str());
    throw py::error_already_set();
  }
  return load_mlp_model(path);
}

ScoreModelPtr model_of(const py::object& m, const Schedule& schedule) {
  if (py::isinstance<ScoreModel>(m)) return m.cast<PyModel>();
  const std::string spec = m.cast<std::string>();
  if (spec.rfind("model:", 0) == 0) return load_model(spec.substr(6));
  return make_score_model(spec, schedule);
}

// ------------------------------------------------------------------------------ calls

py::dict sample_py(const py::object& score, const py::object& schedule, double eta, int n,
                   int steps, uint64_t seed, bool trajectories, int stride, int threads) {
  const Schedule sch = schedule_of(schedule);
  const ScoreModelPtr model = model_of(score, sch);
  SamplerOptions o;
  o.eta = eta;
  o.n = n;
  o.steps = steps;
  o.seed = seed;
  o.threads = threads;
  o.stride = trajectories ? (stride > 0 ? stride : std::max(1, steps / 100)) : 0;
  SampleResult r = run_cancellable([&](const std::atomic<bool>* c) { return sample(*model, sch, o, c); });
  if (r.cancelled) throw Error("sample: cancelled");
  py::dict out;
  out["samples"] = to_array(std::move(r.samples));
  out["actions"] = to_array(r.action);
  if (trajectories) {
    // (frames, n, d): frame k at times[k], from Tmax down to Tmin.
    const py::ssize_t F = py::ssize_t(r.frames.size()), N = n, D = model->dim();
    py::array_t<double> frames({F, N, D});
    for (py::ssize_t k = 0; k < F; ++k)
      std::copy(r.frames[size_t(k)].data(), r.frames[size_t(k)].data() + N * D,
                frames.mutable_data() + k * N * D);
    out["trajectories"] = frames;
    out["times"] = to_array(r.frame_times);
  }
  return out;
}

py::dict nll_py(const py::object& score, const Array& points, const py::object& schedule,
                double rtol, py::object atol, bool wkb, py::object eta, int paths, int eta_steps,
                uint64_t seed, int threads) {
  const Schedule sch = schedule_of(schedule);
  const ScoreModelPtr model = model_of(score, sch);
  const Points x0 = to_points(points, "nll");
  LikelihoodOptions lo;
  lo.rtol = rtol;
  lo.atol = atol.is_none() ? rtol : atol.cast<double>();
  lo.wkb = wkb;
  lo.threads = threads;
  std::vector<double> etas;
  if (!eta.is_none()) {
    if (py::isinstance<py::float_>(eta) || py::isinstance<py::int_>(eta)) etas = {eta.cast<double>()};
    else etas = eta.cast<std::vector<double>>();
  }
  struct Both {
    LikelihoodSummary s;
    EtaLikelihoodSummary e;
  };
  Both b = run_cancellable([&](const std::atomic<bool>* c) {
    Both r;
    r.s = evaluate_likelihood(*model, sch, x0, lo, c);
    if (!etas.empty() && !(c && c->load())) {
      EtaLikelihoodOptions eo;
      eo.etas = etas;
      eo.paths = paths;
      eo.steps = eta_steps;
      eo.seed = seed;
      eo.threads = threads;
      r.e = evaluate_likelihood_eta(*model, sch, x0, eo, c);
    }
    return r;
  });
  if (b.s.cancelled || b.e.cancelled) throw Error("nll: cancelled");
  const size_t n = b.s.points.size();
  std::vector<double> nll(n), c(n), nll_err(n), c_err(n);
  py::array_t<bool> ok{py::ssize_t(n)};
  for (size_t p = 0; p < n; ++p) {
    const PointLikelihood& pt = b.s.points[p];
    nll[p] = pt.nll;
    c[p] = pt.c;
    nll_err[p] = pt.nll_err;
    c_err[p] = pt.c_err;
    ok.mutable_data()[p] = pt.ok;
  }
  py::dict out;
  out["nll"] = to_array(nll);
  out["c"] = to_array(c);
  out["nll_err"] = to_array(nll_err);
  out["c_err"] = to_array(c_err);
  out["ok"] = ok;
  out["nll_mean"] = b.s.nll_mean;
  out["nll_se"] = b.s.nll_se;
  out["wkb_mean"] = b.s.wkb_mean;
  out["wkb_se"] = b.s.wkb_se;
  if (!etas.empty()) {
    // log q^η per point and η: shape (n, len(eta)); NaN where the point failed.
    py::array_t<double> log_q({py::ssize_t(n), py::ssize_t(etas.size())});
    for (size_t p = 0; p < n; ++p)
      for (size_t k = 0; k < etas.size(); ++k)
        log_q.mutable_data()[p * etas.size() + k] =
            b.e.points[p].ok ? b.e.points[p].at[k].log_q : NAN;
    out["log_q_eta"] = log_q;
    py::dict curve;
    for (const EtaCurvePoint& cp : b.e.curve)
      curve[py::float_(cp.eta)] = py::dict(py::arg("mean") = cp.mean, py::arg("se") = cp.se,
                                           py::arg("mc_se") = cp.mc_se, py::arg("bias") = cp.bias,
                                           py::arg("err") = cp.err);
    out["eta"] = curve;
    out["eta_n"] = b.e.n;  // the curve's points: those finite at every η
  }
  return out;
}

py::dict kl_py(const py::object& score, const py::object& exact, const py::object& schedule,
               const Array& data, int steps, uint64_t seed, int threads) {
  const Schedule sch = schedule_of(schedule);
  const ScoreModelPtr model = model_of(score, sch), ref = model_of(exact, sch);
  const Points x = to_points(data, "kl");
  const ActionKl k = run_cancellable([&](const std::atomic<bool>* c) {
    return action_kl_bound(*model, *ref, sch, x, steps, seed, threads, c);
  });
  if (k.cancelled) throw Error("kl: cancelled");
  return py::dict(py::arg("by_actions") = k.by_actions, py::arg("by_actions_se") = k.by_actions_se,
                  py::arg("by_loss") = k.by_loss, py::arg("by_loss_se") = k.by_loss_se);
}

std::shared_ptr<Mlp> train_py(const std::string& data, const py::object& schedule,
                                    int64_t steps, int batch, double lr,
                                    const std::vector<int>& hidden, uint64_t seed, int n_data,
                                    int threads) {
  TrainConfig cfg;
  cfg.data_spec = data;
  cfg.schedule = schedule_of(schedule);
  cfg.batch = batch;
  cfg.lr = lr;
  cfg.hidden = hidden;
  cfg.seed = seed;
  cfg.n_data = n_data;
  cfg.threads = threads;
  return run_cancellable([&](const std::atomic<bool>* c) {
    DsmTrainer trainer(cfg);
    for (int64_t k = 0; k < steps && !c->load(); ++k) trainer.step();
    if (c->load()) throw Error("train: cancelled");
    return std::make_shared<Mlp>(trainer.params(), "trained:" + data);
  });
}

}  // namespace

PYBIND11_MODULE(diffpath, m) {
  m.doc() = "diffpath: the path-integral view of score-based diffusion models (exact NLL, WKB "
            "coefficient, NLL(eta), actions, W2). Points are float64 arrays of shape (n, d).";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);

  py::class_<Schedule>(m, "Schedule", "A noise schedule: 'simple', 'cosine' or 'linear:bmin=..,bmax=..'.")
      .def(py::init([](const std::string& spec) { return Schedule::parse(spec); }), py::arg("spec"))
      .def_readonly("t_min", &Schedule::t_min)
      .def_readonly("t_max", &Schedule::t_max)
      .def_property_readonly("spec", &Schedule::spec)
      .def("alpha", &Schedule::alpha, py::arg("t"), "Signal scale alpha(t).")
      .def("sigma2", &Schedule::sigma2, py::arg("t"), "Noise variance 1 - alpha(t)^2.")
      .def("g2", &Schedule::g2, py::arg("t"), "Squared diffusion g(t)^2.")
      .def("f", &Schedule::f, py::arg("t"), "Drift coefficient f(t).")
      .def("__repr__", [](const Schedule& s) { return "Schedule('" + s.spec() + "')"; });

  py::class_<ScoreModel, PyModel>(m, "ScoreModel", "A score model s(x, t).")
      .def_property_readonly("dim", &ScoreModel::dim)
      .def_property_readonly("spec", &ScoreModel::spec)
      .def("score", [](const ScoreModel& s, const Array& x, double t) {
             const Points p = to_points(x, "score");
             Points out;
             {
               py::gil_scoped_release release;
               s.score(p, t, out);
             }
             return to_array(std::move(out));
           }, py::arg("x"), py::arg("t"), "s(x, t) for points x of shape (n, d) at time t: (n, d).")
      .def("__repr__", [](const ScoreModel& s) { return "ScoreModel('" + s.spec() + "')"; });
  py::class_<Mlp, ScoreModel, std::shared_ptr<Mlp>>(m, "Mlp", "An MLP score network (swish).")
      .def("save", [](const Mlp& net, const std::string& path, const std::map<std::string, std::string>& meta) {
             save_checkpoint(path, net.params(), meta);
           }, py::arg("path"), py::arg("metadata") = std::map<std::string, std::string>{},
           "Writes the network as a safetensors checkpoint (DESIGN §4 layout).");

  m.def("data", [](const std::string& name, int n, uint64_t seed) {
          return to_array(make_dataset(name, n, seed).points);
        }, py::arg("name"), py::arg("n") = 1000, py::arg("seed") = 1,
        "n points of a data set ('swissroll', '25gaussians', 'moons', 'csv:PATH', ...): (n, d).");
  m.def("score_model", [](const std::string& spec, const py::object& schedule) {
          return to_py(model_of(py::str(spec), schedule_of(schedule)));
        }, py::arg("spec"), py::arg("schedule") = "simple",
        "A score model from a spec: 'exact:DATA', 'gaussian:m=..,v=..,eps=..,delta=..', 'model:PATH'.");
  m.def("load_checkpoint", [](const std::string& path) {
          return to_py(load_model(path));
        }, py::arg("path"), "An MLP score model from a safetensors checkpoint.");
  m.def("checkpoint_metadata", [](const std::string& path) {
          if (!std::filesystem::exists(path)) load_model(path);  // FileNotFoundError
          return load_checkpoint(path).metadata;
        }, py::arg("path"), "The checkpoint's __metadata__ as a dict of strings.");
  m.def("sample", &sample_py, py::arg("score"), py::arg("schedule") = "simple", py::arg("eta") = 1.0,
        py::arg("n") = 3000, py::arg("steps") = 1000, py::arg("seed") = 0,
        py::arg("trajectories") = false, py::arg("stride") = 0, py::arg("threads") = 0,
        "Runs the eta-sampler (eta = 0: probability-flow ODE, 1: reverse SDE), Euler-Maruyama. "
        "Returns {'samples': (n, d), 'actions': (n,)} and with trajectories=True also "
        "'trajectories' (frames, n, d) and 'times' (frames,), from Tmax down to Tmin.");
  m.def("nll", &nll_py, py::arg("score"), py::arg("points"), py::arg("schedule") = "simple",
        py::arg("rtol") = 1e-5, py::arg("atol") = py::none(), py::arg("wkb") = true,
        py::arg("eta") = py::none(), py::arg("paths") = 8, py::arg("eta_steps") = 256,
        py::arg("seed") = 0, py::arg("threads") = 0,
        "NLL of the probability-flow ODE per point (nats) and the exact WKB coefficient c "
        "(log q^eta = log q^0 + eta c + O(eta^2)), with tenfold-tighter error estimates and ok "
        "flags; with eta (a number or a list), log q^eta per point (n, len(eta)) of the "
        "eta-sampler itself and the curve {'eta': {eta: {mean, se, mc_se, bias, err}}} over the "
        "'eta_n' points finite at every eta.");
  m.def("kl", &kl_py, py::arg("score"), py::arg("exact"), py::arg("schedule"), py::arg("data"),
        py::arg("steps") = 200, py::arg("seed") = 0, py::arg("threads") = 0,
        "The path-integral KL bound E_P[A_theta - A] by actions and by the loss formula, each "
        "with its standard error.");
  m.def("w2", [](const Array& a, const Array& b) {
          const Points pa = to_points(a, "w2"), pb = to_points(b, "w2");
          py::gil_scoped_release release;
          return w2_squared(pa, pb);
        }, py::arg("a"), py::arg("b"), "Exact squared 2-Wasserstein distance between two point sets.");
  m.def("train", &train_py, py::arg("data") = "swissroll", py::arg("schedule") = "simple",
        py::arg("steps") = 1000, py::arg("batch") = 512, py::arg("lr") = 1e-3,
        py::arg("hidden") = std::vector<int>{128, 128, 128}, py::arg("seed") = 0,
        py::arg("n_data") = 3000, py::arg("threads") = 0,
        "Trains an MLP score network by denoising score matching; returns the Mlp.");
  m.def("gaussian_truth", [](double mean, double var, double eps, double delta, int d,
                             const py::object& schedule, double eta) {
          return gaussian_nll({d, mean, var, eps, delta}, schedule_of(schedule), eta);
        }, py::arg("m") = 0.0, py::arg("v") = 1.0, py::arg("eps") = 0.0, py::arg("delta") = 0.0,
        py::arg("d") = 1, py::arg("schedule") = "simple", py::arg("eta") = 0.0,
        "Closed-form NLL(eta) for Gaussian data N(m, v I) and the linear score with errors eps, delta.");
}

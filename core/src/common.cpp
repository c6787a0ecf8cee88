#include "diffpath/common.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace diffpath {

double parse_number(const std::string& text, const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v))
    throw Error(what + ": '" + text + "' is not a finite number");
  return v;
}

std::string format_number(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

Spec Spec::parse(const std::string& text) {
  Spec s;
  const auto colon = text.find(':');
  s.name = text.substr(0, colon);
  if (colon == std::string::npos) return s;
  s.rest = text.substr(colon + 1);
  // "k=v,k=v": only parsed as arguments when every comma-separated part has an '='; otherwise
  // rest is a raw argument (a path) and args stays empty.
  std::map<std::string, std::string> args;
  size_t start = 0;
  while (start <= s.rest.size()) {
    const size_t comma = std::min(s.rest.find(',', start), s.rest.size());
    const std::string part = s.rest.substr(start, comma - start);
    const auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0) return s;
    args[part.substr(0, eq)] = part.substr(eq + 1);
    start = comma + 1;
  }
  s.args = std::move(args);
  return s;
}

double Spec::number(const std::string& key, double fallback) const {
  const auto it = args.find(key);
  return it == args.end() ? fallback : parse_number(it->second, name + " argument " + key);
}

void Spec::expect_keys(std::initializer_list<const char*> allowed) const {
  if (args.empty() && !rest.empty())
    throw Error("'" + name + ":" + rest + "': expected key=value arguments");
  for (const auto& [key, value] : args) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      throw Error("'" + name + "' has no argument '" + key + "' (known: " + list + ")");
    }
  }
}

}  // namespace diffpath

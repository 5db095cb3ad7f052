//===- Cli.cpp - Option declarations and the values they take -------------===//
#include "Cli.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace birkhoff::tools::cli {

UsageError::UsageError(const std::string &message)
    : CLI::ParseError("UsageError", message, 2) {}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

std::string rangeText(int64_t min, int64_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::optional<int64_t> parseInt(const std::string &text, int64_t min,
                                int64_t max) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno || *end || v < min || v > max)
    return std::nullopt;
  return int64_t(v);
}

Expected<std::vector<int64_t>> parseIntList(const std::string &text,
                                            int64_t min, int64_t max) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::optional<int64_t> v = parseInt(item, min, max);
    if (!v)
      return invalidArgument("'" + item + "' in '" + text +
                             "' is not an integer in " + rangeText(min, max));
    out.push_back(*v);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

namespace {

std::string realText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string realRangeText(RealRange r) {
  return (r.minOpen ? "(" : "[") + realText(r.min) + ", " + realText(r.max) +
         "]";
}

/// `text` as a finite number in `range`; nullopt when it is not one. strtod
/// takes "nan" and "inf", which no option means.
std::optional<double> parseReal(const std::string &text, RealRange range) {
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno || end == text.c_str() || *end || !std::isfinite(v) ||
      v < range.min || v > range.max || (range.minOpen && v == range.min))
    return std::nullopt;
  return v;
}

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

/// "-o,--output FILE" -> names "-o,--output", value name "FILE", and the name
/// messages use, "--output" (the long one: what the help and docs show).
struct Spec {
  std::string names, valueName, name;
};

Spec splitSpec(const std::string &spec) {
  Spec s;
  size_t space = spec.find(' ');
  s.names = spec.substr(0, space);
  if (space != std::string::npos)
    s.valueName = spec.substr(space + 1);
  size_t dashes = s.names.rfind("--");
  s.name = s.names.substr(dashes == std::string::npos ? 0 : dashes);
  s.name = s.name.substr(0, s.name.find(','));
  return s;
}

/// A CLI11 validator of `check`'s. It throws rather than return the message:
/// CLI11 would print "--name: " before it.
CLI::Validator validator(Check check, const std::string &description) {
  return CLI::Validator(
      [check = std::move(check)](std::string &text) {
        if (std::string error = check(text); !error.empty())
          throw UsageError(error);
        return std::string();
      },
      description);
}

/// The one way every valued option is declared. `check` returns the error
/// message for a text it refuses ("" for one it takes) and runs, as a CLI11
/// validator, when the command line is parsed; `store` then reads the checked
/// text into the variable. `range` is what the help shows as the range.
CLI::Option *addValued(CLI::App &app, const Spec &spec, const std::string &help,
                       const std::string &range, const std::string &defaultText,
                       Check check,
                       std::function<void(const std::string &)> store) {
  CLI::Option *opt =
      app.add_option_function<std::string>(spec.names, std::move(store), help);
  // The help formatter reads the range from the type name, which CLI11 builds
  // from the validators' descriptions; no type of ours goes before them.
  opt->type_name("");
  opt->option_text(spec.valueName);
  opt->default_str(defaultText);
  opt->check(validator(std::move(check), range));
  return opt;
}

Check intCheck(const std::string &name, int64_t min, int64_t max) {
  return [=](const std::string &text) -> std::string {
    if (parseInt(text, min, max))
      return "";
    return name + " expects an integer in " + rangeText(min, max) + ", got '" +
           text + "'";
  };
}

Check realCheck(const std::string &name, RealRange range) {
  return [=](const std::string &text) -> std::string {
    if (parseReal(text, range))
      return "";
    return name + " expects a finite number in " + realRangeText(range) +
           ", got '" + text + "'";
  };
}

std::string joined(const std::vector<std::string> &items, const char *sep) {
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : sep) + item;
  return out;
}

Check choiceCheck(const std::string &name,
                  const std::vector<std::string> &choices) {
  return [=](const std::string &text) -> std::string {
    for (const std::string &c : choices)
      if (text == c)
        return "";
    return name + " expects " + joined(choices, "|") + ", got '" + text + "'";
  };
}

} // namespace

CLI::Option *addInt(CLI::App &app, const std::string &spec, int64_t &value,
                    int64_t min, int64_t max, const std::string &help,
                    const std::string &defaultText) {
  Spec s = splitSpec(spec);
  return addValued(app, s, help, "range " + rangeText(min, max),
                   defaultText.empty() ? std::to_string(value) : defaultText,
                   intCheck(s.name, min, max),
                   [&value, min, max](const std::string &t) {
                     value = *parseInt(t, min, max);
                   });
}

CLI::Option *addInt(CLI::App &app, const std::string &spec,
                    std::optional<int64_t> &value, int64_t min, int64_t max,
                    const std::string &help, const std::string &defaultText) {
  Spec s = splitSpec(spec);
  return addValued(app, s, help, "range " + rangeText(min, max), defaultText,
                   intCheck(s.name, min, max),
                   [&value, min, max](const std::string &t) {
                     value = *parseInt(t, min, max);
                   });
}

CLI::Option *addReal(CLI::App &app, const std::string &spec, double &value,
                     RealRange range, const std::string &help,
                     const std::string &defaultText) {
  Spec s = splitSpec(spec);
  return addValued(
      app, s, help, "range " + realRangeText(range),
      defaultText.empty() ? realText(value) : defaultText,
      realCheck(s.name, range),
      [&value, range](const std::string &t) { value = *parseReal(t, range); });
}

CLI::Option *addReal(CLI::App &app, const std::string &spec,
                     std::optional<double> &value, RealRange range,
                     const std::string &help, const std::string &defaultText) {
  Spec s = splitSpec(spec);
  return addValued(
      app, s, help, "range " + realRangeText(range), defaultText,
      realCheck(s.name, range),
      [&value, range](const std::string &t) { value = *parseReal(t, range); });
}

CLI::Option *addIntList(CLI::App &app, const std::string &spec,
                        std::vector<int64_t> &value, int64_t min, int64_t max,
                        const std::string &help, bool allowEmpty) {
  Spec s = splitSpec(spec);
  auto read = [=](const std::string &text) -> Expected<std::vector<int64_t>> {
    if (allowEmpty && text.empty())
      return std::vector<int64_t>();
    return parseIntList(text, min, max);
  };
  return addValued(
      app, s, help, "each item in " + rangeText(min, max), "none",
      [read, name = s.name](const std::string &text) -> std::string {
        Expected<std::vector<int64_t>> list = read(text);
        return list ? "" : name + ": " + list.status().message();
      },
      [read, &value](const std::string &text) { value = *read(text); });
}

CLI::Option *addChoice(CLI::App &app, const std::string &spec,
                       std::string &value,
                       const std::vector<std::string> &choices,
                       const std::string &help) {
  Spec s = splitSpec(spec + " " + joined(choices, "|"));
  return addValued(app, s, help, "", value, choiceCheck(s.name, choices),
                   [&value](const std::string &t) { value = t; });
}

CLI::Option *addChoice(CLI::App &app, const std::string &spec,
                       std::optional<std::string> &value,
                       const std::vector<std::string> &choices,
                       const std::string &help,
                       const std::string &defaultText) {
  Spec s = splitSpec(spec + " " + joined(choices, "|"));
  return addValued(app, s, help, "", defaultText, choiceCheck(s.name, choices),
                   [&value](const std::string &t) { value = t; });
}

CLI::Option *addText(CLI::App &app, const std::string &spec, std::string &value,
                     const std::string &help, const std::string &defaultText,
                     Check check) {
  if (!check)
    check = [](const std::string &) { return std::string(); };
  return addValued(app, splitSpec(spec), help, "",
                   !defaultText.empty() ? defaultText
                   : value.empty()      ? "none"
                                        : value,
                   std::move(check),
                   [&value](const std::string &t) { value = t; });
}

CLI::Option *addText(CLI::App &app, const std::string &spec,
                     std::optional<std::string> &value, const std::string &help,
                     const std::string &defaultText) {
  return addValued(
      app, splitSpec(spec), help, "", defaultText,
      [](const std::string &) { return std::string(); },
      [&value](const std::string &t) { value = t; });
}

CLI::Option *addFlag(CLI::App &app, const std::string &spec, bool &value,
                     const std::string &help) {
  CLI::Option *opt = app.add_flag(splitSpec(spec).names, value, help);
  // `--flag=value` is an error, not a way to turn it off.
  opt->disable_flag_override();
  opt->default_str("off");
  return opt;
}

CLI::Option *addPositional(CLI::App &app, const std::string &name,
                           std::string &value, const std::string &help,
                           bool required) {
  CLI::Option *opt = app.add_option(name, value, help);
  opt->type_name("");
  opt->required(required);
  return opt;
}

CLI::Option *alsoCheck(CLI::Option *opt, Check check) {
  return opt->check(validator(std::move(check), ""));
}

CLI::Option *addDevice(CLI::App &app, std::string &value) {
  // Model::load's grammar; checked here too so that a typo is a usage error
  // before anything loads.
  auto check = [](const std::string &text) -> std::string {
    if (text == "host" || text == "cuda")
      return "";
    const std::string ordinal =
        text.rfind("cuda:", 0) == 0 ? text.substr(5) : std::string();
    if (!ordinal.empty() && ordinal.size() <= 4 &&
        ordinal.find_first_not_of("0123456789") == std::string::npos)
      return "";
    return "--device expects host, cuda or cuda:N, got '" + text + "'";
  };
  return addText(app, "--device host|cuda|cuda:N", value,
                 "where to run: `cuda` (device 0) or `cuda:N` needs an "
                 "artifact compiled with --target cuda and a GPU",
                 "host", check);
}

} // namespace birkhoff::tools::cli

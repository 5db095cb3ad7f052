//===- CliHelp.cpp - The help text of `birkhoff` and its commands ---------===//
#include "CliHelp.h"

#include <cstdio>
#include <vector>

namespace birkhoff::tools::cli {
namespace {

constexpr size_t kHelpWidth = 80;
/// Where an option's description starts in its help line.
constexpr size_t kHelpColumn = 30;

/// `text` broken into lines of at most `width` characters at spaces.
std::vector<std::string> wrap(const std::string &text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    std::string word = text.substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    if (word.empty())
      continue;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty())
    lines.push_back(line);
  return lines;
}

/// `text`'s lines, each wrapped to the help's width.
std::string paragraphs(const std::string &text) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    for (const std::string &l : wrap(line, kHelpWidth))
      out += l + "\n";
    if (line.empty())
      out += "\n";
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return out;
}

/// "  NAMES   description", then "default: ...; range [...]" below it.
std::string optionHelp(const CLI::Option *o, const std::string &names) {
  std::vector<std::string> lines =
      wrap(o->get_description(), kHelpWidth - kHelpColumn);
  std::string notes;
  if (o->get_required())
    notes = "required";
  else if (!o->get_default_str().empty())
    notes = "default: " + o->get_default_str();
  // The validators' descriptions: the range (Cli.cpp sets no type name).
  std::string range = o->get_type_name();
  if (!range.empty() && range[0] == ':')
    range.erase(0, 1);
  if (!range.empty())
    notes += (notes.empty() ? "" : "; ") + range;
  if (!notes.empty())
    for (const std::string &l : wrap(notes, kHelpWidth - kHelpColumn))
      lines.push_back(l);
  std::string out = "  " + names;
  if (out.size() + 2 > kHelpColumn) {
    out += "\n";
    out.append(kHelpColumn, ' ');
  } else {
    out.append(kHelpColumn - out.size(), ' ');
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0)
      out.append(kHelpColumn, ' ');
    out += lines[i] + "\n";
  }
  if (lines.empty())
    out += "\n";
  return out;
}

} // namespace

std::string HelpFormatter::usageText() const {
  std::string out;
  size_t pos = 0;
  while (pos < usage_.size()) {
    size_t end = usage_.find('\n', pos);
    out += (pos == 0 ? "usage: " : "       ") +
           usage_.substr(pos, end == std::string::npos ? std::string::npos
                                                       : end - pos) +
           "\n";
    pos = end == std::string::npos ? usage_.size() : end + 1;
  }
  return out;
}

std::string HelpFormatter::make_help(const CLI::App *app, std::string,
                                     CLI::AppFormatMode) const {
  std::string out = usageText();
  if (!about_.empty())
    out += "\n" + paragraphs(about_);
  std::vector<const CLI::App *> commands = app->get_subcommands({});
  if (!commands.empty()) {
    out += "\ncommands:\n";
    for (const CLI::App *c : commands) {
      char line[256];
      std::snprintf(line, sizeof(line), "  %-14s %s\n", c->get_name().c_str(),
                    c->get_description().c_str());
      out += line;
    }
  }
  std::vector<const CLI::Option *> positionals = app->get_options(
      [](const CLI::Option *o) { return o->get_positional(); });
  if (!positionals.empty())
    out += "\narguments:\n";
  for (const CLI::Option *o : positionals)
    out += optionHelp(o, "<" + o->get_name() + ">");
  out += "\noptions:\n";
  for (const CLI::Option *o : app->get_options(
           [](const CLI::Option *o) { return o->nonpositional(); })) {
    std::string names = o->get_name(false, true);
    for (size_t comma = 0;
         (comma = names.find(',', comma)) != std::string::npos; comma += 2)
      names.replace(comma, 1, ", ");
    if (!o->get_option_text().empty())
      names += " " + o->get_option_text();
    out += optionHelp(o, names);
  }
  if (!app->get_footer().empty())
    out += "\n" + app->get_footer() + "\n";
  return out;
}

} // namespace birkhoff::tools::cli
